//! Step 1: a telemetry batch decoded, each sample with its record, race and car.

use std::collections::{BTreeMap, HashMap};

use burnbar_core::CarId;
use burnbar_core::contract::Record;
use burnbar_core::decode::decode_line;
use burnbar_core::race::{self, UNKNOWN_RACE};
use burnbar_lambda::InRecord;
use burnbar_metrics::MetricSet;
use tokio::time::Instant;

use super::Processor;
use crate::commit::store_error;
use crate::handler::{Records, is_blank, lines};
use crate::ports::{CarStore, Predictor, Publisher, Quarantine, RaceStore};
use crate::race::CarSample;

/// One sample of the batch and where it came from.
pub(super) struct BatchSample {
    /// Its record (index in the batch).
    pub rec: usize,
    /// Its line in the record.
    pub line_no: usize,
    /// Where the line is in the record's data (start, end): found again without
    /// splitting the record (a rejection late in the steps quotes it).
    pub span: (usize, usize),
    /// Index of the race in the batch's list of race names (few distinct ones per
    /// batch: one string each, not one per sample).
    pub race: usize,
    pub car: CarId,
    pub sample: CarSample,
}

/// The most samples whose list a thread keeps for its next batch: a full 6 MB Lambda
/// batch of real telemetry holds about 20,000; a batch of unusually short lines may hold
/// more, and its list is then freed rather than kept for the life of the function.
pub(super) const SAMPLES_KEPT_MAX: usize = 65_536;

thread_local! {
    /// The sample list of the last batch on this thread, empty, for the next
    /// ([`Batch::decode`]); given back when the batch is dropped.
    static SAMPLES: std::cell::RefCell<Vec<BatchSample>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Drop for Batch<'_, '_> {
    fn drop(&mut self) {
        let mut samples = std::mem::take(&mut self.samples);
        if samples.capacity() > SAMPLES_KEPT_MAX {
            return;
        }
        samples.clear();
        SAMPLES.with_borrow_mut(|slot| {
            if slot.capacity() < samples.capacity() {
                *slot = samples;
            }
        });
    }
}

/// Sample indices by race name, then car (each car's in arrival order).
pub(super) type Groups = BTreeMap<String, BTreeMap<CarId, Vec<usize>>>;

/// A telemetry batch on its way through the steps.
pub(super) struct Batch<'r, 'a> {
    /// The records, and what became of each.
    pub records: Records<'r, 'a>,
    /// Every sample decoded, in arrival order.
    pub samples: Vec<BatchSample>,
    /// The races the samples name, each once; `None` stands for the current race
    /// until it is known.
    names: Vec<Option<String>>,
}

impl<'r, 'a> Batch<'r, 'a> {
    /// Decodes every line of every record: samples are kept, anything else is
    /// quarantined with its reason (an event on this stream, a line the contract refuses,
    /// a sample stamped past the wall clock `now_ms` by more than
    /// [`race::CLOCK_FUTURE_MS`]: it would otherwise become its race's newest `ts`).
    pub fn decode(records: &'r [InRecord<'a>], now_ms: i64, m: &mut MetricSet) -> Self {
        let mut out = Records::new(records);
        // The list the last batch on this thread left (empty): grown by doubling afresh,
        // it would cost one more allocation for each doubling of the samples, and the
        // handler's allocations are per event, record, car and window, never per sample
        // (issue 18; tests/alloc_per_sample.rs). Sizing it by counting the records'
        // newlines first was one more pass over the data (0.3-0.6 ms of the handler
        // bench's 6 MB event); kept warm, as the event decoder keeps its arena, a warm
        // function neither counts nor allocates it.
        let mut samples = SAMPLES.with_borrow_mut(std::mem::take);
        samples.clear();
        let mut race_ids = RaceIds::default();
        let mut lines_in = 0;
        for (ri, r) in records.iter().enumerate() {
            for (li, line) in lines(r.data).enumerate() {
                if is_blank(line) {
                    continue;
                }
                lines_in += 1;
                match decode_line(line) {
                    Ok(Record::Sample(s)) => match race::admit_by_clock(s.ts, now_ms) {
                        Ok(()) => samples.push(BatchSample {
                            rec: ri,
                            line_no: li,
                            span: {
                                let at = line.as_ptr() as usize - r.data.as_ptr() as usize;
                                (at, at + line.len())
                            },
                            race: race_ids.index_of(s.race_id.as_deref()),
                            car: s.car,
                            sample: CarSample { ts: s.ts, ch: s.ch },
                        }),
                        Err(rej) => out.reject(ri, li, line, &rej),
                    },
                    Ok(Record::Event(e)) => out.quarantine(
                        ri,
                        li,
                        line,
                        "wrong_stream",
                        Some("kind"),
                        &format!(
                            "a race-control event ({}) on the telemetry stream: send it to the race-control stream",
                            e.kind.name()
                        ),
                    ),
                    Err(rej) => out.reject(ri, li, line, &rej),
                }
            }
        }
        m.count("records_in_total", lines_in);
        Batch {
            records: out,
            samples,
            names: race_ids.ids,
        }
    }

    /// The line of sample `i`, as received.
    pub fn line(&self, i: usize) -> &'a [u8] {
        let p = &self.samples[i];
        &self.records.records[p.rec].data[p.span.0..p.span.1]
    }

    /// Quarantines the line of sample `i` with this reason.
    pub fn reject_sample(&mut self, i: usize, code: &str, field: Option<&str>, detail: &str) {
        let (rec, line_no, line) = (self.samples[i].rec, self.samples[i].line_no, self.line(i));
        self.records
            .quarantine(rec, line_no, line, code, field, detail);
    }

    /// The samples at `idxs` (one car's), in order.
    pub fn car_samples(&self, idxs: &[usize]) -> Vec<CarSample> {
        idxs.iter().map(|&i| self.samples[i].sample).collect()
    }

    /// Fails the records of these samples.
    pub fn fail_samples<'i>(&mut self, idxs: impl IntoIterator<Item = &'i usize>) {
        for &i in idxs {
            self.records.fail(self.samples[i].rec);
        }
    }

    /// Groups the samples by race name, then car. Each race index's group is found in
    /// the map's order: the current race may also be named by some records, and both
    /// are one group.
    pub fn group(&self) -> Groups {
        let mut groups: Groups = self
            .names
            .iter()
            .flatten()
            .map(|n| (n.clone(), BTreeMap::new()))
            .collect();
        let group_of: Vec<Option<usize>> = self
            .names
            .iter()
            .map(|n| n.as_ref().map(|n| groups.range::<String, _>(..n).count()))
            .collect();
        let mut slots: Vec<&mut BTreeMap<CarId, Vec<usize>>> = groups.values_mut().collect();
        // A record's samples are mostly one car's, in a row: one map lookup per run of
        // them, not per sample (the lookups were 3 % of the handler's profile). Each
        // car's list is allocated once at its size (counted first), not grown sample by
        // sample: per car, not per doubling of its samples.
        let runs = || {
            self.samples
                .chunk_by(|a, b| a.race == b.race && a.car == b.car)
        };
        let mut counts: Vec<BTreeMap<CarId, usize>> = vec![BTreeMap::new(); slots.len()];
        for run in runs() {
            let g = group_of[run[0].race].expect("race resolved");
            *counts[g].entry(run[0].car).or_default() += run.len();
        }
        for (slot, counts) in slots.iter_mut().zip(counts) {
            for (car, n) in counts {
                slot.insert(car, Vec::with_capacity(n));
            }
        }
        let mut start = 0;
        for run in runs() {
            let g = group_of[run[0].race].expect("race resolved");
            slots[g]
                .entry(run[0].car)
                .or_default()
                .extend(start..start + run.len());
            start += run.len();
        }
        groups
    }
}

impl<S, P, W, Q> Processor<S, P, W, Q>
where
    S: CarStore + RaceStore,
    P: Predictor,
    W: Publisher,
    Q: Quarantine,
{
    /// Names the current race for the samples without a `race_id`; if it cannot be
    /// read, their records fail and the samples are left out.
    pub(super) async fn name_current_race(
        &self,
        batch: &mut Batch<'_, '_>,
        deadline: Instant,
        m: &mut MetricSet,
    ) {
        let Some(cur_at) = batch.names.iter().position(Option::is_none) else {
            return;
        };
        match self.current_race(deadline).await {
            Ok(cur) => {
                batch.names[cur_at] = Some(cur.unwrap_or_else(|| UNKNOWN_RACE.to_owned()));
            }
            Err(e) => {
                store_error(m, "current race", &e);
                for p in batch.samples.iter().filter(|p| p.race == cur_at) {
                    batch.records.fail(p.rec);
                }
                batch.samples.retain(|p| p.race != cur_at);
            }
        }
    }
}

/// The race ids a batch names, each once; `None` stands for the current race.
#[derive(Default)]
struct RaceIds {
    ids: Vec<Option<String>>,
    index: HashMap<Option<String>, usize>,
    last: Option<usize>,
}

impl RaceIds {
    fn index_of(&mut self, id: Option<&str>) -> usize {
        if let Some(i) = self.last
            && self.ids[i].as_deref() == id
        {
            return i;
        }
        let key = id.map(str::to_owned);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.ids.push(key.clone());
                self.index.insert(key, self.ids.len() - 1);
                self.ids.len() - 1
            }
        };
        self.last = Some(i);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_ids_are_kept_once_each() {
        let mut ids = RaceIds::default();
        let seq = [
            Some("a"),
            Some("a"),
            None,
            Some("b"),
            Some("a"),
            None,
            Some("b"),
        ];
        let got: Vec<usize> = seq.iter().map(|id| ids.index_of(*id)).collect();
        assert_eq!(got, [0, 0, 1, 2, 0, 1, 2]);
        assert_eq!(ids.ids, [Some("a".into()), None, Some("b".into())]);
    }

    /// Grouping by runs of one race's car gives each car every one of its samples, in
    /// arrival order, however the records interleave cars and races.
    #[test]
    fn groups_hold_every_sample_of_each_car_in_order() {
        let line = |race: &str, car: &str, ts: i64| {
            format!(
                r#"{{"v":1,"race_id":"{race}","car":"{car}","ts":{ts},"lap":0,"lap_frac":0.5,"speed_mph":175.9,"rpm":8357,"throttle_pct":100.0,"brake_psi":0,"gear":5,"gap_ahead_s":0.58,"in_pit":false}}"#
            )
        };
        let plan = [
            ("r1", "1"),
            ("r1", "1"),
            ("r1", "2"),
            ("r2", "2"),
            ("r2", "2"),
            ("r1", "1"),
            ("r1", "3"),
            ("r1", "2"),
        ];
        // Two records: the second starts mid-run (r1/1 in both).
        let lines: Vec<String> = plan
            .iter()
            .enumerate()
            .map(|(i, (r, c))| line(r, c, 1_750_593_660_000 + 100 * i as i64))
            .collect();
        let data = [lines[..6].join("\n"), lines[6..].join("\n")];
        let records: Vec<InRecord> = data
            .iter()
            .enumerate()
            .map(|(i, d)| InRecord::new(["1", "2"][i], d.as_bytes()))
            .collect();
        let mut m = MetricSet::new("t", &[]);
        let batch = Batch::decode(&records, i64::MAX / 2, &mut m);
        assert_eq!(batch.samples.len(), plan.len());
        let groups = batch.group();
        let car = |c: &str| CarId::parse(c).unwrap();
        let want: Groups = [
            (
                "r1".to_owned(),
                [
                    (car("1"), vec![0, 1, 5]),
                    (car("2"), vec![2, 7]),
                    (car("3"), vec![6]),
                ]
                .into_iter()
                .collect(),
            ),
            (
                "r2".to_owned(),
                [(car("2"), vec![3, 4])].into_iter().collect(),
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(groups, want);
    }

    /// A warm thread decodes a batch's samples into the list the last batch left (no
    /// pass to count lines, no allocation of it again); a list grown past
    /// [`SAMPLES_KEPT_MAX`] is freed with its batch, not kept for the life of the
    /// function.
    #[test]
    fn a_thread_reuses_its_sample_list_and_frees_one_over_the_limit() {
        let data = |n: usize| {
            (0..n)
                .map(|i| {
                    format!(
                        r#"{{"v":1,"race_id":"r","car":"{}","ts":{},"lap":0,"lap_frac":0.5,"speed_mph":175.9,"rpm":8357,"throttle_pct":100.0,"brake_psi":0,"gear":5,"gap_ahead_s":0.58,"in_pit":false}}"#,
                        1 + i % 40,
                        1_750_593_660_000 + i as i64
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let decode = |d: &str| {
            let records = [InRecord::new("1", d.as_bytes())];
            let mut m = MetricSet::new("t", &[]);
            let batch = Batch::decode(&records, i64::MAX / 2, &mut m);
            (batch.samples.len(), batch.samples.capacity())
        };
        let small = data(1_000);
        let (n, cap) = decode(&small);
        assert_eq!(n, 1_000);
        // The second batch finds the first one's list: the same capacity, not grown anew.
        assert_eq!(decode(&small), (1_000, cap));
        SAMPLES.with_borrow(|slot| assert_eq!(slot.capacity(), cap));
        // A batch over the limit decodes whole, and its list is not kept.
        let big = data(SAMPLES_KEPT_MAX + 1);
        let (n, big_cap) = decode(&big);
        assert_eq!(n, SAMPLES_KEPT_MAX + 1);
        assert!(big_cap > SAMPLES_KEPT_MAX);
        SAMPLES.with_borrow(|slot| assert!(slot.capacity() <= SAMPLES_KEPT_MAX));
    }
}

//! The converter: feed files in, race-control events out.
//!
//! [`Converter`] holds everything a feed does not repeat: what was emitted, the stops
//! whose `pit_out` waits for its pit data, the cars that are out, the race's clock. It
//! does no I/O and reads no clock of its own: every call takes `now_ms`, the caller's
//! clock, used only to time the wait for pit data. Its output depends on the files and
//! their order alone (and, for a `pit_out` emitted without its pit data, on `now_ms`).
//!
//! Pit data and flag data name no race: they are kept as the latest of each and read as
//! the race of the latest snapshot.
//!
//! One file per job: `race` (one race's state and a snapshot's reading), `flags`
//! (flag changes and stage ends), `pits` (stops and the wait for pit data).

mod flags;
mod pits;
mod race;

use std::collections::{BTreeMap, BTreeSet};

use burnbar_core::CarId;
use serde::Serialize;

use crate::event::RcEvent;
use crate::wire::{FeedFile, FlagRecord, Lenient, PitRecord, Snapshot, ms};
use race::RaceConv;

/// The converter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    /// How long a `pit_out` waits for its stop's pit data before it is emitted without
    /// `tires` and `box_s`. 15 s: the official pit data usually follows the snapshot
    /// that shows the car out within a few polls.
    pub pit_data_wait_ms: i64,
    /// Put before NASCAR's numeric race id to make the contract's `race_id`.
    pub race_id_prefix: String,
    /// Flag data entries later than the newest snapshot by more than this wait for a
    /// snapshot to catch up (flag data name no race: a list that runs far ahead of the
    /// race's snapshots is another race's).
    pub flag_lead_ms: i64,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            pit_data_wait_ms: 15_000,
            race_id_prefix: "nascar-".into(),
            flag_lead_ms: 300_000,
        }
    }
}

/// What the converter read, skipped and emitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FeedCounters {
    pub files: u64,
    pub snapshots: u64,
    /// Older than the newest snapshot of their race, or of a race already over: skipped.
    pub snapshots_stale: u64,
    /// The race's clock had not started (elapsed time 0): nothing to say yet.
    pub snapshots_before_start: u64,
    /// Files not read, by reason.
    pub malformed: BTreeMap<String, u64>,
    pub vehicles_skipped: u64,
    pub pit_records: u64,
    pub pit_records_skipped: u64,
    pub flag_records: u64,
    pub flag_records_skipped: u64,
    /// Events emitted, by kind.
    pub events: BTreeMap<&'static str, u64>,
    pub pit_outs_with_data: u64,
    /// Emitted after the wait, or at the end, without `tires` and `box_s`.
    pub pit_outs_without_data: u64,
    /// Flag codes seen that the converter does not know: no event, by code.
    pub unknown_flag_codes: BTreeMap<i64, u64>,
    /// Running statuses seen that the converter does not know, by code.
    pub unknown_status_codes: BTreeMap<i64, u64>,
    /// Races whose track is not in the track table (they run on its defaults).
    pub unknown_tracks: u64,
    pub races: u64,
}

/// Key of a stop: the car and its pit-in race time, ms (the same number in the snapshot
/// and in the pit data).
pub(crate) type StopKey = (CarId, i64);

/// What one call produced, and the state it works on.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a FeedConfig,
    pub now: i64,
    pub pit_data: &'a BTreeMap<StopKey, PitRecord>,
    pub flag_data: &'a [FlagRecord],
    pub counters: &'a mut FeedCounters,
    pub reports: &'a mut Vec<String>,
    pub out: &'a mut Vec<RcEvent>,
}

/// Official-feed files to `telemetry-v1` race-control events.
#[derive(Debug, Clone, Default)]
pub struct Converter {
    cfg: FeedConfig,
    race: Option<RaceConv>,
    /// NASCAR race ids of races left for a newer one: their snapshots are stale.
    finished: BTreeSet<i64>,
    pit_data: BTreeMap<StopKey, PitRecord>,
    /// The latest flag data, in race-time order.
    flag_data: Vec<FlagRecord>,
    counters: FeedCounters,
    reports: Vec<String>,
}

impl Converter {
    pub fn new(cfg: FeedConfig) -> Converter {
        Converter {
            cfg,
            ..Converter::default()
        }
    }

    pub fn counters(&self) -> &FeedCounters {
        &self.counters
    }

    /// Things an operator should hear of (a malformed file, an unknown code or track),
    /// each once, since the last call.
    pub fn take_reports(&mut self) -> Vec<String> {
        std::mem::take(&mut self.reports)
    }

    /// The contract's `race_id` of the race under way, once a snapshot named it.
    pub fn race_id(&self) -> Option<&str> {
        self.race.as_ref().map(|r| r.race_id.as_str())
    }

    /// NASCAR's numeric race id and series of the race under way.
    pub fn feed_race(&self) -> Option<(i64, Option<i64>)> {
        self.race.as_ref().map(|r| (r.feed_id, r.series_id))
    }

    /// Reads one file of the feed; a malformed one is counted, reported and skipped.
    pub fn push_file(&mut self, bytes: &[u8], now_ms: i64) -> Vec<RcEvent> {
        self.counters.files += 1;
        match FeedFile::parse(bytes) {
            Ok(file) => self.push(&file, now_ms),
            Err(m) => {
                self.malformed(m.code, &m.detail);
                Vec::new()
            }
        }
    }

    /// Takes one parsed file.
    pub fn push(&mut self, file: &FeedFile, now_ms: i64) -> Vec<RcEvent> {
        match file {
            FeedFile::Snapshot(s) => self.push_snapshot(s, now_ms),
            FeedFile::PitData(p) => self.push_pit_data(p, now_ms),
            FeedFile::FlagData(f) => self.push_flag_data(f, now_ms),
            FeedFile::Empty => Vec::new(),
        }
    }

    /// Takes a snapshot: the race as it stands at its elapsed time.
    pub fn push_snapshot(&mut self, snap: &Snapshot, now_ms: i64) -> Vec<RcEvent> {
        self.counters.snapshots += 1;
        self.counters.vehicles_skipped += snap.vehicles.skipped.len() as u64;
        if self.finished.contains(&snap.race_id) {
            self.counters.snapshots_stale += 1;
            return Vec::new();
        }
        let mut done = Vec::new();
        if self
            .race
            .as_ref()
            .is_some_and(|r| r.feed_id != snap.race_id)
        {
            // A new race: the one before it is over.
            done = self.finish();
            if let Some(old) = self.race.take() {
                self.finished.insert(old.feed_id);
            }
        }
        if self.race.is_none() {
            let id = format!("{}{}", self.cfg.race_id_prefix, snap.race_id);
            self.race = Some(RaceConv::new(snap.race_id, snap.series_id, id));
            self.counters.races += 1;
        }
        let mut out = Vec::new();
        self.with_race(now_ms, &mut out, |race, ctx| race.snapshot(snap, ctx));
        done.extend(finish_batch(&mut self.counters, out));
        done
    }

    /// Takes the pit data (the whole list the feed serves; entries replace those of the
    /// same stop).
    pub fn push_pit_data(&mut self, recs: &Lenient<PitRecord>, now_ms: i64) -> Vec<RcEvent> {
        self.counters.pit_records += recs.items.len() as u64;
        self.counters.pit_records_skipped += recs.skipped.len() as u64;
        for r in &recs.items {
            match CarId::parse(r.vehicle_number.trim()) {
                Ok(car) if r.pit_in_race_time.is_finite() => {
                    self.pit_data
                        .insert((car, ms(r.pit_in_race_time)), r.clone());
                }
                _ => self.counters.pit_records_skipped += 1,
            }
        }
        let mut out = Vec::new();
        self.with_race(now_ms, &mut out, |race, ctx| race.resolve(ctx, false));
        finish_batch(&mut self.counters, out)
    }

    /// Takes the flag data (the whole list the feed serves).
    pub fn push_flag_data(&mut self, recs: &Lenient<FlagRecord>, now_ms: i64) -> Vec<RcEvent> {
        self.counters.flag_records += recs.items.len() as u64;
        self.counters.flag_records_skipped += recs.skipped.len() as u64;
        let mut list: Vec<FlagRecord> = recs
            .items
            .iter()
            .filter(|f| f.elapsed_time.is_finite() && f.elapsed_time >= 0.0)
            .cloned()
            .collect();
        self.counters.flag_records_skipped += (recs.items.len() - list.len()) as u64;
        // Race-time order; entries at one time keep the feed's order.
        list.sort_by_key(|f| ms(f.elapsed_time));
        self.flag_data = list;
        let mut out = Vec::new();
        self.with_race(now_ms, &mut out, |race, ctx| race.apply_flag_data(ctx));
        finish_batch(&mut self.counters, out)
    }

    /// The clock moved: `pit_out`s that waited long enough for their pit data go out
    /// without it.
    pub fn tick(&mut self, now_ms: i64) -> Vec<RcEvent> {
        let mut out = Vec::new();
        self.with_race(now_ms, &mut out, |race, ctx| race.resolve(ctx, false));
        finish_batch(&mut self.counters, out)
    }

    /// End of input: every `pit_out` still waiting goes out, with its pit data if it
    /// came, else without.
    pub fn finish(&mut self) -> Vec<RcEvent> {
        let mut out = Vec::new();
        self.with_race(i64::MAX, &mut out, |race, ctx| race.resolve(ctx, true));
        finish_batch(&mut self.counters, out)
    }

    fn with_race(
        &mut self,
        now: i64,
        out: &mut Vec<RcEvent>,
        f: impl FnOnce(&mut RaceConv, &mut Ctx<'_>),
    ) {
        let Some(race) = self.race.as_mut() else {
            return;
        };
        let mut ctx = Ctx {
            cfg: &self.cfg,
            now,
            pit_data: &self.pit_data,
            flag_data: &self.flag_data,
            counters: &mut self.counters,
            reports: &mut self.reports,
            out,
        };
        f(race, &mut ctx);
    }

    fn malformed(&mut self, code: &str, detail: &str) {
        *self.counters.malformed.entry(code.to_owned()).or_default() += 1;
        self.reports
            .push(format!("feed file skipped ({code}): {detail}"));
    }
}

/// Sorts a call's events into the order they are written and counts them.
fn finish_batch(counters: &mut FeedCounters, mut out: Vec<RcEvent>) -> Vec<RcEvent> {
    out.sort_by_key(RcEvent::sort_key);
    for e in &out {
        *counters.events.entry(e.kind.name()).or_default() += 1;
        match &e.kind {
            crate::event::Kind::PitOut { box_s: Some(_), .. } => counters.pit_outs_with_data += 1,
            crate::event::Kind::PitOut { box_s: None, .. } => counters.pit_outs_without_data += 1,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;

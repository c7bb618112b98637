//! One race's state, and the reading of a snapshot.
//!
//! **The race's clock.** Every event's `ts` is the race's start (an instant fixed once
//! per race) plus the feed's race time. The start is the time of day less the race time
//! of the first flag-data entry after the clock started (exact to the millisecond in the
//! archived files: every entry gives the same start), else of the first snapshot after
//! the clock started (its race time is in whole seconds, so a start taken from a snapshot
//! is up to a second late). Fixed once, the start makes every event's `ts` a function of
//! the feed's own numbers, so the same stop or flag read again, from any snapshot, is the
//! same event with the same key.

use std::collections::{BTreeMap, BTreeSet};

use burnbar_core::CarId;
use burnbar_core::tracks;

use super::flags::Seen;
use super::{Ctx, StopKey};
use crate::event::{Kind, RcEvent};
use crate::wire::{FlagRecord, Snapshot, epoch_ms, ms};

/// A stop, by what has been emitted of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stop {
    /// `pit_in` emitted; the car is on pit road.
    In { lap: Option<u32> },
    /// Out of pit road at `out_ms` (race time): its `pit_out` waits for the pit data
    /// since `since` (the caller's clock).
    Pending {
        lap: Option<u32>,
        out_ms: i64,
        since: i64,
    },
    /// `pit_out` emitted.
    Out,
}

#[derive(Debug, Clone)]
pub(crate) struct RaceConv {
    pub feed_id: i64,
    pub series_id: Option<i64>,
    pub race_id: String,
    /// Epoch ms of the race's race time 0.
    pub(super) anchor: Option<i64>,
    /// Race time of the newest snapshot read, ms.
    pub(super) newest_ms: i64,
    pub(super) started: bool,
    /// The last flag state acted on: its race time and code.
    pub(super) last_flag: Option<(i64, i64)>,
    /// Flag-data entries already read (race time, code).
    pub(super) flags_read: BTreeSet<(i64, i64)>,
    pub(super) stages_ended: BTreeSet<u32>,
    /// Lap each stage ends at, as the snapshots said while it ran.
    pub(super) stage_finish: BTreeMap<u32, u32>,
    pub(super) stops: BTreeMap<StopKey, Stop>,
    pub(super) retired: BTreeSet<CarId>,
    /// Unknown codes already reported: `('f', code)` flags, `('s', code)` statuses.
    pub(super) reported: BTreeSet<(char, i64)>,
}

impl RaceConv {
    pub fn new(feed_id: i64, series_id: Option<i64>, race_id: String) -> RaceConv {
        RaceConv {
            feed_id,
            series_id,
            race_id,
            anchor: None,
            newest_ms: -1,
            started: false,
            last_flag: None,
            flags_read: BTreeSet::new(),
            stages_ended: BTreeSet::new(),
            stage_finish: BTreeMap::new(),
            stops: BTreeMap::new(),
            retired: BTreeSet::new(),
            reported: BTreeSet::new(),
        }
    }

    /// Emits `kind` at race time `t_ms`.
    pub(super) fn emit(&self, ctx: &mut Ctx<'_>, t_ms: i64, kind: Kind) {
        let anchor = self.anchor.expect("events follow the race's start");
        ctx.out.push(RcEvent {
            ts: anchor + t_ms.max(0),
            race_id: self.race_id.clone(),
            kind,
        });
    }

    /// Reads a snapshot of this race.
    pub fn snapshot(&mut self, snap: &Snapshot, ctx: &mut Ctx<'_>) {
        let t = ms(snap.elapsed_time);
        if t < self.newest_ms {
            ctx.counters.snapshots_stale += 1;
            return;
        }
        if t == 0 && !self.started {
            ctx.counters.snapshots_before_start += 1;
            return;
        }
        if self.anchor.is_none() {
            let from_flags = anchor_from_flags(ctx.flag_data);
            let from_snapshot = snap
                .time_of_day_os
                .as_deref()
                .and_then(epoch_ms)
                .map(|e| e - t);
            let Some(anchor) = from_flags.or(from_snapshot) else {
                *ctx.counters
                    .malformed
                    .entry("no_time_of_day".into())
                    .or_default() += 1;
                ctx.reports.push(format!(
                    "race {}: snapshot at {} s has no readable time_of_day_os to place the \
                     race in time: skipped",
                    self.race_id, snap.elapsed_time
                ));
                return;
            };
            self.anchor = Some(anchor);
        }
        self.newest_ms = t;
        if !self.started {
            self.started = true;
            self.race_start(snap, ctx);
        }
        self.apply_flag_data(ctx);
        self.observe_flag(t, snap.flag_state, snap.lap_number, Seen::Snapshot, ctx);
        self.stages(snap, t, ctx);
        let mut vehicles: Vec<_> = snap.vehicles.items.iter().collect();
        vehicles.sort_by(|a, b| a.vehicle_number.cmp(&b.vehicle_number));
        for v in vehicles {
            self.vehicle(v, ctx);
        }
        self.resolve(ctx, false);
    }

    fn race_start(&mut self, snap: &Snapshot, ctx: &mut Ctx<'_>) {
        let table = tracks::lookup_feed(snap.track_id, snap.track_name.as_deref());
        let track = match table {
            Some(t) => t.key.to_owned(),
            None => {
                ctx.counters.unknown_tracks += 1;
                let key = slug(snap.track_name.as_deref().unwrap_or(""));
                ctx.reports.push(format!(
                    "race {}: track {:?} (id {:?}) is not in the track table: it runs on the \
                     defaults ({} hp, the feed's lap length), as track {key:?}",
                    self.race_id,
                    snap.track_name,
                    snap.track_id,
                    tracks::DEFAULT_TRACK.package.key(),
                ));
                key
            }
        };
        let track_length_mi = snap
            .track_length
            .filter(|l| l.is_finite() && *l > 0.0 && *l <= 10.0)
            .or(table.map(|t| t.length_mi));
        let mut cars = BTreeSet::new();
        let mut drivers = BTreeMap::new();
        for v in &snap.vehicles.items {
            let Ok(car) = CarId::parse(v.vehicle_number.trim()) else {
                continue;
            };
            if cars.len() >= 200 {
                break;
            }
            cars.insert(car);
            if let Some(name) = v.driver.as_ref().and_then(|d| d.full_name.as_deref()) {
                let name: String = name.trim().chars().take(100).collect();
                if !name.is_empty() {
                    drivers.insert(car, name);
                }
            }
        }
        let kind = Kind::RaceStart {
            track,
            track_length_mi,
            scheduled_laps: snap
                .laps_in_race
                .filter(|l| (1..=2000).contains(l))
                .map(|l| l as u32),
            cars: cars.into_iter().collect(),
            drivers,
        };
        self.emit(ctx, 0, kind);
    }
}

/// The race's start from the flag data: the time of day less the race time of the
/// first entry after the clock started.
fn anchor_from_flags(flags: &[FlagRecord]) -> Option<i64> {
    flags
        .iter()
        .filter(|f| f.elapsed_time > 0.0)
        .find_map(|f| Some(epoch_ms(f.time_of_day_os.as_deref()?)? - ms(f.elapsed_time)))
}

/// A track key for a track the table does not know: its name in lower case, words
/// joined by `-` (`unknown` without a name).
fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let s: String = words.join("-").chars().take(64).collect();
    if s.is_empty() { "unknown".into() } else { s }
}

/// A lap number the contract takes (0–2000).
pub(super) fn lap_u32(lap: i64) -> Option<u32> {
    (0..=2000).contains(&lap).then_some(lap as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_track_gets_a_key_from_its_name() {
        assert_eq!(
            slug("Naval Base Coronado (San Diego)"),
            "naval-base-coronado-san-diego"
        );
        assert_eq!(slug(""), "unknown");
    }
}

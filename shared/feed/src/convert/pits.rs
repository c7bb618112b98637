//! Stops and retirements.
//!
//! A stop is keyed by its car and pit-in race time, the same number in every snapshot
//! and in the pit data, so it is emitted once however often it is read. Its `pit_in`
//! goes out when a snapshot first lists it; its `pit_out` once a snapshot shows the car
//! out of pit road and the pit data has timed the stop's box (then with `tires` and
//! `box_s`), or when the wait for the pit data is over (then without). The `pit_out`'s
//! lap is the stop's pit-in lap: the feed does not count the car's lap at pit-out.
//!
//! A car whose status reads out gets one `car_out`, stamped with the last race time the
//! feed saw it (its last line crossing or the end of its last stop, whichever is later:
//! the feed does not time a retirement), after any `pit_out` of its own still waiting.
//! Nothing more is read of it.

use super::Ctx;
use super::race::{RaceConv, Stop, lap_u32};
use crate::codes::Status;
use crate::event::Kind;
use crate::wire::{Vehicle, ms};
use burnbar_core::CarId;

impl RaceConv {
    pub(super) fn vehicle(&mut self, v: &Vehicle, ctx: &mut Ctx<'_>) {
        let Ok(car) = CarId::parse(v.vehicle_number.trim()) else {
            ctx.counters.vehicles_skipped += 1;
            return;
        };
        if self.retired.contains(&car) {
            return;
        }
        let mut last_seen = v
            .vehicle_elapsed_time
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(ms)
            .unwrap_or(0);
        for s in &v.pit_stops {
            if !(s.pit_in_elapsed_time.is_finite() && s.pit_in_elapsed_time > 0.0) {
                // The feed's placeholders: no stop.
                continue;
            }
            let pin = ms(s.pit_in_elapsed_time);
            last_seen = last_seen.max(pin);
            let key = (car, pin);
            let lap = s.pit_in_lap_count.and_then(lap_u32);
            if let std::collections::btree_map::Entry::Vacant(e) = self.stops.entry(key) {
                e.insert(Stop::In { lap });
                self.emit(ctx, pin, Kind::PitIn { car, lap });
            }
            let out = s
                .pit_out_elapsed_time
                .filter(|o| o.is_finite() && *o > 0.0)
                .map(ms);
            if let Some(out_ms) = out {
                last_seen = last_seen.max(out_ms);
                if let Some(Stop::In { lap }) = self.stops.get(&key).copied() {
                    let since = ctx.now;
                    self.stops.insert(key, Stop::Pending { lap, out_ms, since });
                }
            }
        }
        match v.status.map(|c| (c, Status::from_code(c))) {
            Some((_, Some(Status::Out))) => {
                self.resolve_car(car, ctx);
                self.retired.insert(car);
                self.emit(ctx, last_seen, Kind::CarOut { car });
            }
            Some((code, None)) => {
                *ctx.counters.unknown_status_codes.entry(code).or_default() += 1;
                if self.reported.insert(('s', code)) {
                    ctx.reports.push(format!(
                        "race {}: unknown running status {code} (car {car}): read as \
                         still in the race",
                        self.race_id
                    ));
                }
            }
            _ => {}
        }
    }

    /// Emits every waiting `pit_out` whose pit data has come, and, when `force` is set or
    /// its wait is over, those without.
    pub fn resolve(&mut self, ctx: &mut Ctx<'_>, force: bool) {
        let keys: Vec<_> = self
            .stops
            .iter()
            .filter(|(_, s)| matches!(s, Stop::Pending { .. }))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.resolve_stop(key, ctx, force);
        }
    }

    /// A car leaving the race: its waiting `pit_out`s go out now.
    fn resolve_car(&mut self, car: CarId, ctx: &mut Ctx<'_>) {
        let keys: Vec<_> = self
            .stops
            .range((car, i64::MIN)..=(car, i64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.resolve_stop(key, ctx, true);
        }
    }

    fn resolve_stop(&mut self, key: (CarId, i64), ctx: &mut Ctx<'_>, force: bool) {
        let Some(Stop::Pending { lap, out_ms, since }) = self.stops.get(&key).copied() else {
            return;
        };
        let timed = ctx.pit_data.get(&key).filter(|r| r.box_s().is_some());
        let (tires, box_s) = match timed {
            Some(r) => (r.tires(), r.box_s()),
            None if force || ctx.now.saturating_sub(since) >= ctx.cfg.pit_data_wait_ms => {
                (None, None)
            }
            None => return,
        };
        self.stops.insert(key, Stop::Out);
        let car = key.0;
        self.emit(
            ctx,
            out_ms,
            Kind::PitOut {
                car,
                lap,
                tires,
                box_s,
            },
        );
    }
}

//! The sweep of one closing window: samples and events in event-time order, the held
//! channels and flow between them, and what the window measured.
//!
//! The rules of the sweep are the car module's "How a window is integrated".

use serde::{Deserialize, Serialize};

use super::{CarState, HOLD_MS, Held, MS_PER_HOUR, RaceCtx};
use crate::contract::{Channels, Flag};
use crate::model::ModelInput;

/// The last value of a channel and when it was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Last {
    ts: i64,
    v: f32,
    known: bool,
}

impl Last {
    fn set(&mut self, ts: i64, v: f32) {
        *self = Last { ts, v, known: true };
    }
    fn at(&self, ts: i64) -> Option<f64> {
        (self.known && ts - self.ts <= HOLD_MS).then_some(self.v as f64)
    }
}

/// Channel values held across samples (rule 4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Hold {
    throttle: Last,
    rpm: Last,
    speed: Last,
    lap: Last,
    lap_frac: Last,
    in_pit: Last,
    /// Last position measurement (lap + lap_frac) and the speed it implies.
    pos_ts: i64,
    pos: f64,
    pos_known: bool,
    pos_mph: Last,
}

impl Hold {
    /// Takes the channels a sample at `ts` carries; the others keep their held values.
    fn take(&mut self, ts: i64, ch: &Channels) {
        if ch.has(Channels::THROTTLE) {
            self.throttle.set(ts, ch.throttle_pct);
        }
        if ch.has(Channels::RPM) {
            self.rpm.set(ts, ch.rpm);
        }
        if ch.has(Channels::SPEED) {
            self.speed.set(ts, ch.speed_mph);
        }
        if ch.has(Channels::LAP) {
            self.lap.set(ts, ch.lap as f32);
        }
        if ch.has(Channels::LAP_FRAC) {
            self.lap_frac.set(ts, ch.lap_frac);
        }
        if let Some(p) = ch.in_pit() {
            self.in_pit.set(ts, if p { 1.0 } else { 0.0 });
        }
    }

    /// Position: a new measurement when the sample at `ts` carried lap or lap_frac
    /// (`measured`) and the other is known (now or held), and the speed it implies
    /// against the previous one.
    fn measure_position(&mut self, ts: i64, measured: bool, length_mi: f64) {
        let pos = match (self.lap.at(ts), self.lap_frac.at(ts)) {
            (Some(l), Some(f)) => Some(l + f),
            _ => None,
        };
        if let (true, Some(pos)) = (measured, pos) {
            let dt = ts - self.pos_ts;
            if self.pos_known && dt > 0 && dt <= HOLD_MS && pos >= self.pos {
                let mph = (pos - self.pos) * length_mi / (dt as f64 / MS_PER_HOUR);
                self.pos_mph.set(ts, mph as f32);
            }
            self.pos = pos;
            self.pos_ts = ts;
            self.pos_known = true;
        }
    }

    /// The flow a sample at `ts` holds from now on: the model's burn at the channels
    /// held then, with the speed and pit-road state it goes with.
    fn carry(&self, ts: i64, ctx: &RaceCtx) -> Carry {
        let speed = self.speed.at(ts);
        let mph = self.pos_mph.at(ts).or(speed).unwrap_or(0.0);
        let input = ModelInput {
            throttle_pct: self.throttle.at(ts),
            rpm: self.rpm.at(ts),
            speed_mph: speed,
        };
        let point = ctx.params.operating_point(input);
        let gph = point.map_or(0.0, |(theta, rpm)| {
            ctx.params.package(ctx.package).fuel_gph(theta, rpm)
        });
        let (theta, rpm) = point.unwrap_or((0.0, 0.0));
        let in_pit = self.in_pit.at(ts).is_some_and(|v| v > 0.5);
        let still = speed.map_or(mph < 1.0, |s| s < 1.0);
        Carry {
            src_ts: ts,
            gph,
            mph,
            theta: theta as f32,
            rpm: rpm as f32,
            still,
            in_pit,
        }
    }
}

/// The flow held from the latest integrated sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(super) struct Carry {
    src_ts: i64,
    gph: f64,
    mph: f64,
    /// The model's operating point (throttle fraction, rpm), for calibration.
    theta: f32,
    rpm: f32,
    /// Speed below 1 mph (standing still, for fills of unknown amount).
    still: bool,
    /// The sample said the car is on pit road.
    in_pit: bool,
}

/// What one closed window measured, before it becomes a `FuelUpdate`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct WindowAcc {
    pub(super) samples: u32,
    pub(super) burn: f64,
    pub(super) miles: f64,
    /// The correction factor applied to this window's burn (1 = physics alone).
    factor: f64,
    pub(super) corrected: bool,
    /// Physics burn before the factor, and time-weighted sums of the operating point
    /// over the hours with a known flow (features for the correction model).
    pub(super) physics_gal: f64,
    pub(super) flow_h: f64,
    pub(super) theta_h: f64,
    pub(super) rpm_h: f64,
    pub(super) wot_h: f64,
    pub(super) closed_h: f64,
    pub(super) in_pit: bool,
    pub(super) flag_ms: [i64; 5],
    pub(super) flag_last: [i64; 5],
}

impl CarState {
    pub(super) fn integrate(
        &mut self,
        ws: i64,
        we: i64,
        n: usize,
        ctx: &RaceCtx,
        factor: Option<f64>,
    ) -> WindowAcc {
        let mut acc = WindowAcc {
            samples: n as u32,
            factor: factor.unwrap_or(1.0),
            corrected: factor.is_some(),
            ..Default::default()
        };
        // The flow held from the last sample ran out before this window began: the
        // telemetry has a gap (whole windows without samples), so the current lap's fuel
        // is unknown.
        if let Some(c) = self.carry
            && c.src_ts + HOLD_MS < ws
        {
            self.laps.dirty = true;
            // Moving through windows without samples: calibration must know. Only
            // windows with samples are swept, so the last one swept is the last sample's;
            // its sweep counted the gap up to its end, and the rest (the whole windows
            // between, a hold spilling into them included) is counted here, once.
            if let Some(r) = self.recorder.as_deref_mut()
                && !c.still
            {
                let swept_to = c.src_ts.div_euclid(ctx.window_ms) * ctx.window_ms + ctx.window_ms;
                r.gap(ws - swept_to);
            }
        }
        // Events of windows that had no sample act before this window.
        let mut ev = 0;
        while ev < self.events.len() && self.events[ev].eff_ts < ws {
            let e = self.events[ev];
            self.apply_event(e.eff_ts, e.kind, ctx);
            ev += 1;
        }
        let mut t = ws;
        let mut i = 0;
        loop {
            let next_sample = (i < n).then(|| self.buf[i].ts);
            let next_event = (ev < self.events.len() && self.events[ev].eff_ts < we)
                .then(|| self.events[ev].eff_ts);
            // An event at the same instant as a sample acts first.
            let (at, is_event) = match (next_sample, next_event) {
                (None, None) => break,
                (Some(s), Some(e)) if e <= s => (e, true),
                (Some(s), _) => (s, false),
                (None, Some(e)) => (e, true),
            };
            self.advance(t, at, &mut acc);
            t = at;
            if is_event {
                let e = self.events[ev];
                self.apply_event(e.eff_ts, e.kind, ctx);
                ev += 1;
            } else {
                let h = self.buf[i];
                self.apply_sample(&h, &mut acc, ctx);
                i += 1;
            }
        }
        self.advance(t, we, &mut acc);
        self.events.drain(..ev);
        acc
    }

    /// Integrates the held flow over `[a, b)`.
    fn advance(&mut self, a: i64, b: i64, acc: &mut WindowAcc) {
        if b <= a {
            return;
        }
        let f = self.flag as usize;
        acc.flag_ms[f] += b - a;
        acc.flag_last[f] = b;
        if self.pit_road {
            acc.in_pit = true;
        }
        let on_pit_road = self.pit_road || self.carry.is_some_and(|c| c.in_pit);
        if self.flag.is_caution() || on_pit_road {
            self.laps.dirty = true;
        }
        let Some(c) = self.carry else { return };
        let end = b.min(c.src_ts + HOLD_MS);
        if end < b {
            // The telemetry has a gap: fuel burned in it is unknown, so the lap's fuel
            // is too, and it must not count as a green lap.
            self.laps.dirty = true;
            // A gap while moving: calibration must not take the stint's integral whole.
            if let Some(r) = self.recorder.as_deref_mut()
                && !c.still
            {
                r.gap(b - end.max(a));
            }
        }
        if end <= a {
            return;
        }
        let hours = (end - a) as f64 / MS_PER_HOUR;
        let physics = c.gph * hours;
        let gal = physics * acc.factor * self.fuel.stint_eff;
        let miles = c.mph * hours;
        acc.physics_gal += physics;
        acc.flow_h += hours;
        acc.theta_h += c.theta as f64 * hours;
        acc.rpm_h += c.rpm as f64 * hours;
        if c.theta >= 0.95 {
            acc.wot_h += hours;
        } else if c.theta <= 0.10 {
            acc.closed_h += hours;
        }
        acc.burn += gal;
        acc.miles += miles;
        self.fuel.used_stint += gal;
        self.fuel.used_race += gal;
        self.fuel.stint_miles += miles;
        if c.still && on_pit_road {
            self.fuel.standing_ms += end - a;
            self.fuel.since_box = 0.0;
        } else {
            self.fuel.since_box += gal;
        }
        if let Some(r) = self.recorder.as_deref_mut() {
            if c.gph > 0.0 {
                r.add(c.theta, c.rpm, hours);
            }
            // Standing in the box after race control's `pit_in` is a stop (not cars
            // staged on pit road before the start, nor parked there under red); running
            // on is judged off pit road by the telemetry alone, since a lost `pit_out`
            // would leave `pit_road` set.
            let standing = c.still && self.pit_road && self.flag != Flag::Red;
            r.track(end - a, !c.still, standing, c.in_pit);
        }
    }

    fn apply_sample(&mut self, h: &Held, acc: &mut WindowAcc, ctx: &RaceCtx) {
        let ts = h.ts;
        let ch = &h.ch;
        self.hold.take(ts, ch);
        // The published `lap`: lap + lap_frac, a missing fraction read as 0.
        if let Some(l) = self.hold.lap.at(ts) {
            self.last_pos = Some(l + self.hold.lap_frac.at(ts).unwrap_or(0.0));
        }
        let measured = ch.has(Channels::LAP) || ch.has(Channels::LAP_FRAC);
        self.hold.measure_position(ts, measured, ctx.length_mi);
        let carry = self.hold.carry(ts, ctx);
        if carry.in_pit {
            acc.in_pit = true;
            self.laps.dirty = true;
        }
        self.carry = Some(carry);
        if let Some(lap) = self.hold.lap.at(ts) {
            let frac = self.hold.lap_frac.at(ts).unwrap_or(1.0);
            self.laps
                .on_lap(lap as u16, frac, ts, self.fuel.used_race, ctx.length_mi);
        }
    }
}

//! One car on track: the driver's controller, the engine and body it drives, its pit stop.
//!
//! Every step the driver picks a speed to be at a moment later: under green the car's own
//! lap profile (see `profile.rs`); under caution the car ahead's speed, closing or opening
//! the gap to about 20 m (the leader follows the pace car at the track's pace speed); on
//! pit road the speed limit, then a stop in the box. The force that takes needs brake
//! power from the engine (`physics.rs`); the throttle is what gives that power at the
//! current rpm, capped at 100 % (and then the car accelerates as hard as it can), and the
//! brakes take what engine braking and drag do not. So throttle, brake, gear, rpm and
//! speed always agree with one another and with the fuel burned.
//!
//! **Drafting** scales the drag by `1 − D·exp(−gap/0.35 s)` with `D` 0.40 at the drafting
//! tracks and 0.22 elsewhere: the same speed for less throttle, as Hamlin describes a
//! follower matching a leader at 60 %. A car no faster than the one ahead (by pace, less
//! when saving, damaged or heading for pit road) settles 12 m behind it, in its draft; a
//! faster one pulls alongside (no draft there) and goes by.
//!
//! **Saving fuel** (`save` from 0 to 1, drivers use 0.4 and up): with 670 hp the driver
//! lifts and coasts before each braking zone (over up to 12 % of the run between zones),
//! keeps the throttle's effect 3–8 % below full, runs 0.6 % slower, and short-shifts (up
//! to 900 rpm earlier, staying a gear higher through corners). At the drafting tracks,
//! where nobody brakes, saving is a 5–9 % throttle cap and riding 1.2–2.2 % slower.
//! That saves 5–20 % of the fuel of a lap for 0.3–5 % of its time (solo at a drafting
//! track the trade is worse: about 1 % of time per 1.5 % of fuel). **Pushing** uses a
//! profile with 0.6 % faster corners and later braking, and revs higher. The tests
//! measure all of it.

use crate::physics::{
    self, CAPACITY_GAL, DRIVETRAIN_EFF, Engine, G, GEAR_RATIOS, IDLE_RPM, M_PER_MI, MPS_PER_MPH,
    REV_LIMIT_RPM, TOP_GEAR, TRACTION_G,
};
use crate::profile::{self, LapProfile, Layout, ProfileSpec};
use burnbar_core::tracks::{EnginePackage, Track};

/// What the simulator knows about the track of the race.
#[derive(Debug, Clone)]
pub(crate) struct TrackCtx {
    pub track: &'static Track,
    pub layout: Layout,
    pub engine: Engine,
    pub cda: f64,
    /// The reference profile's spec; a car's profile scales its corner speeds.
    pub spec: ProfileSpec,
    /// Lap length, m.
    pub len_m: f64,
    /// rpm per m/s in top gear (the final drive chosen for the track).
    pub rpm_per_mps: f64,
    /// Where pit road starts, as a fraction of the lap (just before the line).
    pub pit_entry_frac: f64,
    /// Pit road length, m (it crosses the start/finish line).
    pub pit_len_m: f64,
    /// Pit road speed limit, m/s.
    pub pit_speed: f64,
    /// Pace car speed, m/s.
    pub pace: f64,
    /// Largest drag reduction in a draft.
    pub draft_max: f64,
    /// Typical green lap time, s.
    pub lap_time_s: f64,
}

impl TrackCtx {
    pub fn new(track: &'static Track) -> TrackCtx {
        let layout = Layout::new(track);
        let engine = Engine::for_package(track.package);
        let spec = profile::reference_spec(track, &layout, engine.peak_w * 1.03);
        let reference = LapProfile::build(&layout, &spec);
        let len_m = layout.len_m;
        let pit_len_m = (0.2 * track.length_mi).clamp(0.1, 0.3) * M_PER_MI;
        TrackCtx {
            track,
            engine,
            cda: physics::cda_for(track.package),
            spec,
            len_m,
            // Geared so the end of the longest straight is at `top_rpm` in top gear.
            rpm_per_mps: engine.top_rpm / reference.top_speed(),
            pit_entry_frac: 1.0 - 0.5 * pit_len_m / len_m,
            pit_len_m,
            pit_speed: (track.pace_speed_mph - 5.0).max(25.0) * MPS_PER_MPH,
            pace: track.pace_speed_mph * MPS_PER_MPH,
            draft_max: match track.package {
                EnginePackage::Hp510 => 0.40,
                EnginePackage::Hp670 => 0.22,
            },
            lap_time_s: len_m / (track.green_speed_mph * MPS_PER_MPH),
            layout,
        }
    }

    /// A car's profile: corners `pace` times the reference's (`push`: a little faster,
    /// braking a little later).
    pub fn car_profile(&self, pace: f64, push: bool) -> LapProfile {
        let mut spec = ProfileSpec {
            corner_scale: self.spec.corner_scale * pace,
            ..self.spec
        };
        if push {
            spec.corner_scale *= 1.006;
            spec.brake_g *= 1.04;
        }
        LapProfile::build(&self.layout, &spec)
    }

    fn rpm(&self, v: f64, gear: u8) -> f64 {
        if gear == 0 {
            return IDLE_RPM;
        }
        (v * self.rpm_per_mps * GEAR_RATIOS[gear as usize - 1]).max(IDLE_RPM)
    }

    /// The highest gear that keeps the engine at `floor` rpm or more at `v` (cruising:
    /// caution laps, pit road).
    fn cruise_gear(&self, v: f64, floor: f64) -> u8 {
        (1..=TOP_GEAR)
            .rev()
            .find(|&g| v * self.rpm_per_mps * GEAR_RATIOS[g as usize - 1] >= floor)
            .unwrap_or(1)
    }

    /// The next pit entry at or after distance `d` (laps).
    pub fn next_entry(&self, d: f64) -> f64 {
        self.pit_entry_frac + (d - self.pit_entry_frac).ceil()
    }
}

/// How a driver races by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Saver,
    Neutral,
    Pusher,
}

/// What does not change during a race.
#[derive(Debug, Clone)]
pub(crate) struct CarParams {
    pub number: String,
    pub driver: String,
    /// Corner speed relative to the reference (≤ 1).
    pub pace: f64,
    /// Engine power relative to the package's.
    pub power_mult: f64,
    /// Fuel used relative to the model engine (1/efficiency): the car's spread.
    pub fuel_mult: f64,
    /// The crew's fill rate, gal/s.
    pub fill_rate: f64,
    pub style: Style,
    /// The team's error on its own fuel burn (negative: thinks it burns less).
    pub team_bias: f64,
    /// Laps of fuel the team keeps in hand before a green stop.
    pub margin_laps: f64,
    /// Most saving (share of fuel per lap) the driver will try for.
    pub save_cap: f64,
    /// Stays out on fuel it may not have.
    pub gambler: bool,
    /// The pit box, m past the pit road entry.
    pub box_m: f64,
    /// Position on the starting grid (0 is the pole).
    pub grid: usize,
}

/// What the fill at a stop is to be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FillPlan {
    Full,
    /// Top the cell up to what the finish needs: the amount is settled in the box.
    Finish,
}

/// How a planned stop goes, drawn when it is planned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stop {
    /// Gallons to pour; infinite: fill the cell.
    pub target: f64,
    /// The fueler's rate this stop, gal/s.
    pub rate: f64,
    /// From the car stopping to fuel flowing, s.
    pub wait_s: f64,
    /// From the can coming off to the car leaving, s.
    pub post_s: f64,
}

/// Where on pit road.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PitStage {
    ToBox,
    /// Stopped in the box: waiting for the fueler, pouring, then dropping off the jack.
    Stand {
        wait_s: f64,
        pouring: bool,
        post_s: f64,
    },
    ToExit,
}

/// What the car is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    Track,
    PitRoad(PitStage),
    /// Wrecked: braking to a stop, engine off.
    Crashed,
    /// Stopped for good, waiting for its `car_out`.
    Parked,
    Out,
    /// Took the checkered flag at this `ts` (writes its sample then, none after).
    Finished(i64),
}

/// Things that happened to a car during a step, for race control to announce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CarEvent {
    PitIn,
    PitOut { added: f64, full: bool },
    RanDry,
    Stopped,
}

/// The controls of one step, and what they do.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Controls {
    /// Pedal, 0..=1.
    pub throttle: f64,
    /// Throttle effect on torque, 0..=1.
    pub effect: f64,
    pub brake_psi: f64,
    pub gear: u8,
    /// 0 when the engine is off.
    pub rpm: f64,
    /// Resulting acceleration, m/s².
    pub accel: f64,
}

/// What the car sees around it this step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Env {
    pub caution: bool,
    /// Leads the race (writes no `gap_ahead_s`).
    pub leader: bool,
    /// Leads the cars on track: under caution it follows the pace car.
    pub first_on_track: bool,
    /// Distance to the car ahead on track, m (infinite when none).
    pub gap_m: f64,
    /// That car's speed, m/s.
    pub ahead_v: f64,
    /// That car's pace as it runs now (see [`Car::race_pace`]).
    pub ahead_pace: f64,
}

/// One car in the race.
#[derive(Debug, Clone)]
pub(crate) struct Car {
    pub p: CarParams,
    /// The car's own engine (the package's, scaled by `power_mult`).
    engine: Engine,
    /// Own profiles: normal, pushing.
    profiles: [LapProfile; 2],
    /// Distance run, laps (the integer part is laps completed).
    pub d: f64,
    /// Speed, m/s.
    pub v: f64,
    pub gear: u8,
    /// Fuel in the cell, gal (the truth).
    pub fuel: f64,
    pub phase: Phase,
    pub dry: bool,
    pub damaged: bool,
    /// Fuel saving, 0..=1.
    pub save: f64,
    pub push: bool,
    /// The controls computed for the step starting now.
    pub ctrl: Controls,
    /// A stop decided: the fill it is for.
    pub plan: Option<FillPlan>,
    /// How that stop will go.
    stop: Option<Stop>,
    /// Where the planned stop's pit road starts, laps.
    pub entry_d: f64,
    /// Fill target of the stop under way, gal (infinite: fill the cell).
    pub fill_target: f64,
    pub fill_rate: f64,
    pub poured: f64,
    /// The stop under way filled the cell to capacity.
    pub filled: bool,
    pub events: Vec<CarEvent>,
}

/// Time constant of the caution and pit-road speed controller, s.
const CRUISE_TAU_S: f64 = 1.5;
/// Gap kept to the car ahead under caution, m.
const CAUTION_GAP_M: f64 = 20.0;
/// Gap a car keeps behind one it cannot pass under green, m.
const FOLLOW_GAP_M: f64 = 12.0;
/// Closer than this the cars are side by side: no draft.
const ALONGSIDE_M: f64 = 6.0;
/// Brake line pressure per g of braking, psi.
const PSI_PER_G: f64 = 1_150.0;
/// Longest lift before a braking zone at full saving, as a share of the run between
/// braking zones.
const LIFT_SHARE: f64 = 0.12;

impl Car {
    pub fn new(ctx: &TrackCtx, p: CarParams, d: f64, v: f64) -> Car {
        let profiles = [
            ctx.car_profile(p.pace, false),
            ctx.car_profile(p.pace, true),
        ];
        let gear = ctx.cruise_gear(v, 3_500.0);
        Car {
            engine: ctx.engine.scaled(p.power_mult),
            p,
            profiles,
            d,
            v,
            gear,
            fuel: CAPACITY_GAL,
            phase: Phase::Track,
            dry: false,
            damaged: false,
            save: 0.0,
            push: false,
            ctrl: Controls::default(),
            plan: None,
            stop: None,
            entry_d: 0.0,
            fill_target: 0.0,
            fill_rate: 1.5,
            poured: 0.0,
            filled: false,
            events: Vec::new(),
        }
    }

    /// Position past the line, m.
    pub fn pos_m(&self, ctx: &TrackCtx) -> f64 {
        self.d.fract() * ctx.len_m
    }

    /// Laps completed.
    pub fn lap(&self) -> u32 {
        self.d.floor().max(0.0) as u32
    }

    pub fn in_pit(&self) -> bool {
        matches!(self.phase, Phase::PitRoad(_))
    }

    /// Racing or on pit road (not wrecked, retired or finished).
    pub fn running(&self) -> bool {
        matches!(self.phase, Phase::Track | Phase::PitRoad(_))
    }

    /// Writes samples now.
    pub fn reporting(&self, ts: i64) -> bool {
        match self.phase {
            Phase::Out => false,
            Phase::Finished(at) => at == ts,
            _ => true,
        }
    }

    /// Plans a stop at the next pit entry.
    pub fn plan_stop(&mut self, ctx: &TrackCtx, plan: FillPlan, stop: Stop) {
        self.plan = Some(plan);
        self.stop = Some(stop);
        self.entry_d = ctx.next_entry(self.d);
    }

    /// Drops a planned stop (pit road closed, or the car wrecked).
    pub fn cancel_stop(&mut self) {
        self.plan = None;
        self.stop = None;
    }

    /// How fast the car is running now, for who passes whom: its corner pace and engine,
    /// less when saving, damaged, heading for pit road or out of fuel.
    pub fn race_pace(&self) -> f64 {
        if self.dry || self.plan.is_some() || self.phase != Phase::Track {
            return 0.0;
        }
        let mut p =
            self.p.pace * (1.0 + 0.3 * (self.p.power_mult - 1.0)) * (1.0 - 0.01 * self.save);
        if self.push {
            p *= 1.003;
        }
        if self.damaged {
            p *= 0.985;
        }
        p
    }

    /// Distance to the planned pit entry, m.
    pub fn to_entry_m(&self, ctx: &TrackCtx) -> f64 {
        (self.entry_d - self.d) * ctx.len_m
    }

    fn mass(&self) -> f64 {
        physics::mass_kg(self.fuel)
    }

    /// Computes (and keeps) the controls for the step starting now.
    pub fn control(&mut self, ctx: &TrackCtx, env: &Env, dt: f64) -> Controls {
        let c = match self.phase {
            Phase::Track if self.dry => self.coast(ctx, self.approach_limit(ctx, f64::INFINITY)),
            Phase::Track => self.on_track(ctx, env, dt),
            Phase::PitRoad(PitStage::ToBox) => {
                let to_box = (self.entry_d * ctx.len_m + self.p.box_m) - self.d * ctx.len_m;
                let stop = (2.0 * 0.5 * G * to_box.max(0.0)).sqrt();
                let v_t = ctx.pit_speed.min(stop);
                if self.dry {
                    self.coast(ctx, v_t)
                } else {
                    self.cruise(ctx, v_t, 1.0, 0.6)
                }
            }
            Phase::PitRoad(PitStage::ToExit) => self.cruise(ctx, ctx.pit_speed, 1.0, 0.6),
            Phase::PitRoad(PitStage::Stand { .. }) => {
                let rpm = IDLE_RPM;
                let effect = self.engine.effect_for_brake(0.0, rpm);
                Controls {
                    throttle: physics::pedal_for_effect(effect),
                    effect,
                    brake_psi: 0.0,
                    gear: 0,
                    rpm,
                    accel: 0.0,
                }
            }
            Phase::Crashed => {
                let m = self.mass();
                let res = physics::drag_n(ctx.cda, self.v) + physics::roll_n(m);
                let brake = (0.7 * G * m - res).max(0.0);
                Controls {
                    brake_psi: (brake / (m * G) * PSI_PER_G).min(3_000.0),
                    accel: -(brake + res) / m,
                    ..Controls::default()
                }
            }
            // The last sample of a finisher carries the controls it crossed the line with.
            Phase::Finished(_) => self.ctrl,
            Phase::Parked | Phase::Out => Controls::default(),
        };
        if c.gear > 0 {
            self.gear = c.gear;
        }
        self.ctrl = c;
        c
    }

    /// The speed allowed on the way into a planned stop (infinite without one).
    fn approach_limit(&self, ctx: &TrackCtx, base: f64) -> f64 {
        if self.plan.is_none() {
            return base;
        }
        let dist = self.to_entry_m(ctx).max(0.0);
        base.min((ctx.pit_speed * ctx.pit_speed + 2.0 * 0.9 * G * dist).sqrt())
    }

    fn on_track(&mut self, ctx: &TrackCtx, env: &Env, dt: f64) -> Controls {
        let pos = self.pos_m(ctx);
        let prof = &self.profiles[usize::from(self.push)];
        // Alongside another car there is no draft; behind one, the closer the more.
        let draft = if env.gap_m < ALONGSIDE_M {
            1.0
        } else {
            1.0 - ctx.draft_max * (-(env.gap_m / self.v.max(1.0)) / 0.35).exp()
        };
        let corner = prof.in_corner(pos);
        if env.caution {
            let follow = if env.first_on_track || !env.gap_m.is_finite() {
                ctx.pace
            } else {
                (env.ahead_v + (env.gap_m - CAUTION_GAP_M) / 2.0)
                    .clamp(0.3 * ctx.pace, 2.0 * ctx.pace)
            };
            let v_t = self.approach_limit(ctx, follow.min(prof.speed_at(pos)));
            let gear = ctx.cruise_gear(self.v, 3_500.0);
            return self.drive(
                ctx,
                v_t,
                CRUISE_TAU_S,
                0.45,
                draft,
                corner,
                gear,
                1.0,
                false,
            );
        }
        // With the 670 hp engine the driver lifts and coasts before each braking zone; at
        // the drafting tracks (510 hp) a lift costs too much time (the car gains speed
        // back slowly) and loses the draft, so saving is feathering and riding back.
        let lift_style = ctx.track.package == EnginePackage::Hp670;
        let (slower, cap_cut) = match (self.save > 0.0, lift_style) {
            (false, _) => (0.0, 0.0),
            (true, true) => (0.006 * self.save, 0.03 + 0.05 * self.save),
            (true, false) => (0.012 + 0.01 * self.save, 0.05 + 0.04 * self.save),
        };
        let mut v_t = prof.speed_at(pos + self.v * dt) * (1.0 - slower);
        if self.damaged {
            v_t *= 0.985;
        }
        // A car no faster than the one ahead stays in its draft instead of driving into it;
        // a faster one pulls alongside and goes by.
        if env.gap_m < 40.0 && self.race_pace() <= env.ahead_pace + 1e-3 {
            v_t = v_t.min(env.ahead_v + (env.gap_m - FOLLOW_GAP_M) / 1.0);
        }
        let v_t = self.approach_limit(ctx, v_t.max(0.0));
        let lift = self.save > 0.0
            && lift_style
            && self.plan.is_none()
            && prof.brake_ahead_m(pos) < (0.35 + 0.65 * self.save) * LIFT_SHARE * prof.run_m();
        // The cap is on the throttle's effect: the last few percent of pedal do little.
        let cap = physics::pedal_for_effect(1.0 - cap_cut);
        // Shift points: short-shift when saving, rev it out when pushing.
        let top = ctx.engine.top_rpm;
        let up = top * 1.016 - 900.0 * self.save + if self.push { 150.0 } else { 0.0 };
        let down = top * 0.753 - 1_200.0 * self.save + if self.push { 300.0 } else { 0.0 };
        let mut gear = self.gear.clamp(1, TOP_GEAR);
        let rpm_in = |g: u8| self.v * ctx.rpm_per_mps * GEAR_RATIOS[g as usize - 1];
        if rpm_in(gear) > up && gear < TOP_GEAR {
            gear += 1;
        } else if rpm_in(gear) < down && gear > 1 && rpm_in(gear - 1) < up {
            gear -= 1;
        }
        let decel = profile::brake_g(ctx.track).max(0.9);
        self.drive(ctx, v_t, dt, decel, draft, corner, gear, cap, lift)
    }

    /// Holding a speed gently (caution, pit road).
    fn cruise(&self, ctx: &TrackCtx, v_t: f64, tau: f64, decel_g: f64) -> Controls {
        let gear = if self.v < 3.0 {
            1
        } else {
            ctx.cruise_gear(self.v, 3_500.0)
        };
        self.drive(ctx, v_t, tau, decel_g, 1.0, false, gear, 1.0, false)
    }

    /// Engine dead (out of fuel): roll in neutral, brake only to keep under `v_t`.
    fn coast(&self, ctx: &TrackCtx, v_t: f64) -> Controls {
        let m = self.mass();
        let res = physics::drag_n(ctx.cda, self.v) + physics::roll_n(m);
        let want = -(self.v - v_t).max(0.0) / CRUISE_TAU_S;
        let brake = (-(m * want.max(-0.6 * G)) - res).max(0.0);
        Controls {
            brake_psi: (brake / (m * G) * PSI_PER_G).min(3_000.0),
            accel: -(brake + res) / m,
            ..Controls::default()
        }
    }

    /// The controller: the force that reaches `v_t` in `tau` seconds (braking at most
    /// `decel_g`), the throttle that gives it (at most `cap`, none when `lift`), the brake
    /// for the rest.
    #[allow(clippy::too_many_arguments)]
    fn drive(
        &self,
        ctx: &TrackCtx,
        v_t: f64,
        tau: f64,
        decel_g: f64,
        draft: f64,
        corner: bool,
        gear: u8,
        cap: f64,
        lift: bool,
    ) -> Controls {
        let m = self.mass();
        let v = self.v;
        let v_eff = v.max(3.0);
        let scrub = if corner {
            1.0 + physics::CORNER_SCRUB
        } else {
            1.0
        };
        let res = physics::drag_n(ctx.cda, v) * draft * scrub + physics::roll_n(m);
        let a_req = ((v_t - v) / tau).max(-decel_g * G);
        let f_need = m * a_req + res;
        let rpm = ctx.rpm(v, gear);
        let p_need = if f_need >= 0.0 {
            f_need * v_eff / DRIVETRAIN_EFF
        } else {
            f_need * v_eff
        };
        let cap_e = if lift || rpm >= REV_LIMIT_RPM {
            0.0
        } else {
            physics::throttle_effect(cap)
        };
        let effect = self.engine.effect_for_brake(p_need, rpm).clamp(0.0, cap_e);
        let p_b = self.engine.brake_w(effect, rpm);
        let f_engine = if p_b >= 0.0 {
            p_b * DRIVETRAIN_EFF / v_eff
        } else {
            p_b / v_eff
        };
        let brake = if effect <= 0.0 {
            (f_engine - f_need).max(0.0)
        } else {
            0.0
        };
        let accel = ((f_engine - brake - res) / m).min(TRACTION_G * G);
        Controls {
            throttle: physics::pedal_for_effect(effect),
            effect,
            brake_psi: (brake / (m * G) * PSI_PER_G).min(3_000.0),
            gear,
            rpm,
            accel,
        }
    }

    /// Fuel flow for the step's controls, gal/s (before noise).
    pub fn fuel_rate(&self) -> f64 {
        let c = &self.ctrl;
        if self.dry || c.rpm <= 0.0 {
            return 0.0;
        }
        physics::gal_per_s(self.engine.fuel_w(c.effect, c.rpm)) * self.p.fuel_mult
    }

    /// Moves the car `dt` seconds with its controls; returns the fuel burned, gal.
    /// `noise` multiplies the fuel flow (the engine's cycle-to-cycle spread).
    pub fn integrate(&mut self, ctx: &TrackCtx, dt: f64, noise: f64) -> f64 {
        let burn = (self.fuel_rate() * noise * dt).clamp(0.0, self.fuel);
        self.fuel -= burn;
        if burn > 0.0 && self.fuel <= 1e-9 {
            self.fuel = 0.0;
            self.dry = true;
            self.events.push(CarEvent::RanDry);
        }
        match self.phase {
            Phase::PitRoad(PitStage::Stand {
                mut wait_s,
                mut pouring,
                mut post_s,
            }) => {
                self.v = 0.0;
                // The stand's phases end inside a step: time left over goes on to the
                // next, so standing lasts wait + poured / rate + post, to the step.
                let mut left = dt;
                if wait_s > 0.0 {
                    let used = wait_s.min(left);
                    wait_s -= used;
                    left -= used;
                }
                if pouring && left > 0.0 {
                    let room = (self.fill_target - self.poured).min(CAPACITY_GAL - self.fuel);
                    let add = (self.fill_rate * left).min(room).max(0.0);
                    self.fuel += add;
                    self.poured += add;
                    left -= add / self.fill_rate;
                    if self.poured > 0.0 {
                        self.dry = false;
                    }
                    self.filled = self.fuel >= CAPACITY_GAL - 1e-9;
                    pouring = !(self.poured >= self.fill_target - 1e-9 || self.filled);
                }
                if !pouring && left > 0.0 {
                    post_s -= left;
                }
                self.phase = Phase::PitRoad(if !pouring && post_s <= 1e-9 {
                    PitStage::ToExit
                } else {
                    PitStage::Stand {
                        wait_s,
                        pouring,
                        post_s,
                    }
                });
                return burn;
            }
            Phase::Parked | Phase::Out | Phase::Finished(_) => {
                self.v = 0.0;
                return burn;
            }
            _ => {}
        }
        let a = self.ctrl.accel;
        let mut v_new = (self.v + a * dt).max(0.0);
        if self.phase == Phase::PitRoad(PitStage::ToBox) && self.dry {
            // The crew pushes a dead car the last metres into its box.
            v_new = v_new.max(1.5);
        }
        let ds = 0.5 * (self.v + v_new) * dt;
        let before = self.d;
        self.v = v_new;
        self.d += ds / ctx.len_m;
        match self.phase {
            Phase::Track => {
                if self.plan.is_some() && before < self.entry_d && self.d >= self.entry_d {
                    self.phase = Phase::PitRoad(PitStage::ToBox);
                    self.events.push(CarEvent::PitIn);
                } else if self.v < 0.3 && self.dry {
                    self.phase = Phase::Parked;
                    self.events.push(CarEvent::Stopped);
                }
            }
            Phase::PitRoad(PitStage::ToBox) => {
                let box_d = self.entry_d + self.p.box_m / ctx.len_m;
                if (box_d - self.d) * ctx.len_m <= 0.3 {
                    self.d = box_d;
                    self.v = 0.0;
                    let stop = self.stop.take().unwrap_or(Stop {
                        target: f64::INFINITY,
                        rate: self.p.fill_rate,
                        wait_s: 0.4,
                        post_s: 0.3,
                    });
                    self.begin_stand(stop);
                }
            }
            Phase::PitRoad(PitStage::ToExit) => {
                let exit_d = self.entry_d + ctx.pit_len_m / ctx.len_m;
                if self.d >= exit_d {
                    self.phase = Phase::Track;
                    self.cancel_stop();
                    self.events.push(CarEvent::PitOut {
                        added: self.poured,
                        full: self.filled,
                    });
                }
            }
            Phase::Crashed if self.v <= 0.0 => {
                self.phase = Phase::Parked;
                self.events.push(CarEvent::Stopped);
            }
            _ => {}
        }
        burn
    }

    /// A stop begins in the box: pour `stop.target` gallons (infinite: fill the cell).
    fn begin_stand(&mut self, stop: Stop) {
        self.fill_target = stop.target;
        self.fill_rate = stop.rate;
        self.poured = 0.0;
        self.filled = false;
        self.phase = Phase::PitRoad(PitStage::Stand {
            wait_s: stop.wait_s,
            pouring: true,
            post_s: stop.post_s,
        });
    }
}

/// One car alone on a green track, rolling: the fuel and time of its third lap. Used to
/// seed the teams' fuel numbers and by the tests of saving and pushing.
pub(crate) fn solo_lap(ctx: &TrackCtx, save: f64, push: bool) -> (f64, f64) {
    let p = CarParams {
        number: "0".into(),
        driver: String::new(),
        pace: 1.0,
        power_mult: 1.0,
        fuel_mult: 1.0,
        fill_rate: 1.5,
        style: Style::Neutral,
        team_bias: 0.0,
        margin_laps: 1.0,
        save_cap: 0.1,
        gambler: false,
        box_m: 0.0,
        grid: 0,
    };
    let mut car = Car::new(ctx, p, 0.0, ctx.pace);
    car.save = save;
    car.push = push;
    let env = Env {
        caution: false,
        leader: true,
        first_on_track: true,
        gap_m: f64::INFINITY,
        ahead_v: 0.0,
        ahead_pace: 0.0,
    };
    let dt = 0.1;
    let (mut fuel, mut time) = (0.0, 0.0);
    while car.d < 3.0 {
        car.control(ctx, &env, dt);
        let before = car.d;
        let burn = car.integrate(ctx, dt, 1.0);
        // Refill so the lap is not run on an emptying cell.
        car.fuel = CAPACITY_GAL * 0.5;
        if before >= 2.0 {
            fuel += burn;
            time += dt;
        } else if car.d >= 2.0 {
            let share = (car.d - 2.0) / (car.d - before);
            fuel += burn * share;
            time += dt * share;
        }
    }
    (fuel, time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burnbar_core::tracks::lookup;

    fn ctx(key: &str) -> TrackCtx {
        TrackCtx::new(lookup(key).unwrap())
    }

    #[test]
    fn a_solo_lap_is_close_to_the_tracks_typical_speed() {
        for t in burnbar_core::tracks::TRACKS {
            let c = TrackCtx::new(t);
            let (_, time) = solo_lap(&c, 0.0, false);
            let mph = t.length_mi / (time / 3_600.0);
            // Drafting tracks: alone is slower than the pack's typical speed.
            let lo = if t.package == EnginePackage::Hp510 {
                0.90
            } else {
                0.97
            };
            assert!(
                mph > lo * t.green_speed_mph && mph < 1.03 * t.green_speed_mph,
                "{}: {mph:.1} mph",
                t.key
            );
        }
    }

    #[test]
    fn saving_burns_5_to_20_percent_less_for_0_3_to_5_percent_of_lap_time() {
        for key in [
            "pocono",
            "iowa",
            "martinsville",
            "nashville",
            "michigan",
            "charlotte",
        ] {
            let c = ctx(key);
            let (f0, t0) = solo_lap(&c, 0.0, false);
            for save in [0.4, 1.0] {
                let (f, t) = solo_lap(&c, save, false);
                let (saved, lost) = (1.0 - f / f0, t / t0 - 1.0);
                assert!(
                    (0.05..=0.20).contains(&saved),
                    "{key} {save}: saved {saved:.3}"
                );
                assert!(
                    (0.003..=0.05).contains(&lost),
                    "{key} {save}: lost {lost:.4}"
                );
            }
            let (fp, tp) = solo_lap(&c, 0.0, true);
            assert!(fp > f0 && tp < t0, "{key}: pushing {fp} {tp} vs {f0} {t0}");
        }
    }

    #[test]
    fn saving_alone_at_a_drafting_track_trades_worse() {
        // Flat out with 510 hp, lap time goes with the cube root of power: a solo car
        // saving 5 % of its fuel gives up about 2 % of its speed. In the pack the draft
        // makes up for it.
        for key in ["daytona", "talladega", "atlanta"] {
            let c = ctx(key);
            let (f0, t0) = solo_lap(&c, 0.0, false);
            for save in [0.4, 1.0] {
                let (f, t) = solo_lap(&c, save, false);
                let (saved, lost) = (1.0 - f / f0, t / t0 - 1.0);
                assert!(
                    (0.03..=0.20).contains(&saved),
                    "{key} {save}: saved {saved:.3}"
                );
                assert!(
                    (0.003..=0.06).contains(&lost),
                    "{key} {save}: lost {lost:.4}"
                );
            }
        }
    }

    #[test]
    fn green_laps_give_the_public_mileage() {
        // 20 gal / fuel per lap: the fuel window in green laps.
        for (key, lo, hi) in [
            ("pocono", 34.0, 40.0),
            ("iowa", 100.0, 120.0),
            ("nashville", 70.0, 85.0),
        ] {
            let c = ctx(key);
            let (f, _) = solo_lap(&c, 0.0, false);
            let laps = CAPACITY_GAL / f;
            assert!((lo..=hi).contains(&laps), "{key}: {laps:.1} laps per tank");
        }
    }
}

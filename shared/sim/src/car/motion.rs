//! A step of time for one car: the fuel its controls burn, the speed and distance they
//! give, and what that changes (pit road, the box, a car stopped for good).

use super::{Car, CarNotice, Phase, PitStage};
use crate::physics;
use crate::track::TrackCtx;

impl Car {
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
        let burn = self.burn(dt, noise);
        match self.phase {
            Phase::PitRoad(PitStage::Stand(st)) => {
                self.stand(dt, st);
                return burn;
            }
            Phase::Parked | Phase::Out | Phase::Finished(_) => {
                self.v = 0.0;
                return burn;
            }
            _ => {}
        }
        let before = self.d;
        self.roll(ctx, dt);
        match self.phase {
            Phase::Track if self.crossed_pit_entry(before) => self.enter_pit_road(),
            Phase::Track if self.v < 0.3 && self.dry => self.park(),
            Phase::PitRoad(PitStage::ToBox) => self.reach_box(ctx),
            Phase::PitRoad(PitStage::ToExit) => self.reach_exit(ctx),
            Phase::Crashed if self.v <= 0.0 => self.park(),
            _ => {}
        }
        burn
    }

    /// Takes the step's fuel from the cell; the car runs dry when it is gone.
    fn burn(&mut self, dt: f64, noise: f64) -> f64 {
        let burn = (self.fuel_rate() * noise * dt).clamp(0.0, self.fuel);
        self.fuel -= burn;
        if burn > 0.0 && self.fuel <= 1e-9 {
            self.fuel = 0.0;
            self.dry = true;
            self.notices.push(CarNotice::RanDry);
        }
        burn
    }

    /// Speed and distance after `dt` seconds at the controls' acceleration.
    fn roll(&mut self, ctx: &TrackCtx, dt: f64) {
        let a = self.ctrl.accel;
        let mut v_new = (self.v + a * dt).max(0.0);
        if self.phase == Phase::PitRoad(PitStage::ToBox) && self.dry {
            // The crew pushes a dead car the last metres into its box.
            v_new = v_new.max(1.5);
        }
        let ds = 0.5 * (self.v + v_new) * dt;
        self.v = v_new;
        self.d += ds / ctx.len_m;
    }

    /// Stopped for good (wrecked, or out of fuel away from pit road).
    fn park(&mut self) {
        self.phase = Phase::Parked;
        self.notices.push(CarNotice::Stopped);
    }
}

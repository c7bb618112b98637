//! What the simulator knows about the track of a race: its lap, engine package, gearing,
//! pit road and pace car.

use crate::physics::{self, Engine, GEAR_RATIOS, IDLE_RPM, M_PER_MI, MPS_PER_MPH, TOP_GEAR};
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
    /// The track's context: its layout, engine, reference profile, gearing and pit road.
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

    /// Engine speed at `v` in `gear` (idle in neutral or below idle speed).
    pub fn rpm(&self, v: f64, gear: u8) -> f64 {
        if gear == 0 {
            return IDLE_RPM;
        }
        (v * self.rpm_per_mps * GEAR_RATIOS[gear as usize - 1]).max(IDLE_RPM)
    }

    /// The highest gear that keeps the engine at `floor` rpm or more at `v` (cruising:
    /// caution laps, pit road).
    pub fn cruise_gear(&self, v: f64, floor: f64) -> u8 {
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

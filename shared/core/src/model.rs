//! The physics fuel model and the parameters a calibration fits.
//!
//! # The model: air flow
//!
//! A Cup engine runs rich at a nearly fixed air-fuel ratio, so fuel flow follows air flow:
//!
//! ```text
//! fuel_gph(θ, n) = idle_gph + wot_gph_per_krpm · (n / 1000) · VE(n) · π(θ)
//! VE(n)          = clamp(1 − ve_droop · ((n − ve_peak_rpm) / 1000)², 0.5, 1)
//! π(θ)           = 1 − (1 − θ)^throttle_k
//! ```
//!
//! - `n` is engine speed (rpm) and `θ` the throttle as a fraction.
//! - `wot_gph_per_krpm` is the fuel a wide-open engine at peak volumetric efficiency takes
//!   per 1000 rpm per hour: ρ_air · V_d / (120 · AFR · ρ_fuel). For the 5.86 L engine at
//!   AFR 12.5, ρ_air 1.18 kg/m³ and 2.81 kg/gal of E15 this is 5.9 gal/h per 1000 rpm;
//!   the tapered spacer of the 510 hp package chokes the air and lowers it.
//! - `VE(n)` is the volumetric efficiency, peaking near the torque peak.
//! - `π(θ)` maps pedal to air flow: the throttle body passes most of the air well before
//!   the pedal is floored, hence the concave curve with `throttle_k` about 2–3.
//! - `idle_gph` is the floor a running engine burns with the throttle closed.
//!
//! Why air flow rather than a Willans line: it needs only the channels the feed carries
//! (throttle, RPM) and no power curve, which teams keep secret. The simulator's ground
//! truth uses a Willans line on purpose, so that the tests compare two different forms.
//!
//! # Missing channels
//!
//! Each sample's channels are those it carried or, for at most 1 s, the last value seen
//! (`telemetry-v1` rule 4). When the throttle is still missing the model assumes
//! `default_throttle` (a typical green-flag average); when the RPM is missing it derives
//! it from the speed (`rpm_per_mph`, top gear on an oval), or assumes `default_rpm`.
//! A sample with neither RPM, throttle nor speed burns nothing.
//!
//! # Uncertainty
//!
//! `burn_rel_sd` is the model's relative standard deviation for the fuel of a stint: the
//! 90 % band of `remaining_gal` is ±1.645 σ, with σ² the sum of the stint's burn variance
//! and the doubt about the fill that started it (`fill_rel_sd` of an estimated fill).

use serde::{Deserialize, Serialize};

use crate::tracks::EnginePackage;

/// Parameters of one engine package.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageParams {
    /// Fuel at wide-open throttle and peak VE, gal/h per 1000 rpm.
    pub wot_gph_per_krpm: f64,
    /// Exponent of the throttle-to-air-flow curve `1 − (1 − θ)^k`.
    pub throttle_k: f64,
    /// RPM of peak volumetric efficiency.
    pub ve_peak_rpm: f64,
    /// Loss of VE per (1000 rpm)² away from the peak.
    pub ve_droop: f64,
    /// Fuel burned with the throttle closed, gal/h.
    pub idle_gph: f64,
    /// The fit's own doubt, relative: the standard error of this package's burn from the
    /// fitted air scale and throttle curve, at the operating point they are least sure
    /// of (`calibrate::fit_rel_sd`). A fit from few stints whose mix of running barely
    /// separates the two parameters knows the burn of its own mix well and that of
    /// another mix poorly: two 100-lap races left the 670 package's caution burn 3.4 %
    /// uncertain, and 3.5 % off on races with more caution. It widens the band on every
    /// track, as a doubt shared by the race's cars ([`ModelParams::off_track_var`]); 0 for
    /// the embedded defaults (whose `burn_rel_sd` is meant for any track) and for files
    /// from before it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fit_rel_sd: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Every parameter that calibration may fit, in one serializable struct (the file that
/// `burnbar calibrate` writes and `replay --calibration` reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    /// The 670 hp package.
    pub hp670: PackageParams,
    /// The 510 hp tapered-spacer package.
    pub hp510: PackageParams,
    /// Throttle assumed when the channel is missing (fraction).
    pub default_throttle: f64,
    /// Engine speed per mph when RPM is missing but speed is known (top gear).
    pub rpm_per_mph: f64,
    /// Engine speed assumed when both RPM and speed are missing.
    pub default_rpm: f64,
    /// Fuel a crew pours per second of standing time in the box, gal/s (live fills of
    /// unknown amount are sized with it).
    pub fill_rate_gps: f64,
    /// Seconds of each stop in which no fuel flows (the car stopping, the can going in,
    /// the jack dropping after): a fuel job of `g` gallons takes `fill_dead_s + g /
    /// fill_rate_gps`. 1.5 s by default (`telemetry-v1`, Fills); calibration fits it from
    /// the weighed stops the fuel timed.
    #[serde(default = "default_fill_dead_s")]
    pub fill_dead_s: f64,
    /// A tyre change's time, s, for four tyres, two, and one or three: a stop lasts as
    /// long as its longer job, so a stop no longer than its tyre change says only that the
    /// fuel took at most that long. 9, 5 and 4 s by default (`telemetry-v1`, Fills);
    /// calibration fits them from the weighed stops whose fuel job was clearly shorter.
    #[serde(default = "default_tire_four_s")]
    pub tire_four_s: f64,
    #[serde(default = "default_tire_two_s")]
    pub tire_two_s: f64,
    #[serde(default = "default_tire_odd_s")]
    pub tire_odd_s: f64,
    /// Relative standard deviation of a tyre change's time around those (crews differ,
    /// and so do their stops). 10 % by default: a guess wide enough for crews the
    /// defaults have never seen; calibration measures it.
    #[serde(default = "default_tire_rel_sd")]
    pub tire_rel_sd: f64,
    /// How often stops change no tyre, one or three, two and four, for a stop whose
    /// tyres the feed does not give (`tires` null): the weights of the two readings of
    /// its time. By default a guess from `DOMAIN.md` (a green-flag stop nearly always
    /// takes four, a late splash often none); calibration counts them from the pit data.
    #[serde(default = "default_tire_shares")]
    pub tire_shares: [f64; 4],
    /// Among weighed stops timed by their tyres whose time would have let the fuel reach
    /// the top, the share whose crew stopped short, and how far short on average, gal.
    /// Such a live stop counts as full (`telemetry-v1`); these size the doubt of it.
    /// `None` (the embedded defaults): 10 % of them, by up to the whole room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tire_short_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tire_short_room_gal: Option<f64>,
    /// Among weighed stops timed by their tyres whose time allowed more than the car
    /// needed to the finish, how much more than that need the crew poured, gal: the
    /// median and its robust standard deviation. A crew with time to spare on a late
    /// stop pours the finish's fuel and a margin, not a random share of what the time
    /// allows; what margin is the crews' habit, which calibration measures. `None` (the
    /// embedded defaults, or fewer than 10 such stops): the pour is taken as anywhere
    /// from the need to what the time allows, uniformly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_pour_margin_gal: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_pour_margin_sd_gal: Option<f64>,
    /// How near the top the habit's pour may leave a cell before the crew fills it
    /// instead, gal: a crew whose need and margin come within this of the room pours to
    /// the top (the last gallon costs a second, the doubt of running dry more). Fitted
    /// with the margin's spread on weighed late green stops, reported full or short
    /// (`P(full) = Φ((gap − room + need + margin) / sd)`). `None`: 0, the top itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_pour_fill_gap_gal: Option<f64>,
    /// Relative standard deviation of a fill estimated from standing time.
    pub fill_rel_sd: f64,
    /// Standard deviation of a fill estimated from standing time that does not grow with
    /// the amount, gal: the jack and hose work around the pour varies by a fraction of a
    /// second whatever is poured, which dominates the doubt of a splash. The doubt of an
    /// estimated fill is `√((fill_rel_sd · est)² + fill_abs_sd²)`.
    #[serde(default)]
    pub fill_abs_sd: f64,
    /// The part of `fill_rel_sd` that is the spread between cars (each crew's own
    /// fueler rate, the same at every stop of a race): a fill sized from standing time
    /// says how much a car really burned only up to it. `None` (the embedded defaults,
    /// and files from before calibration measured it): all of `fill_rel_sd`, so that
    /// standing time teaches a car next to nothing about its efficiency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_car_rel_sd: Option<f64>,
    /// The share of stops whose crew stopped short of the top (weighed `full: false`),
    /// and how far short on average, gal. With both, a live stop about as long as a full
    /// fill needs is judged full or short by how likely each is given its length; a
    /// stop that ends at the top then carries next to no doubt. `None` (the embedded
    /// defaults): every such stop keeps the doubt of a possible shortfall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_partial_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_partial_room_gal: Option<f64>,
    /// Relative standard deviation of the model's burn over a stint, over the fleet
    /// (a car's own efficiency included).
    pub burn_rel_sd: f64,
    /// The part of `burn_rel_sd` that is the spread between cars (each car's own
    /// efficiency): what a car's weighed stints can learn. The rest is the model's
    /// error within a car, which no learning removes.
    #[serde(default = "default_car_rel_sd")]
    pub car_rel_sd: f64,
    /// The tracks whose weighed stints a calibration was fitted on (empty for the
    /// embedded defaults): where the file can be trusted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fitted_on: Vec<String>,
    /// The spread of the model's burn from one track to another, relative: what a
    /// calibration's own residuals cannot show, since it saw only its tracks. On a track
    /// not in `fitted_on` it widens the band (as a doubt shared by the race's cars,
    /// which their own stints then learn, like their efficiency). Calibration measures it
    /// by leaving each track out where a package has two; else, and for files from
    /// before it, 2 %: about the package fits' difference between tracks in development.
    /// Unused by the embedded defaults, whose `burn_rel_sd` is meant for any track.
    #[serde(default = "default_track_rel_sd")]
    pub track_rel_sd: f64,
}

fn default_car_rel_sd() -> f64 {
    0.02
}
fn default_fill_dead_s() -> f64 {
    1.5
}
fn default_tire_four_s() -> f64 {
    9.0
}
fn default_tire_two_s() -> f64 {
    5.0
}
fn default_tire_odd_s() -> f64 {
    4.0
}
fn default_tire_rel_sd() -> f64 {
    0.1
}
fn default_tire_shares() -> [f64; 4] {
    [0.15, 0.02, 0.13, 0.70]
}
fn default_track_rel_sd() -> f64 {
    0.02
}

impl Default for ModelParams {
    /// The form and the starting values come from public engine facts
    /// (`../shared/design/DOMAIN.md`: 5.86 L, AFR about 12.5, about 50 gal/h wide open at
    /// speed); the package numbers were then fitted by least squares to the fuel of 5 s
    /// windows of development simulations (seeds 2–3 at Pocono, Michigan, Martinsville and
    /// Daytona), which hit the public mileage figures. Held-out seeds test them
    /// (`tests/accuracy.rs`); `burnbar calibrate` fits them to real weighed stints.
    fn default() -> Self {
        ModelParams {
            hp670: PackageParams {
                wot_gph_per_krpm: 5.94,
                throttle_k: 1.73,
                ve_peak_rpm: 6580.0,
                ve_droop: 0.0117,
                idle_gph: 0.0,
                fit_rel_sd: 0.0,
            },
            hp510: PackageParams {
                wot_gph_per_krpm: 4.97,
                throttle_k: 1.77,
                ve_peak_rpm: 5920.0,
                ve_droop: 0.0156,
                idle_gph: 0.0,
                fit_rel_sd: 0.0,
            },
            default_throttle: 0.7,
            rpm_per_mph: 50.0,
            default_rpm: 8000.0,
            fill_rate_gps: 1.5,
            fill_dead_s: default_fill_dead_s(),
            tire_four_s: default_tire_four_s(),
            tire_two_s: default_tire_two_s(),
            tire_odd_s: default_tire_odd_s(),
            tire_rel_sd: default_tire_rel_sd(),
            tire_shares: default_tire_shares(),
            tire_short_share: None,
            tire_short_room_gal: None,
            late_pour_margin_gal: None,
            late_pour_margin_sd_gal: None,
            late_pour_fill_gap_gal: None,
            fill_rel_sd: 0.1,
            fill_abs_sd: 0.0,
            fill_car_rel_sd: None,
            fill_partial_share: None,
            fill_partial_room_gal: None,
            burn_rel_sd: 0.04,
            car_rel_sd: default_car_rel_sd(),
            fitted_on: Vec::new(),
            track_rel_sd: default_track_rel_sd(),
        }
    }
}

impl ModelParams {
    /// The parameters of one package.
    pub fn package(&self, p: EnginePackage) -> &PackageParams {
        match p {
            EnginePackage::Hp670 => &self.hp670,
            EnginePackage::Hp510 => &self.hp510,
        }
    }

    /// `(τ², σ²)`: the variance of cars' efficiencies around the fleet, and the model's
    /// variance within a car (`burn_rel_sd²` is their sum; the within part never falls
    /// below 0.5 %², so a car is never trusted to better than that).
    pub fn car_variances(&self) -> (f64, f64) {
        let total = self.burn_rel_sd * self.burn_rel_sd;
        let tau2 = (self.car_rel_sd * self.car_rel_sd).min(total);
        (tau2, (total - tau2).max(0.005 * 0.005))
    }

    /// What the burn's relative variance gains on `track` (run with `package`), shared
    /// by the race's cars: the package fit's own doubt (`fit_rel_sd`, 0 for the embedded
    /// defaults, whose `burn_rel_sd` is meant for any track) on a track these parameters
    /// were fitted on; that and the spread between tracks (`track_rel_sd`) on another
    /// track of a package they were fitted for; and on a track of a package no fitted
    /// track runs (its parameters are the starting ones) at least up to the embedded
    /// defaults' own doubt.
    pub fn off_track_var(&self, track: &str, package: EnginePackage) -> f64 {
        // The fit's own doubt holds on every track, its own too.
        let fit = self.package(package).fit_rel_sd.powi(2);
        if self.fitted_on.is_empty() || self.fitted_on.iter().any(|t| t == track) {
            return fit;
        }
        let between = self.track_rel_sd * self.track_rel_sd;
        let package_fitted = self
            .fitted_on
            .iter()
            .any(|t| crate::tracks::lookup(t).is_some_and(|k| k.package == package));
        if package_fitted {
            between + fit
        } else {
            let d = ModelParams::default().burn_rel_sd;
            (d * d - self.burn_rel_sd * self.burn_rel_sd).max(between)
        }
    }

    /// A tyre change's usual time, s (0 without one).
    pub fn tire_change_s(&self, tires: u8) -> f64 {
        match tires {
            0 => 0.0,
            2 => self.tire_two_s,
            4 => self.tire_four_s,
            _ => self.tire_odd_s,
        }
    }

    /// `(between cars, within a car)` relative variances of a fill sized from standing
    /// time: the crew's own rate, and what varies from stop to stop.
    pub fn fill_variances(&self) -> (f64, f64) {
        let total = self.fill_rel_sd * self.fill_rel_sd;
        let between = self.fill_car_rel_sd.map_or(total, |c| (c * c).min(total));
        (between, total - between)
    }

    /// Checks that every parameter is a number within its range ([`PARAM_RANGES`]), so
    /// that a hand-edited or corrupt calibration file is refused with the name of the
    /// field and the range: the ranges are wide (several times the values of any real
    /// car), but a value no one could mean (1e300 gal/h) would make every figure absurd.
    pub fn validate(&self) -> Result<(), String> {
        let check = |name: &str, v: f64| {
            let (lo, hi, lo_open) = param_range(name);
            let ok = v.is_finite() && (if lo_open { v > lo } else { v >= lo }) && v <= hi;
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be {} {lo} and at most {hi}, found {v}",
                    if lo_open { "above" } else { "at least" }
                ))
            }
        };
        for (key, p) in [("hp670", &self.hp670), ("hp510", &self.hp510)] {
            check(&format!("{key}.wot_gph_per_krpm"), p.wot_gph_per_krpm)?;
            check(&format!("{key}.throttle_k"), p.throttle_k)?;
            check(&format!("{key}.ve_peak_rpm"), p.ve_peak_rpm)?;
            check(&format!("{key}.ve_droop"), p.ve_droop)?;
            check(&format!("{key}.idle_gph"), p.idle_gph)?;
            check(&format!("{key}.fit_rel_sd"), p.fit_rel_sd)?;
        }
        check("default_throttle", self.default_throttle)?;
        check("rpm_per_mph", self.rpm_per_mph)?;
        check("default_rpm", self.default_rpm)?;
        check("fill_rate_gps", self.fill_rate_gps)?;
        check("fill_dead_s", self.fill_dead_s)?;
        check("fill_rel_sd", self.fill_rel_sd)?;
        check("fill_abs_sd", self.fill_abs_sd)?;
        if let Some(c) = self.fill_car_rel_sd {
            check("fill_car_rel_sd", c)?;
        }
        if let Some(share) = self.fill_partial_share {
            check("fill_partial_share", share)?;
        }
        if let Some(room) = self.fill_partial_room_gal {
            check("fill_partial_room_gal", room)?;
        }
        check("burn_rel_sd", self.burn_rel_sd)?;
        check("car_rel_sd", self.car_rel_sd)?;
        check("tire_four_s", self.tire_four_s)?;
        check("tire_two_s", self.tire_two_s)?;
        check("tire_odd_s", self.tire_odd_s)?;
        check("tire_rel_sd", self.tire_rel_sd)?;
        for s in self.tire_shares {
            check("tire_shares", s)?;
        }
        if self.tire_shares.iter().sum::<f64>() <= 0.0 {
            return Err("tire_shares must not all be 0".to_owned());
        }
        if let Some(share) = self.tire_short_share {
            check("tire_short_share", share)?;
        }
        if let Some(room) = self.tire_short_room_gal {
            check("tire_short_room_gal", room)?;
        }
        if let Some(m) = self.late_pour_margin_gal {
            check("late_pour_margin_gal", m)?;
        }
        if let Some(sd) = self.late_pour_margin_sd_gal {
            check("late_pour_margin_sd_gal", sd)?;
        }
        if let Some(g) = self.late_pour_fill_gap_gal {
            check("late_pour_fill_gap_gal", g)?;
        }
        check("track_rel_sd", self.track_rel_sd)?;
        Ok(())
    }
}

/// The range of every number of a calibration file: `(field, low, high, low excluded)`
/// (a package's fields are listed once, for both `hp670.` and `hp510.`).
pub const PARAM_RANGES: [(&str, f64, f64, bool); 29] = [
    ("wot_gph_per_krpm", 0.0, 50.0, true),
    ("throttle_k", 0.0, 20.0, true),
    ("ve_peak_rpm", 0.0, 20_000.0, true),
    ("ve_droop", 0.0, 1.0, false),
    ("idle_gph", 0.0, 50.0, false),
    ("default_throttle", 0.0, 1.0, false),
    ("rpm_per_mph", 0.0, 500.0, true),
    ("default_rpm", 0.0, 20_000.0, true),
    ("fill_rate_gps", 0.0, 20.0, true),
    ("fill_dead_s", 0.0, 60.0, false),
    ("fill_rel_sd", 0.0, 1.0, false),
    ("fill_abs_sd", 0.0, 22.0, false),
    ("fill_car_rel_sd", 0.0, 1.0, false),
    ("fill_partial_share", 0.0, 1.0, false),
    ("fill_partial_room_gal", 0.0, 22.0, true),
    ("burn_rel_sd", 0.0, 1.0, false),
    ("car_rel_sd", 0.0, 1.0, false),
    ("tire_four_s", 0.0, 120.0, true),
    ("tire_two_s", 0.0, 120.0, true),
    ("tire_odd_s", 0.0, 120.0, true),
    ("tire_rel_sd", 0.0, 1.0, false),
    ("tire_shares", 0.0, 1.0, false),
    ("tire_short_share", 0.0, 1.0, false),
    ("tire_short_room_gal", 0.0, 22.0, true),
    ("late_pour_margin_gal", -22.0, 22.0, false),
    ("late_pour_margin_sd_gal", 0.0, 22.0, true),
    ("late_pour_fill_gap_gal", -22.0, 22.0, false),
    ("track_rel_sd", 0.0, 1.0, false),
    ("fit_rel_sd", 0.0, 1.0, false),
];

/// The range of field `name` (`hp670.throttle_k` reads `throttle_k`'s).
fn param_range(name: &str) -> (f64, f64, bool) {
    let field = name.rsplit('.').next().unwrap_or(name);
    PARAM_RANGES
        .iter()
        .find(|r| r.0 == field)
        .map_or((f64::NEG_INFINITY, f64::INFINITY, false), |r| {
            (r.1, r.2, r.3)
        })
}

impl PackageParams {
    /// Fuel flow in gal/h at throttle `theta` (0–1) and `rpm`.
    #[inline]
    pub fn fuel_gph(&self, theta: f64, rpm: f64) -> f64 {
        let theta = theta.clamp(0.0, 1.0);
        let krpm_off = (rpm - self.ve_peak_rpm) / 1000.0;
        let ve = (1.0 - self.ve_droop * krpm_off * krpm_off).clamp(0.5, 1.0);
        // Full and closed throttle (about half of a race's samples) skip `powf` (3-4 % of
        // a replay's profile): 0^k = 0 for k > 0 and 1^k = 1, exactly as `powf` gives.
        let closed = 1.0 - theta;
        let air = if closed == 0.0 && self.throttle_k > 0.0 {
            1.0
        } else if closed == 1.0 {
            0.0
        } else {
            1.0 - closed.powf(self.throttle_k)
        };
        let running = if rpm > 0.0 { self.idle_gph } else { 0.0 };
        running + self.wot_gph_per_krpm * (rpm.max(0.0) / 1000.0) * ve * air
    }
}

/// The channels the model reads, each `None` when missing (after the 1 s hold).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelInput {
    pub throttle_pct: Option<f64>,
    pub rpm: Option<f64>,
    pub speed_mph: Option<f64>,
}

impl ModelParams {
    /// Fuel flow in gal/h for one sample's channels, with the documented fallbacks.
    #[inline]
    pub fn fuel_gph(&self, package: EnginePackage, x: ModelInput) -> f64 {
        match self.operating_point(x) {
            Some((theta, rpm)) => self.package(package).fuel_gph(theta, rpm),
            None => 0.0,
        }
    }

    /// The throttle (fraction) and RPM the model uses for these channels, after the
    /// documented fallbacks; `None` when nothing is known (the engine burns nothing).
    #[inline]
    pub fn operating_point(&self, x: ModelInput) -> Option<(f64, f64)> {
        if x.throttle_pct.is_none() && x.rpm.is_none() && x.speed_mph.is_none() {
            return None;
        }
        let theta = x
            .throttle_pct
            .map(|t| t / 100.0)
            .unwrap_or(self.default_throttle);
        let rpm = x
            .rpm
            .or_else(|| x.speed_mph.map(|s| s * self.rpm_per_mph))
            .unwrap_or(self.default_rpm);
        Some((theta, rpm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_closed_throttle_burn_exactly_what_the_power_law_gives() {
        let p = ModelParams::default();
        for k in [
            0.05,
            0.5,
            1.0,
            1.7,
            3.0,
            p.hp670.throttle_k,
            p.hp510.throttle_k,
        ] {
            let pkg = PackageParams {
                throttle_k: k,
                ..p.hp670
            };
            for theta in [0.0, 1.0, 0.999, 0.001, 0.5] {
                for rpm in [0.0, 4000.0, 9000.0] {
                    let theta_c: f64 = theta;
                    let krpm_off = (rpm - pkg.ve_peak_rpm) / 1000.0;
                    let ve = (1.0 - pkg.ve_droop * krpm_off * krpm_off).clamp(0.5, 1.0);
                    let air = 1.0 - (1.0 - theta_c).powf(k);
                    let running = if rpm > 0.0 { pkg.idle_gph } else { 0.0 };
                    let want = running + pkg.wot_gph_per_krpm * (rpm / 1000.0) * ve * air;
                    assert_eq!(
                        pkg.fuel_gph(theta, rpm).to_bits(),
                        want.to_bits(),
                        "k {k}, theta {theta}, rpm {rpm}"
                    );
                }
            }
        }
    }

    #[test]
    fn wide_open_at_speed_is_about_fifty_gallons_an_hour() {
        let p = ModelParams::default();
        let gph = p.hp670.fuel_gph(1.0, 9000.0);
        assert!((45.0..55.0).contains(&gph), "{gph}");
        assert!(
            p.hp510.fuel_gph(1.0, 9000.0) < gph,
            "the spacer takes air away"
        );
    }

    #[test]
    fn flow_rises_with_throttle_and_rpm() {
        let p = ModelParams::default().hp670;
        assert!(p.fuel_gph(0.5, 8000.0) < p.fuel_gph(0.8, 8000.0));
        assert!(p.fuel_gph(0.8, 6000.0) < p.fuel_gph(0.8, 8000.0));
        assert_eq!(p.fuel_gph(0.0, 0.0), 0.0, "a stopped engine burns nothing");
    }

    #[test]
    fn missing_channels_fall_back_as_documented() {
        let p = ModelParams::default();
        let pkg = EnginePackage::Hp670;
        let none = ModelInput::default();
        assert_eq!(p.fuel_gph(pkg, none), 0.0);
        let speed_only = ModelInput {
            speed_mph: Some(160.0),
            ..none
        };
        assert_eq!(
            p.fuel_gph(pkg, speed_only),
            p.hp670.fuel_gph(0.7, 8000.0),
            "rpm from speed (160 × 50), default throttle"
        );
    }

    #[test]
    fn params_round_trip_and_refuse_nonsense() {
        let p = ModelParams::default();
        let text = serde_json::to_string(&p).unwrap();
        let back: ModelParams = serde_json::from_str(&text).unwrap();
        assert_eq!(p, back);
        let mut bad = p.clone();
        bad.fill_rate_gps = -1.0;
        assert!(bad.validate().unwrap_err().contains("fill_rate_gps"));
    }
}

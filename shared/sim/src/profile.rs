//! Lap profiles: where a track's straights and corners are, and how fast a car can be at
//! each metre of a lap.
//!
//! A track is a loop of straights and corners, starting at the start/finish line in the
//! middle of the front stretch (Pocono has three corners, the ovals four, Martinsville's
//! are hairpins between long straights). A *profile* is the classic lap-time-simulation
//! speed trace on a 2 m grid: each corner caps the speed (lowest at its apex), a forward
//! pass accelerates out of every corner as hard as power, drag and grip allow, a backward
//! pass brakes into every corner as late as the brakes allow, and the trace is the
//! lower of the two. Where the backward pass cut the trace is a braking zone; a driver
//! saving fuel lifts some distance before one (see `car/driver.rs`).
//!
//! The corner speeds are not typed in per track: one scale factor is found by bisection
//! so the profile's mean speed matches the track table's typical green-flag speed. At the
//! drafting tracks (510 hp) the corners are flat out and the speed is set by power and
//! drag instead, so the bisection finds the drag share a car keeps in the pack.

use crate::physics::{self, CORNER_SCRUB, DRIVETRAIN_EFF, G, M_PER_MI, MPS_PER_MPH, TRACTION_G};
use burnbar_core::tracks::{EnginePackage, Track};

/// Grid step of a profile, m.
const DS_M: f64 = 2.0;
/// A speed no car reaches: "no corner limit".
const NO_LIMIT: f64 = 150.0;
/// The apex of a corner is this much slower than its entry and exit.
const APEX_DIP: f64 = 0.04;

/// One piece of a lap: a share of the lap's length, and for a corner its speed relative
/// to the track's other corners.
#[derive(Debug, Clone, Copy)]
enum Seg {
    Straight(f64),
    Corner(f64, f64),
}

/// The track's shape from the line round to the line.
fn shape(key: &str) -> &'static [Seg] {
    use Seg::{Corner as C, Straight as S};
    match key {
        // Three corners of different character: T1 steep, the Tunnel Turn tight, T3 long.
        "pocono" => &[
            S(0.1417),
            C(0.115, 1.00),
            S(0.2314),
            C(0.095, 0.92),
            S(0.1348),
            C(0.140, 1.04),
            S(0.1417),
        ],
        // A paperclip: long straights, two tight hairpins, hard braking.
        "martinsville" => &[S(0.19), C(0.12, 1.0), S(0.38), C(0.12, 1.0), S(0.19)],
        // A short oval: shortish straights, real braking into flat-ish corners.
        "iowa" => &[S(0.12), C(0.25, 1.0), S(0.26), C(0.25, 0.98), S(0.12)],
        "nashville" => &[S(0.09), C(0.30, 1.0), S(0.20), C(0.30, 0.98), S(0.11)],
        "michigan" => &[S(0.10), C(0.27, 1.0), S(0.22), C(0.27, 1.0), S(0.14)],
        // Superspeedways: the tri-oval dogleg counts as straight; corners are flat out.
        "daytona" | "talladega" => &[S(0.09), C(0.24, 1.0), S(0.24), C(0.24, 1.0), S(0.19)],
        // Intermediate quad-ovals (Charlotte, Atlanta, unknown 1.5-mile).
        _ => &[S(0.10), C(0.28, 1.0), S(0.20), C(0.28, 0.99), S(0.14)],
    }
}

/// A track's lap as a grid: for each point, its corner's relative speed (0 on straights).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Lap length, m.
    pub len_m: f64,
    /// Grid step, m.
    pub ds_m: f64,
    /// Per point: relative corner speed at this point, 0 on a straight.
    corner_rel: Vec<f64>,
}

impl Layout {
    pub fn new(track: &Track) -> Layout {
        let len_m = track.length_mi * M_PER_MI;
        let n = (len_m / DS_M).round().max(16.0) as usize;
        let ds_m = len_m / n as f64;
        let segs = shape(track.key);
        let total: f64 = segs
            .iter()
            .map(|s| match s {
                Seg::Straight(f) | Seg::Corner(f, _) => *f,
            })
            .sum();
        let mut corner_rel = vec![0.0; n];
        let mut start = 0.0;
        for seg in segs {
            let (frac, rel) = match *seg {
                Seg::Straight(f) => (f / total, 0.0),
                Seg::Corner(f, r) => (f / total, r),
            };
            if rel > 0.0 {
                let a = (start * n as f64).round() as usize;
                let b = ((start + frac) * n as f64).round() as usize;
                for (i, slot) in corner_rel.iter_mut().enumerate().take(b.min(n)).skip(a) {
                    // Entry and exit a little faster than the apex.
                    let u = (i - a) as f64 / (b - a).max(1) as f64;
                    *slot = rel * (1.0 + APEX_DIP * (2.0 * (u - 0.5)).abs());
                }
            }
            start += frac;
        }
        Layout {
            len_m,
            ds_m,
            corner_rel,
        }
    }

    pub fn points(&self) -> usize {
        self.corner_rel.len()
    }
}

/// What a profile is computed for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProfileSpec {
    /// Corner speed for relative speed 1.0, m/s; `f64::INFINITY` for flat-out corners.
    pub corner_scale: f64,
    /// Share of the body's drag felt (below 1 in a draft).
    pub drag_mult: f64,
    /// Drag area, m².
    pub cda: f64,
    /// Mass, kg.
    pub mass_kg: f64,
    /// Engine power available at the wheels' end of the crank, W.
    pub power_w: f64,
    /// Deceleration under full braking, in g.
    pub brake_g: f64,
}

/// Speeds round one lap on the layout's grid.
#[derive(Debug, Clone)]
pub(crate) struct LapProfile {
    ds_m: f64,
    len_m: f64,
    /// Target speed per point, m/s.
    v: Vec<f32>,
    /// Distance from each point to the start of the next braking zone, m.
    brake_ahead_m: Vec<f32>,
    /// Whether each point is in a corner (scrub applies).
    corner: Vec<bool>,
    /// Lap length over the number of braking zones (infinite without any).
    run_m: f64,
}

impl LapProfile {
    pub fn build(layout: &Layout, spec: &ProfileSpec) -> LapProfile {
        let n = layout.points();
        let ds = layout.ds_m;
        let limit: Vec<f64> = layout
            .corner_rel
            .iter()
            .map(|&r| {
                if r > 0.0 {
                    (spec.corner_scale * r).min(NO_LIMIT)
                } else {
                    NO_LIMIT
                }
            })
            .collect();
        let corner: Vec<bool> = layout.corner_rel.iter().map(|&r| r > 0.0).collect();
        let accel = |v: f64, in_corner: bool| -> f64 {
            let scrub = if in_corner { 1.0 + CORNER_SCRUB } else { 1.0 };
            let drag = physics::drag_n(spec.cda, v) * spec.drag_mult * scrub;
            let push = spec.power_w * DRIVETRAIN_EFF / v.max(5.0);
            ((push - drag - physics::roll_n(spec.mass_kg)) / spec.mass_kg).min(TRACTION_G * G)
        };
        // Start where the limit is lowest, and go round until the lap closes on itself
        // (one lap when a corner binds; a few for a flat-out track).
        let i0 = (0..n)
            .min_by(|&a, &b| limit[a].total_cmp(&limit[b]))
            .unwrap_or(0);
        let mut fwd = vec![0.0f64; n];
        let mut v = limit[i0].min(60.0);
        for _ in 0..50 {
            for k in 0..n {
                let i = (i0 + k) % n;
                if k > 0 {
                    let p = (i + n - 1) % n;
                    v = (v * v + 2.0 * accel(v, corner[p]) * ds).max(1.0).sqrt();
                }
                v = v.min(limit[i]);
                fwd[i] = v;
            }
            let last = (i0 + n - 1) % n;
            let next = (v * v + 2.0 * accel(v, corner[last]) * ds)
                .max(1.0)
                .sqrt()
                .min(limit[i0]);
            let closed = (next - fwd[i0]).abs() < 1e-4;
            v = next;
            if closed {
                break;
            }
        }
        let mut out = fwd.clone();
        let b = spec.brake_g * G;
        for k in 1..=2 * n {
            let i = (i0 + 2 * n - k) % n;
            let next = out[(i + 1) % n];
            out[i] = out[i].min((next * next + 2.0 * b * ds).sqrt());
        }
        // Braking zones: where the backward pass cut the forward one.
        let braking: Vec<bool> = (0..n).map(|i| out[i] < fwd[i] - 0.05).collect();
        let mut brake_ahead = vec![f32::INFINITY; n];
        let mut dist = f64::INFINITY;
        for k in 0..2 * n {
            let i = (2 * n - 1 - k) % n;
            let starts = braking[i] && !braking[(i + n - 1) % n];
            dist = if starts { 0.0 } else { dist + ds };
            brake_ahead[i] = dist as f32;
        }
        let zones = (0..n).filter(|&i| brake_ahead[i] == 0.0).count();
        LapProfile {
            run_m: layout.len_m / zones as f64,
            ds_m: ds,
            len_m: layout.len_m,
            v: out.iter().map(|&x| x as f32).collect(),
            brake_ahead_m: brake_ahead,
            corner,
        }
    }

    fn index(&self, pos_m: f64) -> (usize, usize, f64) {
        let n = self.v.len();
        let x = pos_m.rem_euclid(self.len_m) / self.ds_m;
        let i = (x as usize).min(n - 1);
        (i, (i + 1) % n, x - i as f64)
    }

    /// Target speed at `pos_m` metres past the line, m/s.
    pub fn speed_at(&self, pos_m: f64) -> f64 {
        let (i, j, t) = self.index(pos_m);
        let (a, b) = (self.v[i] as f64, self.v[j] as f64);
        a + (b - a) * t
    }

    /// Distance to the next braking zone, m (infinite on a track without one).
    pub fn brake_ahead_m(&self, pos_m: f64) -> f64 {
        let (i, _, t) = self.index(pos_m);
        (self.brake_ahead_m[i] as f64 - t * self.ds_m).max(0.0)
    }

    /// The mean run from one braking zone to the next, m (infinite without any).
    pub fn run_m(&self) -> f64 {
        self.run_m
    }

    /// Whether `pos_m` is in a corner.
    pub fn in_corner(&self, pos_m: f64) -> bool {
        self.corner[self.index(pos_m).0]
    }

    /// Mean speed over the lap (distance over time), m/s.
    pub fn mean_speed(&self) -> f64 {
        let inv: f64 = self.v.iter().map(|&v| 1.0 / (v as f64).max(0.5)).sum();
        self.v.len() as f64 / inv
    }

    /// Highest speed on the lap, m/s.
    pub fn top_speed(&self) -> f64 {
        self.v.iter().fold(0.0f64, |m, &v| m.max(v as f64))
    }
}

/// Braking in g for a track: short tracks lean on the brakes harder (more grip, slower).
pub(crate) fn brake_g(track: &Track) -> f64 {
    if track.length_mi < 1.0 { 1.25 } else { 1.15 }
}

/// The reference profile of a track: a light car with the strongest engine of the field,
/// corner speeds (or, at drafting tracks, the drag kept in the pack) chosen so the mean
/// speed is a little above the track's typical green-flag speed (flat out at Daytona and
/// Talladega, where the drag share is what is found); real cars, heavier and
/// each a bit slower, then lap at about that speed.
pub(crate) fn reference_spec(track: &Track, layout: &Layout, power_w: f64) -> ProfileSpec {
    let cda = physics::cda_for(track.package);
    let target = track.green_speed_mph * MPS_PER_MPH * 1.012;
    let base = ProfileSpec {
        corner_scale: f64::INFINITY,
        drag_mult: 1.0,
        cda,
        mass_kg: physics::mass_kg(2.0),
        power_w,
        brake_g: brake_g(track),
    };
    let mean = |spec: &ProfileSpec| LapProfile::build(layout, spec).mean_speed();
    let flat_out = mean(&base);
    if track.package == EnginePackage::Hp510 && flat_out < target {
        // Flat out everywhere and still short of pack speed: find the drag a car keeps
        // in the pack.
        let (mut lo, mut hi) = (0.55, 1.0);
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if mean(&ProfileSpec {
                drag_mult: mid,
                ..base
            }) > target
            {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return ProfileSpec {
            drag_mult: 0.5 * (lo + hi),
            ..base
        };
    }
    if flat_out <= target {
        return base;
    }
    let (mut lo, mut hi) = (5.0, NO_LIMIT);
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if mean(&ProfileSpec {
            corner_scale: mid,
            ..base
        }) < target
        {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    ProfileSpec {
        corner_scale: 0.5 * (lo + hi),
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burnbar_core::tracks::lookup;

    fn reference(key: &str) -> (Layout, LapProfile) {
        let track = lookup(key).unwrap();
        let layout = Layout::new(track);
        let engine = physics::Engine::for_package(track.package);
        let spec = reference_spec(track, &layout, engine.peak_w * 1.03);
        let p = LapProfile::build(&layout, &spec);
        (layout, p)
    }

    #[test]
    fn every_track_profile_reaches_its_typical_speed() {
        for t in burnbar_core::tracks::TRACKS
            .iter()
            .filter(|t| t.shape == burnbar_core::tracks::Shape::Oval)
        {
            let (_, p) = reference(t.key);
            let mph = p.mean_speed() / MPS_PER_MPH;
            assert!(
                (mph / t.green_speed_mph - 1.012).abs() < 0.01,
                "{}: {mph}",
                t.key
            );
        }
    }

    #[test]
    fn pocono_has_three_braking_zones_and_daytona_none() {
        let (layout, p) = reference("pocono");
        let mut zones = 0;
        let n = layout.points();
        for i in 0..n {
            let here = p.brake_ahead_m[i] == 0.0;
            if here {
                zones += 1;
            }
        }
        let starts: Vec<usize> = (0..n).filter(|&i| p.brake_ahead_m[i] == 0.0).collect();
        assert_eq!(zones, 3, "{zones} braking zones at {starts:?} of {n}");
        let top = p.top_speed() / MPS_PER_MPH;
        assert!((185.0..210.0).contains(&top), "{top}");
        let (_, d) = reference("daytona");
        assert!(d.brake_ahead_m(0.0).is_infinite());
        let (_, m) = reference("martinsville");
        let slowest = m.v.iter().fold(f32::MAX, |a, &b| a.min(b)) as f64 / MPS_PER_MPH;
        assert!(slowest < 80.0, "Martinsville corners are slow: {slowest}");
    }
}

//! One car alone on a green track: the fuel and time of a lap, the yardstick the teams'
//! fuel numbers start from, and what the tests of saving and pushing measure.

use super::{Car, CarParams, Style, Surroundings};
use crate::physics::CAPACITY_GAL;
use crate::track::TrackCtx;

/// One car alone on a green track, rolling: the fuel and time of its third lap. Used to
/// seed the teams' fuel numbers and by the tests of saving and pushing.
pub(crate) fn solo_lap(ctx: &TrackCtx, save: f64, push: bool) -> (f64, f64) {
    let p = CarParams {
        number: "0".into(),
        driver: String::new(),
        pace: 1.0,
        power_mult: 1.0,
        fuel_mult: 1.0,
        fill_rate: super::FILL_RATE_GPS,
        tire_mult: 1.0,
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
    // Green, leading, nobody ahead.
    let around = Surroundings::alone(false, true, true);
    let dt = 0.1;
    let (mut fuel, mut time) = (0.0, 0.0);
    while car.d < 3.0 {
        car.control(ctx, &around, dt);
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
    use burnbar_core::tracks::{EnginePackage, lookup};

    fn ctx(key: &str) -> TrackCtx {
        TrackCtx::new(lookup(key).unwrap())
    }

    #[test]
    fn a_solo_lap_is_close_to_the_tracks_typical_speed() {
        for t in burnbar_core::tracks::TRACKS
            .iter()
            .filter(|t| t.shape == burnbar_core::tracks::Shape::Oval)
        {
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

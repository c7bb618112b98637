//! Which stints calibration takes as measurements, through the engine: a stint with a
//! weighed fill to the top measures the model only if the engine integrated all of it
//! (`calibrate::Unmeasured`). Races are written by hand, one car at 10 Hz, so each
//! case is exactly what its name says.

use burnbar_core::calibrate::{StintObs, Unmeasured};
use burnbar_core::{Engine, EngineConfig, ModelParams};

const T0: i64 = 1_750_593_600_000;

/// One car's race, line by line, with the clock and the distance it has run (in
/// tenths of a second at 150 mph: 600 to the 2.5 mi lap).
struct Race {
    lines: Vec<String>,
    ts: i64,
    ticks: i64,
}

impl Race {
    fn new() -> Race {
        let start = format!(
            r#"{{"v":1,"kind":"race_start","ts":{T0},"race_id":"r","track":"pocono","track_length_mi":2.5,"scheduled_laps":160,"fuel_capacity_gal":20,"cars":["1"]}}"#
        );
        let green = format!(r#"{{"v":1,"kind":"flag","ts":{T0},"flag":"green","lap":0}}"#);
        Race {
            lines: vec![start, green],
            ts: T0,
            ticks: 0,
        }
    }

    fn sample(&mut self, moving: bool, in_pit: bool) {
        let (mph, rpm, throttle) = if moving {
            (150.0, 9000, 100.0)
        } else {
            (0.0, 3000, 0.0)
        };
        let (lap, frac) = (self.ticks / 600, (self.ticks % 600) as f64 / 600.0);
        self.lines.push(format!(
            r#"{{"v":1,"car":"1","ts":{},"lap":{lap},"lap_frac":{frac:.4},"speed_mph":{mph},"rpm":{rpm},"throttle_pct":{throttle},"in_pit":{in_pit}}}"#,
            self.ts
        ));
    }

    /// `secs` of samples every 100 ms, moving at 150 mph (a 2.5 mi lap a minute) or
    /// standing.
    fn run(&mut self, secs: f64, moving: bool, in_pit: bool) {
        for _ in 0..(secs * 10.0).round() as i64 {
            self.sample(moving, in_pit);
            self.ts += 100;
            if moving {
                self.ticks += 1;
            }
        }
    }

    /// `secs` with no sample at all (the clock and the car go on).
    fn silent(&mut self, secs: f64) {
        self.ts += (secs * 1000.0).round() as i64;
        self.ticks += (secs * 10.0).round() as i64;
    }

    fn event(&mut self, kind: &str, extra: &str) {
        let lap = self.ticks / 600;
        self.lines.push(format!(
            r#"{{"v":1,"kind":"{kind}","ts":{},"car":"1","lap":{lap}{extra}}}"#,
            self.ts
        ));
    }

    fn flag(&mut self, flag: &str) {
        let lap = self.ticks / 600;
        self.lines.push(format!(
            r#"{{"v":1,"kind":"flag","ts":{},"flag":"{flag}","lap":{lap}}}"#,
            self.ts
        ));
    }

    /// A stop: `pit_in`, 12 s in the box, and (unless `lost`) a `pit_out` with a weighed
    /// fill to the top.
    fn stop(&mut self, lost: bool) {
        self.event("pit_in", "");
        self.run(3.0, true, true);
        self.run(12.0, false, true);
        self.run(2.0, true, true);
        if !lost {
            self.event("pit_out", r#","fuel_added_gal":12.5,"full":true"#);
        }
    }

    /// The stints the engine recorded.
    fn stints(self) -> Vec<StintObs> {
        let mut engine = Engine::new(EngineConfig::default(), ModelParams::default());
        engine.record_stints();
        let mut out = Vec::new();
        for l in &self.lines {
            engine.push_line(l.as_bytes(), &mut out).unwrap();
        }
        engine.finish(&mut out);
        engine.take_stints()
    }
}

/// The first stint's verdict: its measured fuel, or why it has none.
fn first(stints: &[StintObs]) -> (Option<f64>, Option<Unmeasured>) {
    (stints[0].measured_gal, stints[0].unmeasured)
}

#[test]
fn a_whole_stint_measures_even_with_the_car_staged_and_parked_on_pit_road_without_a_stop() {
    let mut race = Race::new();
    // Staged on pit road before the start (no pit_in), then ten minutes green.
    race.run(5.0, false, true);
    race.run(600.0, true, false);
    // Red: the field parked on pit road for 20 s (no pit_in), held 5 s into the yellow.
    race.flag("red");
    race.run(20.0, false, true);
    race.flag("yellow");
    race.run(5.0, false, true);
    race.run(120.0, true, false);
    race.flag("green");
    race.run(300.0, true, false);
    race.stop(false);
    let stints = race.stints();
    let (measured, why) = first(&stints);
    assert_eq!(why, None, "{:?}", stints[0].unmeasured);
    assert!((measured.unwrap() - 12.5).abs() < 1e-9);
}

#[test]
fn a_stop_whose_pit_out_was_lost_breaks_the_stint_it_ends_in() {
    let mut race = Race::new();
    race.run(600.0, true, false);
    race.stop(true);
    race.run(120.0, true, false);
    race.stop(false);
    assert_eq!(
        first(&race.stints()),
        (None, Some(Unmeasured::UnreportedStop))
    );
}

#[test]
fn a_gap_is_counted_once_even_across_windows_and_judged_against_moving_time() {
    // Ten minutes moving in all; the samples stop 0.7 s into a 5 s window, so the
    // flow is held to 1.7 s and the window's sweep counts the rest of it as gap.
    let verdict = |silent: f64| {
        let mut race = Race::new();
        race.run(300.0, true, false);
        race.run(0.8, true, false);
        race.silent(silent);
        race.run(300.0 - 0.8 - silent, true, false);
        // The box's standing time does not dilute the gap either.
        race.stop(false);
        first(&race.stints()).1
    };
    // 11 s silent, 10 s of it past the hold: 10 / 600 = 1.7 %, within 2 %. Counting the
    // window's part twice (3.3 s) would make it 2.2 %.
    assert_eq!(verdict(11.0), None);
    // 14 s silent: 13 / 600 = 2.2 %.
    assert_eq!(verdict(14.0), Some(Unmeasured::TelemetryGap));
}

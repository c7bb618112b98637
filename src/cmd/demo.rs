//! `burnbar demo`: a simulated race run live through the whole local pipeline, with the
//! commentators' dashboard and the Burn Bar served on 127.0.0.1.

use burnbar_core::{Engine, EngineConfig, ModelParams};
use burnbar_sim::SimConfig;
use clap::Args;

use crate::Failure;
use crate::cmd::dashboard::{check_speed, serve_feed};
use crate::cmd::silence::{parse_silence, silenced};
use crate::serve::feed::FeedLine;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Track key of an oval (pocono, michigan, charlotte, daytona, talladega, atlanta,
    /// martinsville, iowa, nashville, …, default; an unknown key's error lists them all).
    #[arg(long, default_value = "pocono")]
    track: String,
    /// Times real time, above 0 and at most 1000: 1 is a live race, 20 runs a lap of
    /// Pocono in about 2.5 s.
    #[arg(long, default_value_t = 1.0, value_parser = super::parse_speed)]
    speed: f64,
    /// Port on 127.0.0.1, 0 to 65535 (0 picks a free one).
    #[arg(long, default_value_t = 8080, value_parser = super::whole(0u16, u16::MAX))]
    port: u16,
    /// Random seed of the race, any whole number from 0 to 18446744073709551615.
    #[arg(long, default_value_t = 1, value_parser = super::whole(0u64, u64::MAX))]
    seed: u64,
    /// Rehearse a lost feed: car CAR's telemetry stops after SECONDS of race time, 0 to
    /// 36000 (`CAR@SECONDS`, repeatable; CAR one of the race's 40 cars). The pipeline
    /// and the pages handle it for real: the car's windows close by the silent-car rule
    /// and the dashboard greys it.
    #[arg(long, value_name = "CAR@SECONDS")]
    silence: Vec<String>,
    /// The saving (percent, 5 to 50) at which a car in its final window is called
    /// "can't make it"; carried in every RaceState.
    #[arg(long, default_value_t = 15.0, value_parser = super::parse_cant_make_it_pct)]
    cant_make_it_pct: f64,
}

pub fn run(a: DemoArgs) -> Result<(), Failure> {
    check_speed(a.speed)?;
    let cfg = SimConfig {
        track: a.track,
        seed: a.seed,
        // What a broadcast sees: pit stops without weighed amounts.
        live: true,
        ..SimConfig::default()
    };
    let sim = burnbar_sim::Simulation::new(&cfg).map_err(|e| Failure::usage(e.to_string()))?;
    let field = burnbar_sim::car_numbers(cfg.cars as usize);
    let cuts = a
        .silence
        .iter()
        .map(|s| parse_silence(s, burnbar_sim::START_TS, &field))
        .collect::<Result<Vec<_>, _>>()?;
    let lines = sim
        .filter(move |(ts, line)| !silenced(line, *ts, &cuts))
        .map(|(ts, line)| FeedLine {
            ts: Some(ts),
            line: line.into_bytes(),
        });
    let cfg = EngineConfig {
        cant_make_it_pct: a.cant_make_it_pct,
        ..EngineConfig::default()
    };
    let engine = Engine::new(cfg, ModelParams::default());
    serve_feed(
        "demo",
        lines,
        engine,
        a.port,
        a.speed,
        &field[..4.min(field.len())],
    )
}

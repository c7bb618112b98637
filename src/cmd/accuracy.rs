//! `burnbar accuracy`: how true the numbers are, against the simulator's ground truth.
//!
//! One command, deterministic for its arguments:
//!
//! 1. simulate **training** races (weighed fills) on every track of `--tracks`;
//! 2. `calibrate` the physics on them, and again without each track in turn; `train`
//!    the correction on the calibrated physics, and judge it without each track in turn
//!    (the same code as the two commands);
//! 3. simulate **held-out** races on other seeds, **live** (no weighed fills: splashes
//!    are sized from standing time, as on air), and replay each with the embedded
//!    defaults, the calibration, the calibration plus the correction, and the
//!    calibration made without the race's track;
//! 4. compare with the truth and print three tables: every variant over every track;
//!    the calibrated physics by track, with the leave-one-track-out rows; the calls at
//!    each `cant_make_it_pct` by track. Each figure is marked against its target.
//!
//! What is measured, and how: [`crate::accuracy`].
//!
//! Races are simulated twice (once per pass that needs them) rather than kept: a full
//! 40-car race is about half a gigabyte of NDJSON, and the simulator is deterministic.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burnbar_core::calibrate::{Fit, StintObs};
use burnbar_core::correction::{self, CorrectionModel};
use burnbar_core::{Engine, EngineConfig, ModelParams};
use clap::Args;

use crate::Failure;
use crate::accuracy::{
    Metrics, RaceEvents, RaceResult, RaceSpec, Results, SHOWN, Thresholds, Truth, calibrations,
    measure, parallel, push_all, recorded_stints, simulate, train_correction,
};
use crate::output::write_json;

#[derive(Args, Debug)]
pub struct AccuracyArgs {
    /// Tracks to simulate, comma-separated (two per engine package make the
    /// leave-one-track-out rows mean something for both).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "pocono,michigan,talladega,atlanta"
    )]
    tracks: Vec<String>,
    /// Training races per track (weighed fills), 1 to 100; the correction needs 2 races
    /// per engine package.
    #[arg(long, default_value_t = 4, value_parser = super::whole(1u32, 100))]
    train_races: u32,
    /// Held-out races per track (live feed), 1 to 100.
    #[arg(long, default_value_t = 5, value_parser = super::whole(1u32, 100))]
    test_races: u32,
    /// Cars per race, 1 to 99.
    #[arg(long, default_value_t = 40, value_parser = super::whole(1u32, 99))]
    cars: u32,
    /// Race length in laps, 1 to 2000 [default: each track's usual distance].
    #[arg(long, value_parser = super::whole(1u32, 2000))]
    laps: Option<u32>,
    /// First seed, 0 to 1000000000000: training races use seed, seed+1, …; held-out
    /// races seed+1000, ….
    #[arg(long, default_value_t = 7000, value_parser = super::whole(0u64, 1_000_000_000_000))]
    seed: u64,
    /// Worker threads, 1 to 256 [default: the machine's cores].
    #[arg(long, value_parser = super::whole(1u64, 256))]
    jobs: Option<u64>,
    /// Simulate the races without the official pit data on `pit_out` (`tires`,
    /// `box_s`), as a feed without it.
    #[arg(long)]
    no_pit_detail: bool,
    /// The saving (percent, 5-50) at which a car in its final window is called; the
    /// calls are also judged at 10, 15 and 20.
    #[arg(long, default_value = "15", value_parser = super::parse_cant_make_it_pct)]
    cant_make_it_pct: f64,
    /// Also write the fitted calibration here.
    #[arg(long)]
    calibration_out: Option<PathBuf>,
    /// Also write the trained correction here.
    #[arg(long)]
    correction_out: Option<PathBuf>,
    /// Also write the figures as JSON here (every variant pooled, and by track).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The ways every held-out race is replayed (the calibration without the race's track
/// comes after them).
const VARIANTS: [&str; 3] = ["defaults", "calibrated", "calibrated + correction"];

/// The after-last-stop target: the sd of the error, gallons, with and without the
/// official pit data.
const SD_TARGET: [f64; 2] = [0.15, 0.3];

pub fn run(a: AccuracyArgs) -> Result<(), Failure> {
    check(&a)?;
    let jobs = a
        .jobs
        .map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let train = races(&a, false);
    let test = races(&a, true);
    let th = Thresholds::with(a.cant_make_it_pct);
    let started = Instant::now();

    // 1. Calibrate on the training races, and without each track.
    let base = ModelParams::default();
    eprintln!(
        "burnbar accuracy: calibrating on {} training races ({} jobs)",
        train.len(),
        jobs
    );
    let stints = recorded_stints(&train, jobs, &base)?;
    let cal = calibrations(&stints, &base, &a.tracks)?;
    let params = cal.full.params.clone();

    // 2. Train the correction on the calibrated physics, and judge it without each track.
    eprintln!("burnbar accuracy: training the correction");
    let (model, training) = train_correction(&train, jobs, &params)?;
    let correction_loto = correction::leave_one_track_out(&training);

    // 3. Replay the held-out live races every way.
    eprintln!(
        "burnbar accuracy: replaying {} held-out live races",
        test.len()
    );
    let variants: [(&ModelParams, Option<&CorrectionModel>); 3] =
        [(&base, None), (&params, None), (&params, Some(&model))];
    let cfg = EngineConfig {
        cant_make_it_pct: a.cant_make_it_pct,
        ..EngineConfig::default()
    };
    let per_race = parallel(&test, jobs, |r| {
        replay_race(r, cfg, &variants, cal.without.get(&r.track), &th)
    })?;
    let sd_target = SD_TARGET[usize::from(a.no_pit_detail)];
    let results = Results::new(
        VARIANTS.to_vec(),
        &a.tracks,
        per_race,
        correction_loto,
        th,
        sd_target,
    );
    let (pooled, _) = results.pooled();
    for n in &pooled[SHOWN].notes {
        eprintln!("  {}: {n}", VARIANTS[SHOWN]);
    }

    // 4. The tables.
    let header = [
        training_line(train.len(), &stints, &cal.full, &model),
        loto_line(&results),
        held_out_line(&a, test.len()),
    ];
    let beats = correction_beats(&pooled);
    print_report(&header, &results, beats, started)
        .map_err(|e| Failure::other(format!("writing the report failed: {e}")))?;
    if let Some(p) = &a.json {
        let mut doc = results.to_json();
        doc["pit_detail"] = (!a.no_pit_detail).into();
        doc["correction_beats_physics"] = beats.into();
        write_json(p, &doc)?;
    }
    if let Some(p) = &a.calibration_out {
        write_json(p, &params)?;
    }
    if let Some(p) = &a.correction_out {
        write_json(p, &model)?;
    }
    Ok(())
}

/// Whether the correction beat the calibrated physics on the held-out races (3 % less
/// stint error, no more at pit entry), over the pooled variants.
fn correction_beats(pooled: &[Metrics]) -> bool {
    let (phys, corr) = (&pooled[1], &pooled[2]);
    corr.stint_median() < phys.stint_median() * 0.97 && corr.pit_median() <= phys.pit_median()
}

/// The report on standard output: the header lines, the tables, the verdict, the time.
fn print_report(
    header: &[String],
    results: &Results,
    beats: bool,
    started: Instant,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for line in header {
        writeln!(out, "{line}")?;
    }
    writeln!(out)?;
    results.write(&mut out)?;
    let verdict = if beats {
        "the correction beats the calibrated physics on held-out races"
    } else {
        "the correction does not measurably beat the calibrated physics on held-out races: physics alone stays the default"
    };
    writeln!(out, "\n{verdict}")?;
    writeln!(
        out,
        "(report made in {:.0} s of wall time)",
        started.elapsed().as_secs_f64()
    )
}

/// At least one track, training race and held-out race; every track known.
fn check(a: &AccuracyArgs) -> Result<(), Failure> {
    if a.tracks.is_empty() || a.train_races == 0 || a.test_races == 0 {
        return Err(Failure::usage(
            "--tracks, --train-races and --test-races must each name at least one",
        ));
    }
    let mut per_package = std::collections::BTreeMap::new();
    for t in &a.tracks {
        let Some(track) = burnbar_core::tracks::lookup(t) else {
            return Err(Failure::usage(format!("unknown track `{t}`")));
        };
        *per_package.entry(track.package.key()).or_insert(0) += a.train_races;
    }
    let short: Vec<String> = per_package
        .iter()
        .filter(|(_, n)| **n < 2)
        .map(|(k, n)| format!("{k} has {n}"))
        .collect();
    if !short.is_empty() {
        return Err(Failure::usage(format!(
            "the correction needs 2 training races per engine package; {} (raise --train-races, or add a track of that package to --tracks)",
            short.join(", ")
        )));
    }
    crate::output::check_outputs(
        &[],
        &[
            ("--calibration-out", a.calibration_out.as_deref()),
            ("--correction-out", a.correction_out.as_deref()),
            ("--json", a.json.as_deref()),
        ],
    )
}

/// The training races (weighed fills; seeds from `--seed`), or with `live` the
/// held-out ones (seeds from `--seed` + 1000); 100 seeds apart from track to track.
fn races(a: &AccuracyArgs, live: bool) -> Vec<RaceSpec> {
    let (first, count) = if live {
        (a.seed + 1000, a.test_races)
    } else {
        (a.seed, a.train_races)
    };
    a.tracks
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| (0..count).map(move |i| (t, first + (ti as u64) * 100 + i as u64)))
        .map(|(t, seed)| RaceSpec {
            track: t.to_owned(),
            seed,
            live,
            pit_detail: !a.no_pit_detail,
            laps: a.laps,
            cars: a.cars,
        })
        .collect()
}

/// One held-out race simulated with its truth and replayed each way of `variants`,
/// then with `without` (the calibration made without its track), each measured.
fn replay_race(
    r: &RaceSpec,
    cfg: EngineConfig,
    variants: &[(&ModelParams, Option<&CorrectionModel>)],
    without: Option<&ModelParams>,
    th: &Thresholds,
) -> Result<RaceResult, Failure> {
    let (race, truth, summary) = simulate(r, true)?;
    let truth = Truth::parse(&truth);
    let events = RaceEvents::parse(&race);
    let run = |p: &ModelParams, m: Option<&CorrectionModel>| {
        let mut engine = Engine::new(cfg, p.clone());
        if let Some(m) = m {
            engine.set_correction(m.clone());
        }
        let updates = push_all(&mut engine, &race);
        let mut m = measure(&truth, &updates, &events, summary.laps, th);
        for n in &mut m.notes {
            *n = format!("{} seed {}: {n}", r.track, r.seed);
        }
        m
    };
    Ok(RaceResult {
        track: r.track.clone(),
        variants: variants.iter().map(|(p, m)| run(p, *m)).collect(),
        loto: without.map(|p| run(p, None)),
    })
}

/// The report's first line: what the calibration and the correction were trained on.
fn training_line(races: usize, stints: &[StintObs], fit: &Fit, model: &CorrectionModel) -> String {
    format!(
        "training: {} races ({} measured stints; calibration: {}); correction cross-validated median |error| {:.2}% (physics {:.2}%)",
        races,
        stints.iter().filter(|s| s.measured_gal.is_some()).count(),
        fit.used
            .iter()
            .map(|(p, n)| format!("{} {} stints", p.key(), n))
            .collect::<Vec<_>>()
            .join(", "),
        100.0 * model.cv_median_corrected,
        100.0 * model.cv_median_physics,
    )
}

/// The report's second line: the correction with each track held out of its training.
fn loto_line(r: &Results) -> String {
    let l = &r.correction_loto;
    match (l.physics_median, l.corrected_median) {
        (Some(p), Some(c)) => format!(
            "correction trained without the track it is scored on: median |error| {:.2}% (physics {:.2}%)",
            100.0 * c,
            100.0 * p
        ),
        _ => "correction trained without the track it is scored on: no package has two tracks"
            .to_owned(),
    }
}

/// The report's third line: the held-out races.
fn held_out_line(a: &AccuracyArgs, races: usize) -> String {
    format!(
        "held out: {} live races on {} ({} cars, seeds from {}), {}; calls at cant_make_it_pct {}%",
        races,
        a.tracks.join(", "),
        a.cars,
        a.seed + 1000,
        if a.no_pit_detail {
            "pit_out without tires and box_s"
        } else {
            "pit_out with tires and box_s"
        },
        a.cant_make_it_pct
    )
}

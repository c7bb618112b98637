//! `burnbar accuracy`: how true the numbers are, against the simulator's ground truth.
//!
//! One command, deterministic for its arguments:
//!
//! 1. simulate **training** races (weighed fills) on every track of `--tracks`;
//! 2. `calibrate` the physics on them, then `train` the correction on the calibrated
//!    physics (the same code as the two commands);
//! 3. simulate **held-out** races on other seeds, **live** (no weighed fills: splashes
//!    are sized from standing time, as on air), and replay each with the embedded
//!    defaults, the calibration, and the calibration plus the correction;
//! 4. compare with the truth and print one table.
//!
//! What is measured, and how: [`crate::accuracy`].
//!
//! Races are simulated twice (once per pass that needs them) rather than kept: a full
//! 40-car race is about half a gigabyte of NDJSON, and the simulator is deterministic.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burnbar_core::calibrate::{self, Fit, StintObs};
use burnbar_core::correction::{self, CorrectionModel, TrainingStint};
use burnbar_core::{Engine, EngineConfig, ModelParams};
use clap::Args;

use crate::Failure;
use crate::accuracy::{
    Honesty, Metrics, RaceSpec, Truth, honesty, leave_one_track_out, measure, parallel,
    pit_entries, push_all, simulate, write_honesty, write_table,
};
use crate::output::write_json;

#[derive(Args, Debug)]
pub struct AccuracyArgs {
    /// Tracks to simulate, comma-separated (at least two of different engine packages
    /// make the report mean something for both).
    #[arg(long, value_delimiter = ',', default_value = "pocono,talladega")]
    tracks: Vec<String>,
    /// Training races per track (weighed fills).
    #[arg(long, default_value_t = 4)]
    train_races: u32,
    /// Held-out races per track (live feed).
    #[arg(long, default_value_t = 5)]
    test_races: u32,
    /// Cars per race.
    #[arg(long, default_value_t = 40)]
    cars: u32,
    /// Race length in laps [default: each track's usual distance].
    #[arg(long)]
    laps: Option<u32>,
    /// First seed: training races use seed, seed+1, …; held-out races seed+1000, ….
    #[arg(long, default_value_t = 7000)]
    seed: u64,
    /// Simulate every race without the official pit data (`pit_out` without `tires` and
    /// `box_s`).
    #[arg(long)]
    no_pit_detail: bool,
    /// Worker threads [default: the machine's cores].
    #[arg(long)]
    jobs: Option<usize>,
    /// Also write the fitted calibration here.
    #[arg(long)]
    calibration_out: Option<PathBuf>,
    /// Also write the trained correction here.
    #[arg(long)]
    correction_out: Option<PathBuf>,
    /// Also write the figures as JSON here (one object per variant).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// A way of replaying the held-out races: its name, its physics, its correction.
type Variant<'a> = (&'a str, &'a ModelParams, Option<&'a CorrectionModel>);

pub fn run(a: AccuracyArgs) -> Result<(), Failure> {
    check(&a)?;
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let train = races(&a, false);
    let test = races(&a, true);
    let started = Instant::now();

    // 1. Calibrate on the training races.
    let base = ModelParams::default();
    eprintln!(
        "burnbar accuracy: calibrating on {} training races ({} jobs)",
        train.len(),
        jobs
    );
    let stints = recorded_stints(&train, jobs, &base)?;
    let fit = calibrate::fit(&stints, &base, a.tracks.len() == 1)
        .map_err(|e| Failure::other(e.to_string()))?;
    let params = fit.params.clone();

    // 2. Train the correction on the calibrated physics.
    eprintln!("burnbar accuracy: training the correction");
    let model = train_correction(&train, jobs, &params)?;

    // 3. Replay the held-out live races three ways.
    eprintln!(
        "burnbar accuracy: replaying {} held-out live races",
        test.len()
    );
    let variants: [Variant; 3] = [
        ("defaults", &base, None),
        ("calibrated", &params, None),
        ("calibrated + correction", &params, Some(&model)),
    ];
    let (totals, honest) = replay_held_out(&test, jobs, &variants)?;
    eprintln!("burnbar accuracy: leaving each track out of the calibration in turn");
    let left_out = leave_one_track_out(&a.tracks, &stints, &base, &test, jobs)?;
    for n in &totals[1].notes {
        eprintln!("  calibrated: {n}");
    }

    // 4. The table.
    let mut out = std::io::stdout().lock();
    let w = |e: std::io::Error| Failure::other(format!("writing the report failed: {e}"));
    writeln!(out, "{}", training_line(train.len(), &stints, &fit, &model)).map_err(w)?;
    writeln!(out, "{}", held_out_line(&a, test.len())).map_err(w)?;
    writeln!(out).map_err(w)?;
    write_table(&mut out, &variants.map(|v| v.0), &totals, test.len()).map_err(w)?;
    write_honesty(&mut out, &variants.map(|v| v.0), &honest, &left_out).map_err(w)?;
    let (phys, corr) = (&totals[1], &totals[2]);
    let beats =
        corr.stint_median() < phys.stint_median() * 0.97 && corr.pit_median() <= phys.pit_median();
    let verdict = if beats {
        "the correction beats the calibrated physics on held-out races"
    } else {
        "the correction does not measurably beat the calibrated physics on held-out races: physics alone stays the default"
    };
    writeln!(out, "\n{verdict}").map_err(w)?;
    writeln!(out, "({:.0} s)", started.elapsed().as_secs_f64()).map_err(w)?;
    if let Some(p) = &a.json {
        write_json(p, &figures_json(&variants, &totals, test.len(), beats))?;
    }
    if let Some(p) = &a.calibration_out {
        write_json(p, &params)?;
    }
    if let Some(p) = &a.correction_out {
        write_json(p, &model)?;
    }
    Ok(())
}

/// At least one track, training race and held-out race; every track known.
fn check(a: &AccuracyArgs) -> Result<(), Failure> {
    if a.tracks.is_empty() || a.train_races == 0 || a.test_races == 0 {
        return Err(Failure::usage(
            "--tracks, --train-races and --test-races must each name at least one",
        ));
    }
    for t in &a.tracks {
        if burnbar_core::tracks::lookup(t).is_none() {
            return Err(Failure::usage(format!("unknown track `{t}`")));
        }
    }
    Ok(())
}

/// The training races (weighed fills; seeds from `--seed`), or with `live` the
/// held-out ones (seeds from `--seed` + 1000); 100 seeds apart from track to track; with
/// the official pit data unless `--no-pit-detail`.
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

/// The stints of every race as `burnbar calibrate` records them, on `base` physics.
fn recorded_stints(
    races: &[RaceSpec],
    jobs: usize,
    base: &ModelParams,
) -> Result<Vec<StintObs>, Failure> {
    let per_race = parallel(races, jobs, |r| {
        let race = simulate(r, false)?.0;
        let mut engine = Engine::new(EngineConfig::default(), base.clone());
        engine.record_stints();
        push_all(&mut engine, &race);
        Ok(engine.take_stints())
    })?;
    Ok(per_race.into_iter().flatten().collect())
}

/// The correction trained on every race as `burnbar train` trains it, over `params`.
fn train_correction(
    races: &[RaceSpec],
    jobs: usize,
    params: &ModelParams,
) -> Result<CorrectionModel, Failure> {
    let per_race = parallel(races, jobs, |r| {
        let race = simulate(r, false)?.0;
        let cfg = EngineConfig::default();
        let mut engine = Engine::new(cfg, params.clone());
        engine.record_stints();
        engine.collect_features();
        push_all(&mut engine, &race);
        let obs = engine.take_stints();
        Ok(correction::training_stints(
            &obs,
            &engine.take_features(),
            cfg.window_ms,
        ))
    })?;
    let training: Vec<TrainingStint> = per_race.into_iter().flatten().collect();
    correction::train(&training).map_err(|e| Failure::other(e.to_string()))
}

/// Every held-out race replayed each way of `variants` and measured; the totals, one
/// per variant, and the band's honesty ([`crate::accuracy::honesty`]), one per variant.
fn replay_held_out(
    races: &[RaceSpec],
    jobs: usize,
    variants: &[Variant],
) -> Result<(Vec<Metrics>, Vec<Honesty>), Failure> {
    let per_race: Vec<Vec<(Metrics, Honesty)>> = parallel(races, jobs, |r| {
        let (race, truth, summary) = simulate(r, true)?;
        let truth = Truth::parse(&truth);
        let pits = pit_entries(&race);
        Ok(variants
            .iter()
            .map(|(_, p, m)| {
                let mut engine = Engine::new(EngineConfig::default(), (*p).clone());
                if let Some(m) = m {
                    engine.set_correction((*m).clone());
                }
                let updates = push_all(&mut engine, &race);
                let mut m = measure(&truth, &updates, &pits, summary.laps);
                for n in &mut m.notes {
                    *n = format!("{} seed {}: {n}", r.track, r.seed);
                }
                (m, honesty(&r.track, &race, &truth, &updates))
            })
            .collect())
    })?;
    let mut totals: Vec<Metrics> = (0..variants.len()).map(|_| Metrics::default()).collect();
    let mut honest: Vec<Honesty> = vec![Honesty::default(); variants.len()];
    for race in per_race {
        for ((t, h), (m, hm)) in totals.iter_mut().zip(honest.iter_mut()).zip(race) {
            t.absorb(m);
            h.absorb(hm);
        }
    }
    Ok((totals, honest))
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

/// The report's second line: the held-out races.
fn held_out_line(a: &AccuracyArgs, races: usize) -> String {
    format!(
        "held out: {} live races on {} ({} cars, seeds from {}{})",
        races,
        a.tracks.join(", "),
        a.cars,
        a.seed + 1000,
        if a.no_pit_detail { "; no pit data" } else { "" }
    )
}

/// The figures of `--json`: one object per variant.
fn figures_json(
    variants: &[Variant],
    totals: &[Metrics],
    races: usize,
    beats: bool,
) -> serde_json::Value {
    let figures: Vec<serde_json::Value> = variants
        .iter()
        .zip(totals)
        .map(|((name, _, _), m)| m.to_json(name, races))
        .collect();
    serde_json::json!({
        "races": races,
        "variants": figures,
        "correction_beats_physics": beats,
    })
}

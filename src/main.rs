//! `burnbar`: the local command. It runs the same core as the Lambda functions on one
//! machine with embedded defaults: no AWS account, no network, no services.
//!
//! Contract: `../shared/spec/cli.md`. Exit status 0 when done, 2 for bad arguments or an
//! unreadable calibration file, 1 for any other failure, each with a one-line reason.
//!
//! # Layout
//!
//! - this file: the commands and their arguments.
//! - [`serve`]: the local dashboard server of `demo` and `replay --serve` (AppSync's
//!   protocol, the pages, the pipeline at broadcast pace).

mod accuracy;
mod serve;

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use burnbar_core::correction::{self, CorrectionModel};
use burnbar_core::{Engine, EngineConfig, FuelUpdate, ModelParams, Reject};
use burnbar_sim::{SimConfig, SimError};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// Real-time fuel analytics for motor-racing broadcasts, on one machine.
#[derive(Parser, Debug)]
#[command(name = "burnbar", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a race and write it as telemetry-v1 NDJSON.
    Simulate(SimulateArgs),
    /// Run NDJSON telemetry through the pipeline and write FuelUpdates as NDJSON.
    Replay(ReplayArgs),
    /// Fit the fuel model to historical races with weighed fills; write the parameters.
    Calibrate(CalibrateArgs),
    /// Simulate a race live and serve the commentators' dashboard and the Burn Bar.
    Demo(DemoArgs),
    /// Train the learned correction of each window's burn on races with weighed fills.
    Train(TrainArgs),
    /// Measure accuracy against the simulator's truth: calibrate and train on simulated
    /// races, replay held-out live races with and without the correction, print a table.
    Accuracy(accuracy::AccuracyArgs),
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Historical race files (NDJSON) whose pit_out events carry fuel_added_gal.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The calibrated physics the correction corrects (`burnbar calibrate --out`)
    /// [default: embedded defaults].
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// Write the model here (JSON: `replay --correction`, the SageMaker artifact).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Track key (pocono, michigan, charlotte, daytona, talladega, atlanta, martinsville,
    /// iowa, nashville, default).
    #[arg(long, default_value = "pocono")]
    track: String,
    /// Times real time: 1 is a live race, 20 runs a lap of Pocono in about 2.5 s.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Random seed of the race.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Rehearse a lost feed: car CAR's telemetry stops after SECONDS of race time
    /// (`CAR@SECONDS`, repeatable). The pipeline and the pages handle it for real:
    /// the car's windows close by the silent-car rule and the dashboard greys it.
    #[arg(long, value_name = "CAR@SECONDS")]
    silence: Vec<String>,
}

#[derive(Args, Debug)]
struct CalibrateArgs {
    /// Historical race files (NDJSON) whose pit_out events carry fuel_added_gal.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Write the fitted parameters here (JSON, for `replay --calibration`).
    #[arg(long)]
    out: PathBuf,
    /// Start from these parameters instead of the embedded defaults.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Accept races from one track only: the file is then meant for that track alone
    /// (by default a calibration needs two tracks, as every track of a package uses it).
    #[arg(long)]
    single_track: bool,
}

#[derive(Args, Debug)]
struct SimulateArgs {
    /// Track key (pocono, michigan, charlotte, daytona, talladega, atlanta, martinsville,
    /// iowa, nashville, default).
    #[arg(long, default_value = "pocono")]
    track: String,
    /// Race length in laps [default: the track's usual distance].
    #[arg(long)]
    laps: Option<u32>,
    /// Number of cars.
    #[arg(long, default_value_t = 40)]
    cars: u32,
    /// Samples per second per car.
    #[arg(long, default_value_t = 10)]
    hz: u32,
    /// Random seed: the same arguments give the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fraction of samples that arrive duplicated, reordered within the lateness, split
    /// by channel, or next to a malformed record (what arrives, never what happened).
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    /// A live feed: pit stops carry no weighed fuel amount (`fuel_added_gal` and `full`
    /// are null).
    #[arg(long)]
    live: bool,
    /// Write the race here [default: standard output].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the ground truth here (per car per window, then per stint).
    #[arg(long)]
    truth: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// NDJSON files to read in order; `-` or none reads standard input.
    files: Vec<PathBuf>,
    /// Model parameters written by `burnbar calibrate` [default: embedded defaults].
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// A learned correction written by `burnbar train`, applied in-process to every
    /// window [default: none, physics alone].
    #[arg(long)]
    correction: Option<PathBuf>,
    /// Write FuelUpdates here [default: standard output].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep every rejected line here, with its reason, as NDJSON.
    #[arg(long)]
    rejected: Option<PathBuf>,
    /// Window width in ms.
    #[arg(long, default_value_t = 5000)]
    window_ms: i64,
    /// Allowed lateness in ms.
    #[arg(long, default_value_t = 5000)]
    lateness_ms: i64,
    /// Show the replay on the dashboard (paced at `--speed`) instead of writing updates.
    #[arg(long, conflicts_with_all = ["out", "rejected"])]
    serve: bool,
    /// With `--serve`: the port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080, requires = "serve")]
    port: u16,
    /// With `--serve`: times real time, by the records' event time.
    #[arg(long, default_value_t = 1.0, requires = "serve")]
    speed: f64,
}

/// A failure with its exit status.
pub(crate) struct Failure {
    code: u8,
    reason: String,
}

impl Failure {
    pub(crate) fn usage(reason: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            reason: reason.into(),
        }
    }
    pub(crate) fn other(reason: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            reason: reason.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                eprintln!(
                    "burnbar: a command is needed: simulate, replay, calibrate or demo (see --help)"
                );
                return ExitCode::from(2);
            }
            // One line: clap's first line, without its "error: " prefix.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("burnbar: {first} (see --help)");
            return ExitCode::from(2);
        }
    };
    let res = match cli.command {
        Command::Simulate(a) => simulate(a),
        Command::Replay(a) => replay(a),
        Command::Calibrate(a) => calibrate(a),
        Command::Demo(a) => demo(a),
        Command::Train(a) => train(a),
        Command::Accuracy(a) => accuracy::run(a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("burnbar: {}", f.reason);
            ExitCode::from(f.code)
        }
    }
}

fn create(path: &Path, what: &str) -> Result<BufWriter<File>, Failure> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| Failure::other(format!("cannot create {what} {}: {e}", path.display())))
}

fn simulate(a: SimulateArgs) -> Result<(), Failure> {
    let cfg = SimConfig {
        track: a.track,
        laps: a.laps,
        cars: a.cars,
        hz: a.hz,
        seed: a.seed,
        faults: a.faults,
        live: a.live,
        ..SimConfig::default()
    };
    let started = Instant::now();
    let mut out: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(create(p, "output file")?),
        None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock())),
    };
    let mut truth = a
        .truth
        .as_deref()
        .map(|p| create(p, "truth file"))
        .transpose()?;
    let summary =
        burnbar_sim::simulate(&cfg, &mut out, truth.as_mut().map(|t| t as &mut dyn Write))
            .map_err(|e| match e {
                SimError::Io(e) => Failure::other(format!("writing the race failed: {e}")),
                other => Failure::usage(other.to_string()),
            })?;
    out.flush()
        .map_err(|e| Failure::other(format!("writing the race failed: {e}")))?;
    if let Some(t) = truth.as_mut() {
        t.flush()
            .map_err(|e| Failure::other(format!("writing the truth failed: {e}")))?;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "burnbar simulate: {} laps, {} records ({} samples, {} events), {} cautions, {} pit stops in {:.2} s; cars that ran dry: {}",
        summary.laps,
        summary.records,
        summary.samples,
        summary.events,
        summary.cautions,
        summary.pit_stops,
        secs,
        if summary.ran_dry.is_empty() {
            "none".to_owned()
        } else {
            summary
                .ran_dry
                .iter()
                .map(|c| format!("#{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    Ok(())
}

/// Reads a correction model file, or says in one line why it cannot.
fn load_correction(path: &Path) -> Result<CorrectionModel, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read correction model {}: {e}",
            path.display()
        ))
    })?;
    CorrectionModel::from_json(&text)
        .map_err(|e| Failure::usage(format!("correction model {}: {e}", path.display())))
}

/// The parameters of `path`, or the embedded defaults without one.
fn calibration_or_default(path: Option<&Path>) -> Result<ModelParams, Failure> {
    path.map_or_else(|| Ok(ModelParams::default()), load_calibration)
}

/// Refuses an `--out` that is also an input: creating it would truncate it unread.
fn refuse_output_among_inputs(files: &[PathBuf], out: &Path) -> Result<(), Failure> {
    if files.iter().any(|f| same_file(f, out)) {
        return Err(Failure::usage(format!(
            "--out {} is also an input: it would be overwritten before it is read",
            out.display()
        )));
    }
    Ok(())
}

/// Writes `value` as pretty JSON and a newline to `path`.
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).expect("plain data serializes");
    std::fs::write(path, text + "\n")
        .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))
}

/// Reads the calibration file, or says in one line why it cannot.
fn load_calibration(path: &Path) -> Result<ModelParams, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read calibration file {}: {e}",
            path.display()
        ))
    })?;
    let params: ModelParams = serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "calibration file {} is not valid: {e}",
            path.display()
        ))
    })?;
    params.validate().map_err(|e| {
        Failure::usage(format!(
            "calibration file {} is not valid: {e}",
            path.display()
        ))
    })?;
    Ok(params)
}

fn replay(a: ReplayArgs) -> Result<(), Failure> {
    let params = calibration_or_default(a.calibration.as_deref())?;
    let cfg = EngineConfig {
        window_ms: a.window_ms,
        lateness_ms: a.lateness_ms,
        ..EngineConfig::default()
    };
    cfg.validate().map_err(Failure::usage)?;
    let correction = a.correction.as_deref().map(load_correction).transpose()?;
    let new_engine = || {
        let mut e = Engine::new(cfg, params.clone());
        if let Some(m) = &correction {
            e.set_correction(m.clone());
        }
        e
    };
    let files: Vec<PathBuf> = if a.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        a.files.clone()
    };
    let inputs = open_inputs(&files)?;
    if a.serve {
        check_speed(a.speed)?;
        let engine = new_engine();
        return serve_feed("replay", file_lines(inputs), engine, a.port, a.speed);
    }
    // Creating an output truncates it: never one of the inputs.
    for (flag, out) in [("--out", &a.out), ("--rejected", &a.rejected)] {
        if let Some(out) = out
            && files.iter().any(|f| same_file(f, out))
        {
            return Err(Failure::usage(format!(
                "{flag} {} is also an input: it would be overwritten before it is read",
                out.display()
            )));
        }
    }
    let mut out: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(create(p, "output file")?),
        None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock())),
    };
    let mut rejected = a
        .rejected
        .as_deref()
        .map(|p| create(p, "rejected file"))
        .transpose()?;

    let progress = if io::stderr().is_terminal() {
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg}").expect("static progress template"),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    } else {
        ProgressBar::hidden()
    };

    let started = Instant::now();
    let mut engine = new_engine();
    let write_err = |e: io::Error| Failure::other(format!("writing updates failed: {e}"));
    feed(
        inputs,
        &mut engine,
        &progress,
        |name, line_no, text, res, updates| {
            if let Err(reason) = res
                && let Some(rej) = rejected.as_mut()
            {
                let rec = serde_json::json!({
                    "file": name,
                    "line": line_no,
                    "reason": reason.code.as_str(),
                    "field": reason.field,
                    "detail": reason.detail,
                    "record": String::from_utf8_lossy(text),
                });
                serde_json::to_writer(&mut *rej, &rec)
                    .map_err(|e| Failure::other(format!("writing rejected lines failed: {e}")))?;
                rej.write_all(b"\n")
                    .map_err(|e| Failure::other(format!("writing rejected lines failed: {e}")))?;
            }
            if !updates.is_empty() {
                write_updates(&mut out, updates).map_err(write_err)?;
                updates.clear();
            }
            Ok(())
        },
    )?;
    let mut updates: Vec<FuelUpdate> = Vec::new();
    engine.finish(&mut updates);
    write_updates(&mut out, &updates).map_err(write_err)?;
    out.flush().map_err(write_err)?;
    if let Some(r) = rejected.as_mut() {
        r.flush()
            .map_err(|e| Failure::other(format!("writing rejected lines failed: {e}")))?;
    }
    progress.finish_and_clear();
    print_summary(&engine, started.elapsed());
    Ok(())
}

/// The longest line read: a Kinesis record is at most 1 MiB, and no telemetry line is
/// anywhere near it; a longer one is rejected without being held, so that a file
/// without line breaks cannot take the machine's memory.
const MAX_LINE: usize = 1 << 20;

enum Line {
    Read,
    TooLong,
    End,
}

/// Reads one line into `buf` (without holding more than `max` bytes of it). A longer
/// line is skipped to its end and reported; `buf` then keeps its first `max` bytes.
fn read_line_capped(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if !any {
                Line::End
            } else if too_long {
                Line::TooLong
            } else {
                Line::Read
            });
        }
        any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            let room = max.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..take.min(room)]);
            too_long = take > room;
        }
        r.consume(take);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Read });
        }
    }
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    if a.as_os_str() == "-" {
        return false;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// An input's name (for messages) and its reader.
type Input = (String, Box<dyn Read>);

/// Opens every input first, so that a missing file fails before any output is written;
/// `-` is standard input.
fn open_inputs(files: &[PathBuf]) -> Result<Vec<Input>, Failure> {
    let mut inputs: Vec<Input> = Vec::with_capacity(files.len());
    for f in files {
        if f.as_os_str() == "-" {
            inputs.push(("-".to_owned(), Box::new(io::stdin().lock())));
        } else {
            let file = File::open(f)
                .map_err(|e| Failure::other(format!("cannot open {}: {e}", f.display())))?;
            inputs.push((f.display().to_string(), Box::new(file)));
        }
    }
    Ok(inputs)
}

/// Feeds every line of `inputs` to `engine` in order, in bounded memory; `on_step` gets
/// each line's file, number, text and result, and the updates it closed.
fn feed(
    inputs: Vec<Input>,
    engine: &mut Engine,
    progress: &ProgressBar,
    mut on_step: impl FnMut(
        &str,
        u64,
        &[u8],
        Result<(), Reject>,
        &mut Vec<FuelUpdate>,
    ) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut updates: Vec<FuelUpdate> = Vec::new();
    let mut line = Vec::with_capacity(4096);
    for (name, input) in inputs {
        let mut reader = BufReader::with_capacity(1 << 20, input);
        let mut line_no: u64 = 0;
        loop {
            let status = read_line_capped(&mut reader, &mut line, MAX_LINE)
                .map_err(|e| Failure::other(format!("reading {name} failed: {e}")))?;
            let too_long = match status {
                Line::End => break,
                Line::Read => false,
                Line::TooLong => true,
            };
            line_no += 1;
            let text = line.trim_ascii();
            if text.is_empty() && !too_long {
                continue;
            }
            let res = if too_long {
                Err(engine.reject_unread(&format!(
                    "the line is longer than {MAX_LINE} bytes (a Kinesis record is at most 1 MiB)"
                )))
            } else {
                engine.push_line(text, &mut updates)
            };
            on_step(&name, line_no, text, res, &mut updates)?;
            updates.clear();
            if line_no.is_multiple_of(1 << 16) {
                progress.set_message(format!("{name}: {line_no} lines"));
            }
        }
    }
    Ok(())
}

fn calibrate(a: CalibrateArgs) -> Result<(), Failure> {
    let base = calibration_or_default(a.from.as_deref())?;
    refuse_output_among_inputs(&a.files, &a.out)?;
    let inputs = open_inputs(&a.files)?;
    let mut engine = Engine::new(EngineConfig::default(), base.clone());
    engine.record_stints();
    feed(
        inputs,
        &mut engine,
        &ProgressBar::hidden(),
        |_, _, _, _, _| Ok(()),
    )?;
    engine.finish(&mut Vec::new());
    let stints = engine.take_stints();
    let fit = burnbar_core::calibrate::fit(&stints, &base, a.single_track)
        .map_err(|e| Failure::other(e.to_string()))?;
    let mut stdout = io::stdout().lock();
    let w = |e: io::Error| Failure::other(format!("writing the fit failed: {e}"));
    writeln!(
        stdout,
        "{:<24} {:>4} {:>8} {:>10} {:>10} {:>8} {:>10} {:>8}",
        "race", "car", "package", "measured", "before", "error", "after", "error"
    )
    .map_err(w)?;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for s in stints.iter().filter(|s| s.measured_gal.is_some()) {
        let m = s.measured_gal.expect("measured");
        let b = s.estimate(base.package(s.package));
        let f = s.estimate(fit.params.package(s.package));
        before.push(((b - m) / m).abs());
        after.push(((f - m) / m).abs());
        writeln!(
            stdout,
            "{:<24} {:>4} {:>8} {:>10.3} {:>10.3} {:>7.2}% {:>10.3} {:>7.2}%",
            s.race_id,
            s.car,
            s.package.key(),
            m,
            b,
            100.0 * (b - m) / m,
            f,
            100.0 * (f - m) / m
        )
        .map_err(w)?;
    }
    let pct = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        100.0 * v[((v.len() - 1) as f64 * q).round() as usize]
    };
    writeln!(
        stdout,
        "measured stints {} (left out {}): |error| median {:.2}% p90 {:.2}% before, median {:.2}% p90 {:.2}% after",
        before.len(),
        fit.left_out,
        pct(&mut before, 0.5),
        pct(&mut before, 0.9),
        pct(&mut after, 0.5),
        pct(&mut after, 0.9)
    )
    .map_err(w)?;
    for (pkg, n) in &fit.used {
        let p = fit.params.package(*pkg);
        writeln!(
            stdout,
            "{}: {} stints, wot_gph_per_krpm {:.4}, throttle_k {:.4}",
            pkg.key(),
            n,
            p.wot_gph_per_krpm,
            p.throttle_k
        )
        .map_err(w)?;
    }
    writeln!(
        stdout,
        "fill rate {:.3} gal/s after {:.2} s dead time (sd {:.3} relative + {:.3} gal) from {} weighed stops; burn relative sd {:.4}, of which between cars {:.4}",
        fit.params.fill_rate_gps,
        fit.params.fill_dead_s,
        fit.params.fill_rel_sd,
        fit.params.fill_abs_sd,
        fit.fill_stops,
        fit.params.burn_rel_sd,
        fit.params.car_rel_sd
    )
    .map_err(w)?;
    writeln!(stdout, "fitted on: {}", fit.params.fitted_on.join(", ")).map_err(w)?;
    write_json(&a.out, &fit.params)?;
    Ok(())
}

fn train(a: TrainArgs) -> Result<(), Failure> {
    let params = calibration_or_default(a.calibration.as_deref())?;
    refuse_output_among_inputs(&a.files, &a.out)?;
    let cfg = EngineConfig::default();
    let mut stints = Vec::new();
    let mut left_out = 0;
    // One engine per file: a file is a race, and windows pair with stints by car and time.
    for input in open_inputs(&a.files)? {
        let mut engine = Engine::new(cfg, params.clone());
        engine.record_stints();
        engine.collect_features();
        feed(
            vec![input],
            &mut engine,
            &ProgressBar::hidden(),
            |_, _, _, _, _| Ok(()),
        )?;
        engine.finish(&mut Vec::new());
        let obs = engine.take_stints();
        left_out += obs.iter().filter(|s| s.measured_gal.is_none()).count();
        stints.extend(correction::training_stints(
            &obs,
            &engine.take_features(),
            cfg.window_ms,
        ));
    }
    let model = correction::train(&stints).map_err(|e| Failure::other(e.to_string()))?;
    let mut stdout = io::stdout().lock();
    let w = |e: io::Error| Failure::other(format!("writing the report failed: {e}"));
    writeln!(
        stdout,
        "measured stints {} (left out {left_out}); ridge {}",
        stints.len(),
        model.ridge
    )
    .map_err(w)?;
    for pkg in burnbar_core::tracks::EnginePackage::ALL {
        match model.package(pkg) {
            Some(p) => {
                writeln!(stdout, "{}: trained on {} stints", pkg.key(), p.stints).map_err(w)?;
                for (name, c) in correction::FEATURES.iter().zip(&p.coef) {
                    writeln!(stdout, "  {name:<14} {c:+.5}").map_err(w)?;
                }
            }
            None => writeln!(
                stdout,
                "{}: too few measured stints, left to physics",
                pkg.key()
            )
            .map_err(w)?,
        }
    }
    writeln!(
        stdout,
        "cross-validated over races, |error| of stint fuel, median: physics {:.2}%, corrected {:.2}% ({})",
        100.0 * model.cv_median_physics,
        100.0 * model.cv_median_corrected,
        if model.cv_median_corrected < model.cv_median_physics {
            "the correction helps"
        } else {
            "the correction does not help: keep physics alone"
        }
    )
    .map_err(w)?;
    write_json(&a.out, &model)?;
    Ok(())
}

/// `--speed` must be a positive number; past 1000 × no pacing is left to see.
fn check_speed(speed: f64) -> Result<(), Failure> {
    if speed.is_finite() && speed > 0.0 && speed <= 1000.0 {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "--speed must be above 0 and at most 1000, got {speed}"
        )))
    }
}

/// The lines of `inputs` in order, each with its event time (lines over [`MAX_LINE`]
/// are cut there; the engine rejects what does not decode).
fn file_lines(inputs: Vec<Input>) -> impl Iterator<Item = serve::feed::FeedLine> {
    inputs.into_iter().flat_map(|(name, input)| {
        let mut reader = BufReader::with_capacity(1 << 20, input);
        let mut buf = Vec::new();
        std::iter::from_fn(move || {
            loop {
                match read_line_capped(&mut reader, &mut buf, MAX_LINE) {
                    Ok(Line::End) => return None,
                    Ok(_) => {
                        let text = buf.trim_ascii();
                        if text.is_empty() {
                            continue;
                        }
                        return Some(serve::feed::FeedLine::from_bytes(text.to_vec()));
                    }
                    Err(e) => {
                        eprintln!("burnbar: reading {name} failed: {e}; the replay stops there");
                        return None;
                    }
                }
            }
        })
    })
}

/// A car whose telemetry `demo --silence` cuts, and from when (event time).
#[derive(Debug, Clone, PartialEq)]
struct Silence {
    car: String,
    from_ts: i64,
}

fn parse_silence(s: &str, start_ts: i64) -> Result<Silence, Failure> {
    let bad = || {
        Failure::usage(format!(
            "--silence takes CAR@SECONDS (e.g. 24@90), got `{s}`"
        ))
    };
    let (car, secs) = s.split_once('@').ok_or_else(bad)?;
    let secs: f64 = secs.parse().map_err(|_| bad())?;
    if car.is_empty() || !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    Ok(Silence {
        car: car.to_owned(),
        from_ts: start_ts + (secs * 1000.0) as i64,
    })
}

/// Whether a simulated line is a sample of a silenced car past its cut.
fn silenced(line: &str, ts: i64, cuts: &[Silence]) -> bool {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        kind: Option<&'a str>,
        car: Option<&'a str>,
    }
    if !cuts.iter().any(|c| ts >= c.from_ts) {
        return false;
    }
    let Ok(h) = serde_json::from_str::<Head>(line) else {
        return false;
    };
    matches!(h.kind, None | Some("sample"))
        && h.car
            .is_some_and(|car| cuts.iter().any(|c| c.car == car && ts >= c.from_ts))
}

fn demo(a: DemoArgs) -> Result<(), Failure> {
    check_speed(a.speed)?;
    let cfg = SimConfig {
        track: a.track,
        seed: a.seed,
        // What a broadcast sees: pit stops without weighed amounts.
        live: true,
        ..SimConfig::default()
    };
    let sim = burnbar_sim::Simulation::new(&cfg).map_err(|e| Failure::usage(e.to_string()))?;
    let cuts = a
        .silence
        .iter()
        .map(|s| parse_silence(s, burnbar_sim::START_TS))
        .collect::<Result<Vec<_>, _>>()?;
    let lines = sim
        .filter(move |(ts, line)| !silenced(line, *ts, &cuts))
        .map(|(ts, line)| serve::feed::FeedLine {
            ts: Some(ts),
            line: line.into_bytes(),
        });
    let engine = Engine::new(EngineConfig::default(), ModelParams::default());
    serve_feed("demo", lines, engine, a.port, a.speed)
}

/// Serves the dashboard on 127.0.0.1:`port` while `lines` run through `engine` at
/// `speed`; returns on Ctrl-C (or SIGTERM), after the race if it ends first.
fn serve_feed(
    what: &str,
    lines: impl Iterator<Item = serve::feed::FeedLine>,
    mut engine: Engine,
    port: u16,
    speed: f64,
) -> Result<(), Failure> {
    use serve::feed::{self, FeedEnd};
    use std::sync::Arc;
    use tokio::sync::watch;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| Failure::other(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::other(format!("cannot read the listening address: {e}")))?;
        let hub = Arc::new(serve::Hub::new(serve::LOCAL_API_KEY).map_err(Failure::other)?);
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = stop_tx.send(true);
        });
        let server = tokio::spawn(serve::serve(listener, hub.clone(), stop.clone()));
        println!(
            "burnbar {what}: dashboard at http://{addr}/ , Burn Bar graphic at http://{addr}/graphic.html?cars=CAR,CAR (Ctrl-C stops)"
        );
        let _ = io::stdout().flush();
        let progress = if io::stderr().is_terminal() {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .expect("static progress template"),
            );
            pb.enable_steady_tick(Duration::from_millis(200));
            pb
        } else {
            ProgressBar::hidden()
        };
        let (end, stats) = feed::run(lines, &mut engine, &hub, speed, stop.clone(), &progress).await;
        progress.finish_and_clear();
        if end == FeedEnd::Finished {
            eprintln!(
                "burnbar {what}: the race is over ({} updates in {} batches); still serving at http://{addr}/ until Ctrl-C",
                stats.updates, stats.batches
            );
        }
        let mut stop2 = stop.clone();
        let _ = stop2.wait_for(|s| *s).await;
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Failure::other(format!("the server failed: {e}"))),
            Err(e) => return Err(Failure::other(format!("the server failed: {e}"))),
        }
        eprintln!(
            "burnbar {what}: stopped ({} lines, {} rejected, {} updates published)",
            stats.lines, stats.rejected, stats.updates
        );
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM (how service managers and test harnesses stop a process).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn write_updates(out: &mut dyn Write, updates: &[FuelUpdate]) -> io::Result<()> {
    for u in updates {
        serde_json::to_writer(&mut *out, u)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn print_summary(engine: &Engine, elapsed: Duration) {
    let c = engine.counters();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let by = if c.rejected_by.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = c
            .rejected_by
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(" ({})", parts.join(", "))
    };
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "records read        {}", c.records);
    let _ = writeln!(err, "samples             {}", c.samples);
    let _ = writeln!(err, "events              {}", c.events);
    let _ = writeln!(err, "rejected            {}{by}", c.rejected);
    let _ = writeln!(err, "duplicates          {}", c.duplicates);
    let _ = writeln!(err, "merged              {}", c.merged);
    let _ = writeln!(err, "late samples        {}", c.late_samples);
    let _ = writeln!(err, "late events         {}", c.late_events);
    let _ = writeln!(err, "duplicate events    {}", c.duplicate_events);
    if c.races_evicted > 0 {
        let _ = writeln!(err, "races evicted       {}", c.races_evicted);
    }
    let _ = writeln!(err, "windows closed      {}", c.windows_closed);
    let _ = writeln!(err, "cars                {}", engine.cars());
    let _ = writeln!(err, "elapsed s           {:.3}", secs);
    let _ = writeln!(err, "records per second  {:.0}", c.records as f64 / secs);
}

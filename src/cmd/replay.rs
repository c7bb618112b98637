//! `burnbar replay`: NDJSON telemetry through the pipeline as fast as the machine allows,
//! `FuelUpdate`s out as NDJSON, rejected lines kept with their reasons, and a summary
//! on standard error (or, with `--serve`, the replay on the dashboard).

use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use burnbar_core::{Engine, EngineConfig, FuelUpdate, Reject};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;
use crate::cmd::dashboard::{check_speed, serve_feed};
use crate::input::{Input, Step, feed, file_lines, open_inputs, refuse_all_rejected};
use crate::output::{Out, OutFile, check_outputs, write_updates};
use crate::params::{calibration_or_default, load_correction};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// NDJSON files to read in order; `-` or none reads standard input.
    files: Vec<PathBuf>,
    /// Model parameters written by `burnbar calibrate`; every number of the file is
    /// range-checked (docs/cli.md lists the ranges) [default: embedded defaults].
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
    /// Window width in ms, 100 to 600000.
    #[arg(long, default_value_t = 5000, value_parser = super::whole(100i64, 600_000))]
    window_ms: i64,
    /// Allowed lateness in ms, 0 to 600000.
    #[arg(long, default_value_t = 5000, value_parser = super::whole(0i64, 600_000))]
    lateness_ms: i64,
    /// The saving (percent, 5 to 50) at which a car in its final window is called
    /// "can't make it"; carried in every RaceState.
    #[arg(long, default_value_t = 15.0, value_parser = super::parse_cant_make_it_pct)]
    cant_make_it_pct: f64,
    /// Show the replay on the dashboard (paced at `--speed`) instead of writing updates.
    #[arg(long, conflicts_with_all = ["out", "rejected"])]
    serve: bool,
    /// With `--serve`: the port on 127.0.0.1, 0 to 65535 (0 picks a free one).
    #[arg(long, default_value_t = 8080, requires = "serve", value_parser = super::whole(0u16, u16::MAX))]
    port: u16,
    /// With `--serve`: times real time, by the records' event time, above 0 and at
    /// most 1000.
    #[arg(long, default_value_t = 1.0, requires = "serve", value_parser = super::parse_speed)]
    speed: f64,
}

impl ReplayArgs {
    /// Whether the replay is shown on the dashboard (which handles Ctrl-C itself).
    pub fn serves(&self) -> bool {
        self.serve
    }
}

pub fn run(a: ReplayArgs) -> Result<(), Failure> {
    let params = calibration_or_default(a.calibration.as_deref())?;
    let cfg = EngineConfig {
        window_ms: a.window_ms,
        lateness_ms: a.lateness_ms,
        cant_make_it_pct: a.cant_make_it_pct,
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
    if a.serve {
        check_speed(a.speed)?;
        let inputs = open_inputs(&files)?;
        let engine = new_engine();
        return serve_feed("replay", file_lines(inputs), engine, a.port, a.speed, &[]);
    }
    let mut read: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
    read.extend(a.calibration.as_deref());
    read.extend(a.correction.as_deref());
    check_outputs(
        &read,
        &[
            ("--out", a.out.as_deref()),
            ("--rejected", a.rejected.as_deref()),
        ],
    )?;
    let inputs = open_inputs(&files)?;
    let out = Out::create(a.out.as_deref(), "output file")?;
    let rejected = a
        .rejected
        .as_deref()
        .map(|p| OutFile::create(p, "rejected file"))
        .transpose()?;
    let progress = spinner();
    let started = Instant::now();
    let mut engine = new_engine();
    let res = write_replay(inputs, &mut engine, &progress, out, rejected);
    progress.finish_and_clear();
    // Interrupted: the summary so far; the outputs were dropped unwritten.
    if res.is_ok() || crate::interrupt::interrupted() {
        print_summary(&engine, started.elapsed());
    }
    res
}

/// A spinner on standard error when it is a terminal, else nothing.
fn spinner() -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg}").expect("static progress template"),
    );
    pb.set_message("replaying");
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Runs `inputs` through `engine`, writing its updates to `out` as they close and each
/// rejected line to `rejected`; then the updates of the windows still open.
fn write_replay(
    inputs: Vec<Input>,
    engine: &mut Engine,
    progress: &ProgressBar,
    mut out: Out,
    mut rejected: Option<OutFile>,
) -> Result<(), Failure> {
    let write_err = |e: io::Error| Failure::other(format!("writing updates failed: {e}"));
    let rejected_err = |e: io::Error| Failure::other(format!("writing rejected lines failed: {e}"));
    let names: Vec<String> = inputs.iter().map(|(n, _)| n.clone()).collect();
    // Written on every line, flushed (standard output) whenever the input waits for its
    // source: a live feed's updates go out as they close, a file's in 1 MiB writes.
    let keep_text = rejected.is_some();
    let out_ref = RefCell::new(&mut out);
    let on_step = |name: &str, line_no, res: Step<'_>, updates: &mut Vec<FuelUpdate>| {
        if let Err((reason, text)) = res
            && let Some(rej) = rejected.as_mut()
        {
            write_rejected(rej, name, line_no, text, &reason).map_err(rejected_err)?;
        }
        if !updates.is_empty() {
            write_updates(*out_ref.borrow_mut(), updates).map_err(write_err)?;
            updates.clear();
        }
        Ok(())
    };
    let on_wait = || out_ref.borrow_mut().flush_stream().map_err(write_err);
    let fed = feed(inputs, engine, progress, keep_text, on_step, on_wait);
    if fed.is_err() && crate::interrupt::interrupted() {
        // Standard output ends on a whole line with every update closed before the
        // stop (a file is dropped unwritten: the earlier one stays).
        let _ = out.flush_stream();
    }
    fed?;
    // Every line rejected: nothing is kept, earlier files stay as they were.
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    refuse_all_rejected(engine, &names.join(", "))?;
    let mut updates: Vec<FuelUpdate> = Vec::new();
    engine.finish(&mut updates);
    write_updates(&mut out, &updates).map_err(write_err)?;
    out.commit()?;
    if let Some(r) = rejected {
        r.commit()?;
    }
    Ok(())
}

/// One rejected line as NDJSON: where it was, why, and the line itself.
fn write_rejected(
    rej: &mut impl Write,
    name: &str,
    line_no: u64,
    text: &[u8],
    reason: &Reject,
) -> io::Result<()> {
    let rec = serde_json::json!({
        "file": name,
        "line": line_no,
        "reason": reason.code.as_str(),
        "field": reason.field,
        "detail": reason.detail,
        "record": String::from_utf8_lossy(text),
    });
    serde_json::to_writer(&mut *rej, &rec)?;
    rej.write_all(b"\n")
}

/// The summary on standard error: every counter, then the pace.
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

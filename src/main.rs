//! `burnbar`: the local command. It runs the same core as the Lambda functions on one
//! machine with embedded defaults: no AWS account, no network, no services.
//!
//! Contract: `../shared/spec/cli.md`. Exit status 0 when done, 2 for bad arguments or an
//! unreadable calibration file, 1 for any other failure, each with a one-line reason.
//!
//! # Layout
//!
//! - this file: the command line parsed, the command run, its failure turned into an
//!   exit status and a one-line reason.
//! - [`cmd`]: one command a file, each with its arguments.
//! - [`input`]: the input files (or standard input) read line by line in bounded memory,
//!   and fed to an engine.
//! - [`output`]: the output files: created, written as JSON, never one of the inputs.
//! - [`params`]: the calibration and correction files read.
//! - [`accuracy`]: the measuring of `burnbar accuracy` (replays against the truth).
//! - [`serve`]: the local dashboard server of `demo` and `replay --serve` (AppSync's
//!   protocol, the pages, the pipeline at broadcast pace).

mod accuracy;
mod cmd;
mod input;
mod output;
mod params;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Simulate(cmd::simulate::SimulateArgs),
    /// Run NDJSON telemetry through the pipeline and write FuelUpdates as NDJSON.
    Replay(cmd::replay::ReplayArgs),
    /// Fit the fuel model to historical races with weighed fills; write the parameters.
    Calibrate(cmd::calibrate::CalibrateArgs),
    /// Simulate a race live and serve the commentators' dashboard and the Burn Bar.
    Demo(cmd::demo::DemoArgs),
    /// Train the learned correction of each window's burn on races with weighed fills.
    Train(cmd::train::TrainArgs),
    /// Measure accuracy against the simulator's truth: calibrate and train on simulated
    /// races, replay held-out live races with and without the correction, print a table.
    Accuracy(cmd::accuracy::AccuracyArgs),
    /// Convert NASCAR official live-feed files into telemetry-v1 race-control NDJSON.
    Feed(cmd::feed::FeedArgs),
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
        Err(e) => return bad_arguments(e),
    };
    let res = match cli.command {
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Calibrate(a) => cmd::calibrate::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Accuracy(a) => cmd::accuracy::run(a),
        Command::Feed(a) => cmd::feed::run(a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("burnbar: {}", f.reason);
            ExitCode::from(f.code)
        }
    }
}

/// What clap refused: help and the version are a success; anything else is exit 2 with
/// one line.
fn bad_arguments(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        eprintln!("burnbar: a command is needed: simulate, replay, calibrate or demo (see --help)");
        return ExitCode::from(2);
    }
    // One line: clap's first line, without its "error: " prefix.
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("bad arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("burnbar: {first} (see --help)");
    ExitCode::from(2)
}

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
//! - [`output`]: the output files: checked first (never an input, never two on one
//!   file), written beside their name and renamed into place on success.
//! - [`interrupt`]: Ctrl-C and SIGTERM for the commands that write files.
//! - [`params`]: the calibration and correction files read.
//! - [`accuracy`]: the measuring of `burnbar accuracy` (replays against the truth).
//! - [`serve`]: the local dashboard server of `demo` and `replay --serve` (AppSync's
//!   protocol, the pages, the pipeline at broadcast pace).

mod accuracy;
mod cmd;
mod input;
mod interrupt;
mod output;
mod params;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// The doc comment is the top-level help's first line (not Cargo.toml's description):
// it names no command, so that it cannot fall behind them ("the local command
// (simulate, replay)" did).
/// Real-time fuel analytics for motor-racing broadcasts, on one machine, with no AWS
/// account.
#[derive(Parser, Debug)]
#[command(name = "burnbar", version, long_about = None)]
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
    /// Ctrl-C or SIGTERM came: exit 130 (or 143), outputs left as they were.
    pub(crate) fn interrupted() -> Failure {
        Failure {
            code: interrupt::exit_code(),
            reason: "interrupted; earlier files left as they were".into(),
        }
    }
}

/// The command line as clap reads it: a negative number is a value (so that
/// `--seed -1` is refused for its range, not as an unknown flag `-1`).
fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().mut_subcommands(|c| c.allow_negative_numbers(true))
}

fn main() -> ExitCode {
    use clap::FromArgMatches;
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => return bad_arguments(e),
    };
    // The commands that write files stop cleanly on Ctrl-C; the dashboard's server
    // (demo, replay --serve) handles the signals itself.
    let serving = match &cli.command {
        Command::Demo(_) => true,
        Command::Replay(a) => a.serves(),
        _ => false,
    };
    if !serving {
        interrupt::install();
    }
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
        Err(_) if interrupt::interrupted() => {
            let f = Failure::interrupted();
            eprintln!("burnbar: {}", f.reason);
            ExitCode::from(f.code)
        }
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
        let names: Vec<String> = command()
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .map(|c| c.get_name().to_owned())
            .collect();
        eprintln!(
            "burnbar: a command is needed: {} (see --help)",
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    eprintln!("burnbar: {} (see --help)", one_line(&e));
    ExitCode::from(2)
}

/// clap's reason on one line, without its "error: " prefix. Clap puts the missing
/// arguments on the lines after its first: they are named on the same line here.
fn one_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = e.get(ContextKind::InvalidArg)
    {
        return format!(
            "missing required argument{}: {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        );
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("bad arguments");
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

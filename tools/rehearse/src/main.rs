//! `burnbar-rehearse`: a simulated or recorded race into the deployed streams, at a chosen
//! speed. See `docs/deploy.md` ("Before the green flag").

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use burnbar_rehearse::{MAX_RECORD_BYTES, Options, Speed, Summary, Target, rehearse};
use burnbar_sim::SimConfig;
use clap::Parser;

/// Streams a race into the stack's telemetry and race-control Kinesis streams, as the
/// ingest bridge would: samples keyed by car, race-control events keyed by race, a car's
/// lines of one window packed into one record, PutRecords calls within Kinesis's limits,
/// throttled entries put again. Without --file, a simulated race (burnbar-sim). Progress on
/// standard error; a JSON summary (records, bytes, payload units, retries) on standard
/// output. Exit status: 0 done, 1 the streams refused, 2 bad arguments.
/// The race's lines, numbered from 1, or why one could not be read.
type Lines = Box<dyn Iterator<Item = Result<(u64, Vec<u8>), String>>>;

#[derive(Parser, Debug)]
#[command(name = "burnbar-rehearse", version)]
struct Args {
    /// Telemetry stream name or ARN (the stack's `TelemetryStreamName` output).
    #[arg(long)]
    telemetry_stream: String,
    /// Race-control stream name or ARN (the stack's `RaceControlStreamName` output).
    #[arg(long)]
    race_control_stream: String,
    /// A recorded race: telemetry-v1 NDJSON in event-time order (`burnbar simulate`
    /// writes one); `-` reads standard input. Without it, a simulated race.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Race time per wall time: 1 is live, 10 ten times as fast, `max` as fast as the
    /// streams take it.
    #[arg(long, default_value = "10")]
    speed: Speed,
    /// Simulated race: track key.
    #[arg(long, default_value = "pocono")]
    track: String,
    /// Simulated race: laps (default: the track's race distance).
    #[arg(long)]
    laps: Option<u32>,
    /// Simulated race: cars (1-99).
    #[arg(long, default_value_t = 40)]
    cars: u32,
    /// Simulated race: samples per second per car (1-100).
    #[arg(long, default_value_t = 10)]
    hz: u32,
    /// Simulated race: seed (its race_id names it, so each seed is its own race).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Wall-clock milliseconds gathered into one put (at --speed max: 1 s of race time).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(10..=5_000))]
    flush_ms: u64,
    /// A record's size at most (data and key), bytes; 25600 is one provisioned payload unit.
    #[arg(long, default_value_t = 25_600, value_parser = clap::value_parser!(u64).range(1_024..=MAX_RECORD_BYTES as u64))]
    pack_bytes: u64,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 10)]
    progress_s: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let lines: Lines = match &args.file {
        Some(p) => match open(p) {
            Ok(r) => Box::new(r.split(b'\n').enumerate().map(|(i, l)| {
                l.map(|l| (i as u64 + 1, l))
                    .map_err(|e| format!("line {}: {e}", i + 1))
            })),
            Err(e) => {
                eprintln!("burnbar-rehearse: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => {
            let cfg = SimConfig {
                track: args.track.clone(),
                laps: args.laps,
                cars: args.cars,
                hz: args.hz,
                seed: args.seed,
                ..SimConfig::default()
            };
            match burnbar_sim::Simulation::new(&cfg) {
                Ok(sim) => Box::new(
                    sim.enumerate()
                        .map(|(i, (_, l))| Ok((i as u64 + 1, l.into_bytes()))),
                ),
                Err(e) => {
                    eprintln!("burnbar-rehearse: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let target = Target {
        telemetry: args.telemetry_stream.clone(),
        race_control: args.race_control_stream.clone(),
    };
    let opts = Options {
        speed: args.speed,
        flush: Duration::from_millis(args.flush_ms),
        pack_bytes: args.pack_bytes as usize,
        ..Options::default()
    };
    let every = Duration::from_secs(args.progress_s.max(1));
    let mut last = Instant::now();
    let progress = |s: &Summary| {
        if last.elapsed() >= every {
            last = Instant::now();
            eprintln!(
                "burnbar-rehearse: {} lines, {} cars, telemetry {} records ({} retried), race control {} records",
                s.lines_read,
                s.cars.len(),
                s.telemetry.records,
                s.telemetry.entries_retried,
                s.race_control.records,
            );
        }
    };
    match rehearse(&kinesis, &target, &opts, lines, progress).await {
        Ok(s) => {
            eprintln!(
                "burnbar-rehearse: done: {} lines ({} skipped) of {} cars, {:.0} s of race in {:.1} s: \
                 {} telemetry and {} race-control records, {} refused",
                s.lines_read,
                s.lines_refused,
                s.cars.len(),
                s.race_ms as f64 / 1000.0,
                s.wall_ms as f64 / 1000.0,
                s.telemetry.records,
                s.race_control.records,
                s.telemetry.records_refused + s.race_control.records_refused,
            );
            println!("{}", serde_json::to_string(&s).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("burnbar-rehearse: {e}");
            ExitCode::from(1)
        }
    }
}

fn open(p: &PathBuf) -> std::io::Result<Box<dyn BufRead>> {
    if p.as_os_str() == "-" {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    Ok(Box::new(std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(p)?,
    )))
}

//! `burnbar simulate`: a race written as telemetry-v1 NDJSON, and its ground truth.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burnbar_sim::{SimConfig, SimError, SimSummary};
use clap::Args;

use super::feed_out::{FeedWriter, Tee};
use crate::Failure;
use crate::output::{Out, OutDir, OutFile, check_outputs};

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Track key of an oval in the track table (pocono, michigan, charlotte, daytona,
    /// talladega, atlanta, martinsville, iowa, nashville, darlington, bristol, …, default;
    /// an unknown key's error lists them all).
    #[arg(long, default_value = "pocono")]
    track: String,
    /// Race length in laps, 1 to 2000 [default: the track's usual distance].
    #[arg(long, value_parser = super::whole(1u32, 2000))]
    laps: Option<u32>,
    /// Number of cars, 1 to 99.
    #[arg(long, default_value_t = 40, value_parser = super::whole(1u32, 99))]
    cars: u32,
    /// Samples per second per car, 1 to 100.
    #[arg(long, default_value_t = 10, value_parser = super::whole(1u32, 100))]
    hz: u32,
    /// Random seed, any whole number from 0 to 18446744073709551615: the same arguments
    /// give the same bytes.
    #[arg(long, default_value_t = 1, value_parser = super::whole(0u64, u64::MAX))]
    seed: u64,
    /// Fraction of samples, 0 to 1, that arrive duplicated, reordered within the
    /// lateness, split by channel, or next to a malformed record (what arrives, never
    /// what happened).
    #[arg(long, default_value_t = 0.0, value_parser = super::parse_fraction)]
    faults: f64,
    /// A live feed: pit stops carry no weighed fuel amount (`fuel_added_gal` and `full`
    /// are null).
    #[arg(long)]
    live: bool,
    /// A feed without the official pit data: `pit_out` carries no `tires` and `box_s`.
    #[arg(long)]
    no_pit_detail: bool,
    /// Write the race here [default: standard output].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the ground truth here (per car per window, then per stint).
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Also write the race as NASCAR official live-feed files in this folder: a snapshot
    /// every --feed-every seconds of race time, then the pit data and flag data
    /// (`burnbar feed DIR/*.json` reads them back).
    #[arg(long)]
    feed: Option<PathBuf>,
    /// Seconds of race time between two snapshots, 1 to 3600.
    #[arg(long, default_value_t = 5, requires = "feed", value_parser = super::whole(1u32, 3600))]
    feed_every: u32,
}

pub fn run(a: SimulateArgs) -> Result<(), Failure> {
    let cfg = SimConfig {
        track: a.track,
        laps: a.laps,
        cars: a.cars,
        hz: a.hz,
        seed: a.seed,
        faults: a.faults,
        live: a.live,
        pit_detail: !a.no_pit_detail,
        ..SimConfig::default()
    };
    // Every argument first: nothing is created for a race that cannot be simulated.
    cfg.validate().map_err(|e| Failure::usage(e.to_string()))?;
    check_outputs(
        &[],
        &[
            ("--out", a.out.as_deref()),
            ("--truth", a.truth.as_deref()),
            ("--feed", a.feed.as_deref()),
        ],
    )?;
    let started = Instant::now();
    let out = Out::create(a.out.as_deref(), "output file")?;
    let mut out = match &a.feed {
        Some(dir) => Tee::Feed(Box::new(FeedWriter::new(
            out,
            OutDir::create(dir, "--feed")?,
            i64::from(a.feed_every) * 1000,
            // The feed's race id: the seed, past the range of NASCAR's own ids.
            9_000_000 + (cfg.seed % 1_000_000_000) as i64,
        ))),
        None => Tee::Plain(out),
    };
    let mut truth = a
        .truth
        .as_deref()
        .map(|p| OutFile::create(p, "truth file"))
        .transpose()?;
    let summary =
        burnbar_sim::simulate(&cfg, &mut out, truth.as_mut().map(|t| t as &mut dyn Write))
            .map_err(|e| match e {
                SimError::Io(e) => Failure::other(format!("writing the race failed: {e}")),
                other => Failure::usage(other.to_string()),
            })?;
    // Everything written: the files go in place together.
    let out = match out {
        Tee::Feed(f) => f.finish()?,
        Tee::Plain(out) => out,
    };
    out.commit()?;
    if let Some(t) = truth {
        t.commit()?;
    }
    print_summary(&summary, started.elapsed().as_secs_f64());
    Ok(())
}

/// One line on standard error: what was written, and the cars that ran dry.
fn print_summary(summary: &SimSummary, secs: f64) {
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
}

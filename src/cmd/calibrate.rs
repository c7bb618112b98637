//! `burnbar calibrate`: the fuel model fitted to historical races with weighed fills,
//! the parameters written as JSON, and the fit printed stint by stint.

use std::io::{self, Write};
use std::path::PathBuf;

use burnbar_core::calibrate::{Fit, StintObs, Unmeasured};
use burnbar_core::{Engine, EngineConfig, ModelParams};
use clap::Args;

use crate::Failure;
use crate::input::{feed_quietly, open_inputs};
use crate::output::{check_outputs, write_json};
use crate::params::calibration_or_default;

#[derive(Args, Debug)]
pub struct CalibrateArgs {
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

pub fn run(a: CalibrateArgs) -> Result<(), Failure> {
    let base = calibration_or_default(a.from.as_deref())?;
    let mut read: Vec<&std::path::Path> = a.files.iter().map(PathBuf::as_path).collect();
    read.extend(a.from.as_deref());
    check_outputs(&read, &[("--out", Some(&a.out))])?;
    let inputs = open_inputs(&a.files)?;
    let mut engine = Engine::new(EngineConfig::default(), base.clone());
    engine.record_stints();
    feed_quietly(inputs, &mut engine)?;
    let stints = engine.take_stints();
    let fit = burnbar_core::calibrate::fit(&stints, &base, a.single_track)
        .map_err(|e| Failure::other(e.to_string()))?;
    print_fit(&mut io::stdout().lock(), &stints, &base, &fit)
        .map_err(|e| Failure::other(format!("writing the fit failed: {e}")))?;
    write_json(&a.out, &fit.params)?;
    Ok(())
}

/// The fit: every measured stint before and after, the error across them, then the
/// fitted parameters.
fn print_fit(
    out: &mut impl Write,
    stints: &[StintObs],
    base: &ModelParams,
    fit: &Fit,
) -> io::Result<()> {
    writeln!(
        out,
        "{:<24} {:>4} {:>8} {:>10} {:>10} {:>8} {:>10} {:>8}",
        "race", "car", "package", "measured", "before", "error", "after", "error"
    )?;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for (i, s) in stints
        .iter()
        .enumerate()
        .filter(|(_, s)| s.measured_gal.is_some())
    {
        let m = s.measured_gal.expect("measured");
        let b = s.estimate(base.package(s.package));
        let f = s.estimate(fit.params.package(s.package));
        before.push(((b - m) / m).abs());
        after.push(((f - m) / m).abs());
        writeln!(
            out,
            "{:<24} {:>4} {:>8} {:>10.3} {:>10.3} {:>7.2}% {:>10.3} {:>7.2}%{}",
            s.race_id,
            s.car,
            s.package.key(),
            m,
            b,
            100.0 * (b - m) / m,
            f,
            100.0 * (f - m) / m,
            if fit.set_aside.binary_search(&i).is_ok() {
                "  set aside"
            } else {
                ""
            }
        )?;
    }
    let pct = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        100.0 * v[((v.len() - 1) as f64 * q).round() as usize]
    };
    writeln!(
        out,
        "measured stints {} (left out {}{}): |error| median {:.2}% p90 {:.2}% before, median {:.2}% p90 {:.2}% after",
        before.len(),
        fit.left_out,
        unmeasured_why(stints, fit.outliers),
        pct(&mut before, 0.5),
        pct(&mut before, 0.9),
        pct(&mut after, 0.5),
        pct(&mut after, 0.9)
    )?;
    print_params(out, fit)
}

/// Of the stints left out, those a weighed fill would have measured but the telemetry
/// or race control broke (`calibrate::Unmeasured`): a damaged history says so.
/// And the measured stints the fit set aside as outliers (`calibrate::OUTLIER_SDS`).
pub(crate) fn unmeasured_why(stints: &[StintObs], outliers: usize) -> String {
    let count = |why: Unmeasured| stints.iter().filter(|s| s.unmeasured == Some(why)).count();
    let (gaps, stops) = (
        count(Unmeasured::TelemetryGap),
        count(Unmeasured::UnreportedStop),
    );
    let mut parts = Vec::new();
    if gaps > 0 {
        parts.push(format!("{gaps} with gaps in the telemetry"));
    }
    if stops > 0 {
        parts.push(format!("{stops} across a stop race control did not report"));
    }
    let mut why = String::new();
    if !parts.is_empty() {
        why = format!(", of them {}", parts.join(" and "));
    }
    if outliers > 0 {
        let s = if outliers == 1 { "" } else { "s" };
        why.push_str(&format!(
            "; {outliers} measured stint{s} set aside as too far from the fit to be weighed right"
        ));
    }
    why
}

/// The fitted parameters: per engine package, the fill, the spread of the burn.
fn print_params(out: &mut impl Write, fit: &Fit) -> io::Result<()> {
    for (pkg, n) in &fit.used {
        let p = fit.params.package(*pkg);
        writeln!(
            out,
            "{}: {} stints, wot_gph_per_krpm {:.4}, throttle_k {:.4}",
            pkg.key(),
            n,
            p.wot_gph_per_krpm,
            p.throttle_k
        )?;
    }
    let p = &fit.params;
    let f = &fit.fills;
    writeln!(
        out,
        "fill rate {:.3} gal/s after {:.2} s dead time (sd {:.3} relative + {:.3} gal) from {} of {} weighed stops, those the fuel timed (a stop the tyres timed says nothing of the rate)",
        p.fill_rate_gps, p.fill_dead_s, p.fill_rel_sd, p.fill_abs_sd, f.fuel_timed, f.weighed
    )?;
    writeln!(
        out,
        "tyre changes: four {:.2} s, two {:.2} s, one or three {:.2} s (sd {:.1} %) from {} stops the tyres timed; stops by tyres (none, one or three, two, four) {} from {} stops with pit data",
        p.tire_four_s,
        p.tire_two_s,
        p.tire_odd_s,
        100.0 * p.tire_rel_sd,
        f.tire_timed,
        p.tire_shares
            .map(|s| format!("{:.0} %", 100.0 * s))
            .join(", "),
        f.with_tires
    )?;
    let short = |share: Option<f64>, room: Option<f64>| match (share, room) {
        (Some(s), Some(r)) => format!("{:.0} % by {:.1} gal", 100.0 * s, r),
        (Some(s), None) => format!("{:.0} %", 100.0 * s),
        _ => "not measured".to_owned(),
    };
    writeln!(
        out,
        "stopped short of the top: {} of the stops the fuel timed, {} of those the tyres timed that had the time to fill",
        short(p.fill_partial_share, p.fill_partial_room_gal),
        short(p.tire_short_share, p.tire_short_room_gal)
    )?;
    writeln!(
        out,
        "a late stop with time to spare: {}",
        match (p.late_pour_margin_gal, p.late_pour_margin_sd_gal) {
            (Some(m), Some(sd)) => format!(
                "the crew pours what the finish needs and {m:.2} gal more (sd {sd:.2} gal), {}",
                match p.late_pour_fill_gap_gal {
                    Some(g) => format!("and fills the cell when that would leave less than {g:.2} gal of room"),
                    None => "to the top at most (whether crews fill a cell the habit nearly fills: not measured)".to_owned(),
                }
            ),
            _ => "not measured (fewer than 10 weighed stops of the kind): read as anywhere from the finish's need to what the time allowed".to_owned(),
        }
    )?;
    writeln!(
        out,
        "burn relative sd {:.4}, of which between cars {:.4}; between tracks {:.4} ({})",
        p.burn_rel_sd,
        p.car_rel_sd,
        p.track_rel_sd,
        if fit.tracks_left_out > 0 {
            format!("{} tracks left out in turn", fit.tracks_left_out)
        } else {
            "no package has two tracks: the default".to_owned()
        }
    )?;
    writeln!(out, "fitted on: {}", fit.params.fitted_on.join(", "))
}

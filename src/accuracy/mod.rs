//! The measuring of `burnbar accuracy` ([`crate::cmd::accuracy`]): simulated races
//! replayed and compared with the simulator's ground truth.
//!
//! # What is measured
//!
//! Every figure per track and over every track.
//!
//! - **Stint fuel**: per truth stint of at least 3 gal (a fill to the next `pit_out`, or
//!   to the finish), the sum of the car's published `burn_gal` over the same span (the
//!   windows at the ends pro rata by time) against the fuel it burned; relative error.
//! - **Remaining at pit entry**: for every `pit_in`, the `remaining_gal` of the car's
//!   window holding it against the truth at that window's end; gallons.
//! - **Remaining after the last stop**: in races whose last run is green to the end (no
//!   caution after the last green flag), each car's first update after its last
//!   `pit_out`: `remaining_gal` less the truth at that window's end, signed; the table
//!   gives the standard deviation. What the last fill was judged to be, which the rest
//!   of the race's calls rest on. Beside it, the same with each last pour known
//!   exactly, as if weighed: none after a fill to the top (the truth's `full`), the
//!   error at that stop's pit entry after a pour short of it. What the level going in
//!   leaves, which the stop's time cannot size.
//! - **Laps to empty**: for every car that ran dry, at its first window 10 laps before
//!   it did, `laps_to_empty` against the laps it really had left.
//! - **Band coverage**: over every published window, whether the true fuel at the
//!   window's end lies within `[remaining_low_gal, remaining_high_gal]`.
//! - **Calls** (`fuel-update-v1`): a car is called when `save_needed_pct` ≥
//!   `cant_make_it_pct` (only possible in its final window). A car that ran dry is
//!   called when a call was in force at some time from 15 to 5 laps before it did; a
//!   **false call** is any call after a car's last stop when the car then finished
//!   (race control did not take it out) without running dry. Judged at 10, 15 and 20 %
//!   and at the deployment's `--cant-make-it-pct`.
//! - **The floor**: the same judgements on the contract's figure made with the
//!   simulator's own fuel, lap and fuel per green lap (the mean true burn of the car's
//!   last three green laps), laps left from the leader's lap by the truth, in the final
//!   window by the same rule: what a perfect fuel estimate would be charged with. An
//!   estimate can only call fewer cars falsely than the floor by erring toward more
//!   fuel, which costs calls of cars that do run dry.
//! - **Leave one track out**: each track's held-out races replayed with the
//!   calibration made without that track (coverage and stint error: what a track with
//!   no history gets); and the correction trained without the track, scored on its
//!   training stints (`burnbar train` prints the same).
//!
//! # Layout
//!
//! - [`races`]: races simulated in memory on several threads, replayed through an
//!   engine; their race-control events.
//! - [`training`]: the calibrations and the correction the held-out races are replayed
//!   with.
//! - [`truth`]: the simulator's truth read back by car.
//! - [`measure`]: one replay against the truth (stint fuel, pit entry), then the band's
//!   honesty and the calls.
//! - [`honest`]: the band's honesty: its coverage (summed by track and pooled) and the
//!   fuel after each car's last stop in races green to the end.
//! - [`calls`]: the run-dry and false-call judgements, on the estimate and the floor.
//! - [`metrics`]: what a variant measured, summed over races, as JSON.
//! - [`table`], [`rows`], [`report`]: the printed tables, their rows and targets, the
//!   figures by track and pooled.

mod calls;
mod honest;
mod measure;
mod metrics;
mod races;
mod report;
mod rows;
mod table;
mod training;
mod truth;

pub(crate) use measure::measure;
pub(crate) use metrics::{Metrics, Thresholds};
pub(crate) use races::{RaceEvents, RaceSpec, parallel, push_all, simulate};
pub(crate) use report::{RaceResult, Results, SHOWN};
pub(crate) use training::{calibrations, recorded_stints, train_correction};
pub(crate) use truth::Truth;

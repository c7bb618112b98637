//! The measuring of `burnbar accuracy` ([`crate::cmd::accuracy`]): simulated races
//! replayed and compared with the simulator's ground truth.
//!
//! # What is measured
//!
//! - **Stint fuel**: per truth stint of at least 3 gal (a fill to the next `pit_out`, or
//!   to the finish), the sum of the car's published `burn_gal` over the same span (the
//!   windows at the ends pro rata by time) against the fuel it burned; relative error.
//! - **Remaining at pit entry**: for every `pit_in`, the `remaining_gal` of the car's
//!   window holding it against the truth at that window's end; gallons.
//! - **Laps to empty**: for every car that ran dry, at its first window 10 laps before
//!   it did, `laps_to_empty` against the laps it really had left.
//! - **Band coverage**: over every published window, whether the true fuel at the
//!   window's end lies within `[remaining_low_gal, remaining_high_gal]`.
//! - **Run-dry calls**: a car that ran dry is called when an update of its last stint
//!   says `save_needed_pct` ≥ 10 (`fuel-update-v1`'s "can't make it") at least 5 laps
//!   before it ran dry. A **false call** is a car called in the last 20 laps that
//!   finished without a stop in them and without running dry. The table also says how
//!   many of those cars finished laps down, and what both judgements would be with laps
//!   left counted from the leader's lap rather than the car's own (`fuel-update-v1`
//!   counts a lapped car's laps left from its own lap, so laps it will never run count
//!   against its fuel). The proposal rows re-derive `save_needed_pct` from the published
//!   `laps_to_empty`; what the updates say is unchanged. And it says how many false
//!   calls the true fuel makes too: the contract's formula with the simulator's fuel in
//!   place of the estimate also says ≥ 10 % at a window the car was called at (the
//!   driver then saved more than the 10 % the contract takes as more than one finds).
//! - **The floor**: both judgements once more, made by the contract's formula on the
//!   simulator's own fuel, lap and fuel per green lap (the mean true burn of the car's
//!   last three green laps) instead of the estimate's: what a perfect fuel estimate
//!   would be charged with, with laps left from the car's own lap and from the
//!   leader's. An estimate can only call fewer cars falsely than the truth does by
//!   erring on the side of more fuel, which costs calls of cars that do run dry; so
//!   these rows say what the contract's definitions charge a perfect estimate with.
//!
//! # Layout
//!
//! - [`races`]: races simulated in memory on several threads, replayed through an engine.
//! - [`truth`]: the simulator's truth read back by car.
//! - [`measure`]: one replay against the truth (stint fuel, pit entry, band).
//! - [`calls`]: the run-dry and false-call judgements, each way.
//! - [`metrics`]: what a variant measured, summed over races, as JSON.
//! - [`table`]: the printed table.
//! - [`honest`]: the band per track, the fuel after the last stop, and the band on a
//!   track left out of the calibration.

mod calls;
mod honest;
mod measure;
mod metrics;
mod races;
mod table;
mod truth;

pub(crate) use honest::{Honesty, honesty, leave_one_track_out, write_honesty};
pub(crate) use measure::measure;
pub(crate) use metrics::Metrics;
pub(crate) use races::{RaceSpec, parallel, pit_entries, push_all, simulate};
pub(crate) use table::write_table;
pub(crate) use truth::Truth;

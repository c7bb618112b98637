//! burnbar's pure core: contracts, decoding, event-time windows, the fuel model and the
//! per-car state machine. It does no I/O and needs no async runtime.

pub mod contract;
pub mod decode;
pub mod tracks;

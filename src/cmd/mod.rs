//! The commands, one a file: each its arguments (as clap reads them) and its `run`.
//!
//! `demo` and `replay --serve` share [`dashboard`], the dashboard served while a feed
//! runs; `demo --silence` is read by [`silence`].

pub mod accuracy;
pub mod calibrate;
pub mod dashboard;
pub mod demo;
pub mod feed;
pub mod feed_out;
pub mod replay;
pub mod silence;
pub mod simulate;
pub mod train;

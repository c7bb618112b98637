//! What race control does a moment after its cause: the yellow a second or two after an
//! incident, debris or a car stopped on track, the `car_out` of a car that will not go on.

use super::Simulation;
use super::records::Announcement;
use crate::car::Phase;

/// A race-control action due at a later `ts`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scheduled {
    /// A yellow for an incident or a stopped car; `extra` laps for the clean-up.
    Yellow {
        extra: u32,
    },
    CarOut {
        car: usize,
        reason: &'static str,
    },
}

impl Simulation {
    /// A yellow is on its way.
    pub(super) fn yellow_scheduled(&self) -> bool {
        self.scheduled
            .iter()
            .any(|p| matches!(p.1, Scheduled::Yellow { .. }))
    }

    /// Car `i` stopped on track for good: its `car_out` follows, and a yellow if it ran
    /// dry.
    pub(super) fn car_stopped(&mut self, i: usize, ts: i64) {
        let (reason, delay) = if self.cars[i].dry {
            ("out of fuel", 3_000)
        } else {
            ("accident", 4_000)
        };
        self.scheduled
            .push((ts + delay, Scheduled::CarOut { car: i, reason }));
        if self.cars[i].dry && self.caution_allowed() {
            self.scheduled
                .push((ts + 1_000, Scheduled::Yellow { extra: 0 }));
        }
    }

    /// Carries out what is due at `ts`, in the order it was scheduled.
    pub(super) fn run_due(&mut self, ts: i64) {
        let mut due: Vec<(i64, Scheduled)> = Vec::new();
        self.scheduled.retain(|p| {
            if p.0 <= ts {
                due.push(*p);
                false
            } else {
                true
            }
        });
        for (_, p) in due {
            match p {
                Scheduled::Yellow { extra } => {
                    if self.caution_allowed() {
                        self.start_caution(false, extra);
                    }
                }
                Scheduled::CarOut { car, reason } => {
                    self.cars[car].phase = Phase::Out;
                    self.cars[car].cancel_stop();
                    self.announce(Announcement::CarOut { car, reason });
                }
            }
        }
    }
}

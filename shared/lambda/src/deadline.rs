//! Deadlines: the invocation's, from the runtime's header, and each call's within it.
//!
//! Every call to the outside gets a deadline below the time the invocation has left, so
//! that the function can still answer (report failed records, or an HTTP error) before
//! Lambda ends it.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::clock::epoch_ms;

/// Milliseconds left in a Lambda invocation, from the runtime's deadline header.
///
/// Lambda gives the deadline as milliseconds since the epoch. `cargo lambda watch` (the
/// local Runtime API) gives the function's timeout instead (`600000`): a value before
/// 2001 cannot be an epoch time, so it is read as the time left. Either way the budget is
/// at most Lambda's 15-minute limit.
pub fn time_left_ms(deadline_header_ms: u64, now_ms: u64) -> u64 {
    const EPOCH_2001_MS: u64 = 978_307_200_000;
    const MAX_BUDGET_MS: u64 = 15 * 60 * 1000;
    let left = if deadline_header_ms < EPOCH_2001_MS {
        deadline_header_ms
    } else {
        deadline_header_ms.saturating_sub(now_ms)
    };
    left.min(MAX_BUDGET_MS)
}

/// The instant to finish by, on tokio's clock: the runtime's deadline header
/// ([`time_left_ms`] at wall time `now`) less `margin`, the time kept back to answer.
pub fn deadline_from(deadline_header_ms: u64, now: SystemTime, margin: Duration) -> Instant {
    let now_ms = epoch_ms(now) as u64;
    let left = Duration::from_millis(time_left_ms(deadline_header_ms, now_ms));
    Instant::now() + left.saturating_sub(margin)
}

/// The deadline for one call: the invocation's, less the reserve kept for reporting
/// (never before now).
pub fn call_deadline(deadline: Instant, reserve: Duration) -> Instant {
    deadline
        .checked_sub(reserve)
        .unwrap_or(deadline)
        .max(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn the_deadline_is_an_epoch_time_on_lambda_and_a_timeout_under_cargo_lambda() {
        let now = 1_795_924_646_599;
        let none = Duration::ZERO;
        let left = |dl: Instant| dl.saturating_duration_since(Instant::now()).as_millis() as i64;
        assert!((left(deadline_from(now + 3_000, at(now), none)) - 3_000).abs() < 50);
        assert_eq!(
            left(deadline_from(now - 5, at(now), none)),
            0,
            "a deadline passed is no time"
        );
        assert!((left(deadline_from(600_000, at(now), none)) - 600_000).abs() < 50);
        assert!(left(deadline_from(now + 86_400_000, at(now), none)) <= 900_000);
    }

    #[tokio::test(start_paused = true)]
    async fn the_margin_and_the_reserve_come_off_and_never_go_below_now() {
        let now = 1_795_924_646_000;
        let margin = Duration::from_millis(300);
        assert_eq!(
            deadline_from(now + 6_000, at(now), margin),
            Instant::now() + Duration::from_millis(5_700)
        );
        assert_eq!(deadline_from(now + 100, at(now), margin), Instant::now());
        let dl = Instant::now() + Duration::from_secs(2);
        assert_eq!(
            call_deadline(dl, Duration::from_millis(500)),
            Instant::now() + Duration::from_millis(1_500)
        );
        assert_eq!(call_deadline(dl, Duration::from_secs(3)), Instant::now());
    }
}

//! The wall clock. Event time comes from the records; this is for what only the wall
//! knows: EMF timestamps, when a car's summary was written (the silent-car rule's quiet
//! time) and when stored items expire.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    epoch_ms(SystemTime::now())
}

/// Whole seconds since the Unix epoch (0 if the clock is before it): DynamoDB's TTL unit.
pub fn now_s() -> i64 {
    now_ms() / 1000
}

/// Milliseconds from the Unix epoch to `t` (0 if `t` is before it).
pub fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn epoch_times_are_whole_milliseconds_and_seconds_rounded_down() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_924_646_599_900);
        assert_eq!(epoch_ms(t), 1_795_924_646_599);
        assert_eq!(epoch_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
        let (ms, s) = (now_ms(), now_s());
        assert!(s == ms / 1000 || s == ms / 1000 + 1);
    }
}

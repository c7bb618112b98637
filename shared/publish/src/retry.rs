//! One retry stack for both clients: which errors are worth retrying ([`PublishError`]),
//! how long to wait between attempts (`backon`'s jittered exponential backoff), and how
//! long each attempt may take (never past the caller's deadline).

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;

/// Why a publish failed. Whether it is worth retrying is [`PublishError::is_retryable`];
/// how long to wait is the [`RetryPolicy`]'s business.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PublishError {
    /// The server answered with an HTTP error status.
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    /// AppSync answered (often with 200) and its `errors` array says why it did not publish.
    #[error("GraphQL {error_type}: {message}")]
    GraphQl {
        error_type: String,
        message: String,
        retryable: bool,
    },
    /// One attempt took longer than its share of the time left.
    #[error("attempt timed out after {0:?}")]
    Timeout(Duration),
    /// The connection failed or broke before an answer came.
    #[error("transport: {0}")]
    Transport(String),
    /// No time was left for another attempt; `last` is the error before that (if any).
    #[error("deadline reached after {attempts} attempt(s); last error: {last}")]
    Deadline { attempts: u32, last: String },
    /// The request cannot succeed as it is (an item too large, a signing failure) or the
    /// answer makes no sense: retrying the same thing would fail the same way.
    #[error("{0}")]
    Invalid(String),
}

impl PublishError {
    /// Throttling, server errors, timeouts, broken connections and a deadline reached are
    /// worth trying again later; a refused request (4xx other than 408/429), a GraphQL
    /// validation or authorization error, or an invalid request is not.
    pub fn is_retryable(&self) -> bool {
        match self {
            PublishError::Status { status, .. } => status_is_retryable(*status),
            PublishError::GraphQl { retryable, .. } => *retryable,
            PublishError::Timeout(_)
            | PublishError::Transport(_)
            | PublishError::Deadline { .. } => true,
            PublishError::Invalid(_) => false,
        }
    }
}

/// 408 (request timeout), 429 (throttled) and every 5xx.
pub fn status_is_retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// How a client retries.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// First backoff delay. 50 ms: API Gateway and AppSync throttles clear within a few
    /// hundred ms, and a Kinesis batch has about 5 s in all.
    pub min_delay: Duration,
    /// Longest backoff delay: 1 s, so a retry still fits inside a short invocation.
    pub max_delay: Duration,
    /// Attempts in all, the first included: 5.
    pub max_attempts: usize,
    /// Longest single attempt: 3 s. An answer that slow is a stuck connection; trying a
    /// fresh one is better than waiting out the whole deadline.
    pub attempt_timeout: Duration,
    /// An attempt with less time than this left is not started (it could not finish):
    /// 100 ms.
    pub min_attempt: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(3),
            min_attempt: Duration::from_millis(100),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1))
            .build()
    }

    /// Runs `op` (given its attempt timeout) until it succeeds, fails permanently, runs out
    /// of attempts, or the next attempt could not finish before `deadline`. Returns the
    /// value and the number of attempts made.
    pub async fn run<T, F, Fut>(
        &self,
        deadline: Instant,
        mut op: F,
    ) -> Result<(T, u32), PublishError>
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = Result<T, PublishError>>,
    {
        let mut delays = self.backoff();
        let mut attempts = 0u32;
        let mut last: Option<PublishError> = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < self.min_attempt {
                return Err(PublishError::Deadline {
                    attempts,
                    last: last.map_or_else(|| "none".to_owned(), |e| e.to_string()),
                });
            }
            attempts += 1;
            let timeout = left.min(self.attempt_timeout);
            let result = match tokio::time::timeout(timeout, op(timeout)).await {
                Ok(r) => r,
                Err(_) => Err(PublishError::Timeout(timeout)),
            };
            let err = match result {
                Ok(v) => return Ok((v, attempts)),
                Err(e) if !e.is_retryable() => return Err(e),
                Err(e) => e,
            };
            let Some(delay) = delays.next() else {
                return Err(err);
            };
            if Instant::now() + delay + self.min_attempt > deadline {
                return Err(PublishError::Deadline {
                    attempts,
                    last: err.to_string(),
                });
            }
            last = Some(err);
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_and_stops_on_permanent_ones() {
        let p = RetryPolicy::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        let n = Cell::new(0);
        let r = p
            .run(deadline, |_| {
                n.set(n.get() + 1);
                let k = n.get();
                async move {
                    if k < 3 {
                        Err(PublishError::Status {
                            status: 503,
                            body: String::new(),
                        })
                    } else {
                        Ok(k)
                    }
                }
            })
            .await;
        assert_eq!(r, Ok((3, 3)));

        n.set(0);
        let r: Result<((), u32), _> = p
            .run(deadline, |_| {
                n.set(n.get() + 1);
                async {
                    Err(PublishError::Status {
                        status: 400,
                        body: "bad".into(),
                    })
                }
            })
            .await;
        assert_eq!(n.get(), 1);
        assert!(!r.unwrap_err().is_retryable());

        n.set(0);
        let r: Result<((), u32), _> = p
            .run(deadline, |_| {
                n.set(n.get() + 1);
                async { Err(PublishError::Transport("reset".into())) }
            })
            .await;
        assert_eq!(n.get(), 5, "max_attempts in all");
        assert_eq!(r.unwrap_err(), PublishError::Transport("reset".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_time_out_and_nothing_runs_past_the_deadline() {
        let p = RetryPolicy::default();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(4500);
        let timeouts = std::cell::RefCell::new(Vec::new());
        let r: Result<((), u32), _> = p
            .run(deadline, |t| {
                timeouts.borrow_mut().push(t);
                std::future::pending()
            })
            .await;
        let err = r.unwrap_err();
        assert!(
            matches!(err, PublishError::Deadline { attempts: 2, .. }),
            "{err:?}"
        );
        assert!(err.is_retryable());
        let t = timeouts.borrow().clone();
        assert_eq!(t[0], Duration::from_secs(3), "capped by attempt_timeout");
        assert!(
            t[1] < Duration::from_millis(1500),
            "capped by the time left: {t:?}"
        );
        assert!(Instant::now() <= deadline);

        // No time at all: no attempt.
        let calls = Cell::new(0);
        let r: Result<((), u32), _> = p
            .run(Instant::now() + Duration::from_millis(50), |_| {
                calls.set(calls.get() + 1);
                async { Ok(()) }
            })
            .await;
        assert_eq!(calls.get(), 0);
        assert!(matches!(r, Err(PublishError::Deadline { attempts: 0, .. })));
    }
}

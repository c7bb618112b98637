//! A circuit breaker around the predictor: closed (calls go through), open (calls are
//! skipped for a while: physics alone, visibly), half-open (one probe decides).
//!
//! A SageMaker endpoint that is down or slow must not spend every invocation's time
//! budget on timeouts: after `failures_to_open` failures in a row the breaker opens for
//! `open_for`, then lets exactly one invocation probe. Clocks are tokio's, so tests drive
//! them with paused time.
//!
//! Only the endpoint's trouble counts: a retryable error (a 5xx, throttling, a timeout,
//! an answer that is not the contract's) or an answer the breaker refuses (factors out of
//! range or miscounted). A permanent error of the call (a 4xx: the request refused, too
//! large or invalid) is the caller's fault: the endpoint is up, so it neither counts nor
//! keeps a probe from closing the breaker; those windows fall back to physics alone.

use std::sync::Mutex;
use std::time::Duration;

use burnbar_core::car::WindowFeatures;
use tokio::time::Instant;

use crate::ports::{PortError, Predictor};

/// Where the breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; other callers skip until it answers.
    HalfOpen,
}

/// Why the physics estimate stands alone for this invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Fallback {
    /// The breaker is open (or a probe is out): the predictor was not called.
    Open,
    /// The call failed or answered nonsense: the endpoint's trouble (it counts toward
    /// opening the breaker).
    Failed(PortError),
    /// The endpoint refused the request (a 4xx, a permanent error): the caller's fault,
    /// which does not count toward opening the breaker.
    Refused(PortError),
}

/// A predictor behind a breaker.
#[derive(Debug)]
pub struct Breaker<P> {
    inner: P,
    state: Mutex<BreakerState>,
    /// Failures in a row that open the breaker. 3: one slow answer is noise, three are
    /// an endpoint in trouble.
    pub failures_to_open: u32,
    /// How long it stays open before a probe. 30 s: six windows of physics alone, short
    /// enough that a recovered endpoint is back within a lap.
    pub open_for: Duration,
}

impl<P: Predictor> Breaker<P> {
    pub fn new(inner: P) -> Breaker<P> {
        Breaker {
            inner,
            state: Mutex::new(BreakerState::Closed { failures: 0 }),
            failures_to_open: 3,
            open_for: Duration::from_secs(30),
        }
    }

    pub fn state(&self) -> BreakerState {
        *self.state.lock().expect("breaker lock")
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Factors for the windows (`None` for a window outside the model's domain), or why
    /// physics stands alone. A factor that is not finite or outside `[0.5, 1.5]` makes
    /// the whole answer a failure: a model that says a car burned half or double what
    /// physics says is broken, not insightful.
    pub async fn predict(
        &self,
        windows: &[WindowFeatures],
        deadline: Instant,
    ) -> Result<Vec<Option<f64>>, Fallback> {
        {
            let mut st = self.state.lock().expect("breaker lock");
            match *st {
                BreakerState::Closed { .. } => {}
                BreakerState::Open { until } if Instant::now() >= until => {
                    *st = BreakerState::HalfOpen;
                }
                BreakerState::Open { .. } | BreakerState::HalfOpen => return Err(Fallback::Open),
            }
        }
        let answer = self.inner.predict(windows, deadline).await;
        // The request refused (a 4xx): the endpoint answered.
        let refused = matches!(answer, Err(PortError::Permanent(_)));
        let res = answer.and_then(|f| {
            if f.len() != windows.len() {
                return Err(PortError::Permanent(format!(
                    "{} factors for {} windows",
                    f.len(),
                    windows.len()
                )));
            }
            if let Some(bad) = f
                .iter()
                .flatten()
                .find(|x| !(x.is_finite() && (0.5..=1.5).contains(*x)))
            {
                return Err(PortError::Permanent(format!(
                    "factor {bad} outside [0.5, 1.5]"
                )));
            }
            Ok(f)
        });
        let mut st = self.state.lock().expect("breaker lock");
        match res {
            Ok(f) => {
                *st = BreakerState::Closed { failures: 0 };
                Ok(f)
            }
            Err(e) if refused => {
                if *st == BreakerState::HalfOpen {
                    *st = BreakerState::Closed { failures: 0 };
                }
                Err(Fallback::Refused(e))
            }
            Err(e) => {
                let failures = match *st {
                    BreakerState::Closed { failures } => failures + 1,
                    _ => self.failures_to_open,
                };
                *st = if failures >= self.failures_to_open {
                    BreakerState::Open {
                        until: Instant::now() + self.open_for,
                    }
                } else {
                    BreakerState::Closed { failures }
                };
                Err(Fallback::Failed(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Flaky {
        fail: std::sync::atomic::AtomicBool,
        calls: AtomicU32,
    }

    impl Predictor for Flaky {
        async fn predict(
            &self,
            w: &[WindowFeatures],
            _: Instant,
        ) -> Result<Vec<Option<f64>>, PortError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                Err(PortError::Retryable("503".into()))
            } else {
                Ok(vec![Some(1.02); w.len()])
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_three_failures_skips_then_one_probe_closes_it() {
        let b = Breaker::new(Flaky {
            fail: true.into(),
            calls: AtomicU32::new(0),
        });
        let dl = Instant::now() + Duration::from_secs(1);
        for _ in 0..3 {
            assert!(matches!(b.predict(&[], dl).await, Err(Fallback::Failed(_))));
        }
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        assert_eq!(b.predict(&[], dl).await, Err(Fallback::Open));
        assert_eq!(
            b.inner().calls.load(Ordering::SeqCst),
            3,
            "open: not called"
        );
        tokio::time::advance(Duration::from_secs(31)).await;
        // The probe fails: open again at once (no three strikes in half-open).
        assert!(matches!(b.predict(&[], dl).await, Err(Fallback::Failed(_))));
        assert!(matches!(b.state(), BreakerState::Open { .. }));
        tokio::time::advance(Duration::from_secs(31)).await;
        b.inner().fail.store(false, Ordering::SeqCst);
        assert_eq!(b.predict(&[], dl).await, Ok(vec![]));
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        assert_eq!(b.inner().calls.load(Ordering::SeqCst), 5);
    }

    struct Refuses(AtomicU32);
    impl Predictor for Refuses {
        async fn predict(
            &self,
            _: &[WindowFeatures],
            _: Instant,
        ) -> Result<Vec<Option<f64>>, PortError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(PortError::Permanent(
                "ValidationError 400: too large".into(),
            ))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_request_neither_counts_nor_keeps_a_probe_from_closing() {
        let b = Breaker::new(Refuses(AtomicU32::new(0)));
        let dl = Instant::now() + Duration::from_secs(1);
        for _ in 0..5 {
            assert!(matches!(
                b.predict(&[], dl).await,
                Err(Fallback::Refused(_))
            ));
        }
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        assert_eq!(b.inner().0.load(Ordering::SeqCst), 5, "every call went out");
        // Open (by the endpoint's trouble earlier): a probe answered with a 4xx shows the
        // endpoint is up, and closes it.
        *b.state.lock().unwrap() = BreakerState::Open {
            until: Instant::now(),
        };
        assert!(matches!(
            b.predict(&[], dl).await,
            Err(Fallback::Refused(_))
        ));
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    struct Absurd;
    impl Predictor for Absurd {
        async fn predict(
            &self,
            w: &[WindowFeatures],
            _: Instant,
        ) -> Result<Vec<Option<f64>>, PortError> {
            Ok(vec![Some(3.0); w.len().max(1)])
        }
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_or_miscounted_factors_are_a_failure() {
        let b = Breaker::new(Absurd);
        let dl = Instant::now() + Duration::from_secs(1);
        match b.predict(&[], dl).await {
            Err(Fallback::Failed(PortError::Permanent(m))) => {
                assert!(m.contains("1 factors for 0"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
}

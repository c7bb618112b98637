//! A function binary's `main`, in three calls: read the configuration
//! ([`configured`]), build the handler, serve it ([`serve_kinesis`], feature `kinesis`,
//! or [`serve_http`], feature `apigw`).
//!
//! Serving runs the Lambda runtime until it stops. Each invocation gets its deadline
//! from the runtime's header, its metrics line ([`crate::invocation::Invocation`]) and
//! the answer its event source understands: the partial-batch response for Kinesis, the
//! proxy response for API Gateway.

#[cfg(feature = "apigw")]
mod apigw;
#[cfg(feature = "kinesis")]
mod kinesis;

#[cfg(feature = "apigw")]
pub use apigw::{http_invocation, serve_http};
#[cfg(feature = "kinesis")]
pub use kinesis::{kinesis_invocation, serve_kinesis};

use burnbar_metrics::log;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a function's `main` returns when its init or the runtime fails.
pub use lambda_runtime::Error;

/// A function's configuration, or the init phase fails: the reason goes to the log with
/// the function's name, and Lambda reports the failed init (no invocation runs
/// half-configured).
pub fn configured<T>(function: &str, config: Result<T, String>) -> Result<T, Error> {
    config.map_err(|reason| {
        log(
            "error",
            "configuration",
            None,
            &[
                ("function", Value::from(function)),
                ("reason", Value::from(reason.as_str())),
            ],
        );
        reason.into()
    })
}

/// The Lambda runtime around one answer per event, until it stops (an answer is never
/// an error: each event source has its own way to say what failed).
pub async fn serve<A, R>(answer: impl AsyncFn(LambdaEvent<A>) -> R) -> Result<(), Error>
where
    A: DeserializeOwned,
    R: Serialize,
{
    let answer = &answer;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<A>| async move {
        Ok::<_, Error>(answer(ev).await)
    }))
    .await
}

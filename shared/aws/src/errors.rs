//! Retryable or permanent: the SDK's errors mapped to the pipeline's `PortError`, and a
//! deadline on every call.

use std::future::Future;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use burnbar_pipeline::PortError;
use tokio::time::Instant;

/// Error codes that mean "later": throttling and the service's own trouble.
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "ModelNotReadyException",
    "ServiceUnavailableException",
    "InternalFailure",
    "RequestThrottled",
];

/// Classifies an SDK error (after the SDK's own retries).
pub fn classify<E>(what: &str, e: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let msg = format!("{what}: {}", DisplayErrorContext(&e));
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PortError::Retryable(msg)
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("");
            let status = se.raw().status().as_u16();
            if RETRYABLE_CODES.contains(&code) || status >= 500 || status == 429 {
                PortError::Retryable(msg)
            } else {
                PortError::Permanent(msg)
            }
        }
        _ => PortError::Permanent(msg),
    }
}

/// Runs `f` until `deadline`: no answer by then is a retryable error (the records are
/// reported failed and delivered again; nothing was half-applied, since a write either
/// happened whole or not at all).
pub async fn within<T>(
    deadline: Instant,
    what: &str,
    f: impl Future<Output = Result<T, PortError>>,
) -> Result<T, PortError> {
    match tokio::time::timeout_at(deadline, f).await {
        Ok(r) => r,
        Err(_) => Err(PortError::Retryable(format!(
            "{what}: no answer before the invocation's deadline"
        ))),
    }
}

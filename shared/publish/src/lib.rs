//! SigV4-signed HTTP clients that publish `FuelUpdate`s: the writer API and AppSync.
//!
//! The telemetry-processor hands its updates to the writer API (API Gateway, IAM auth,
//! service `execute-api`) with [`WriterClient`]; the appsync-writer function behind that API
//! turns them into GraphQL mutations with [`AppSyncClient`] (service `appsync`). Both sign
//! with SigV4 from the credentials Lambda puts in the environment, give every attempt a
//! timeout below the caller's deadline, and retry what is worth retrying (throttling, 5xx,
//! timeouts, dropped connections) with jittered backoff while time remains.
//!
//! # Layout
//!
//! - [`signer`]: credentials, region and service; signs one request.
//! - [`verify`]: the other side: checks a request's SigV4 signature (used by stand-ins).
//! - [`retry`]: the retry policy (backoff, attempt timeout, deadline) and [`PublishError`].
//! - [`wire`]: the writer API's request and response shapes and their limits.
//! - [`writer`]: [`WriterClient`], batches to the writer API.
//! - [`appsync`]: [`AppSyncClient`], the `publishUpdates` / `publishRaceState` mutations.
//! - `testkit` (feature `testkit`): a SigV4-verifying stand-in for both, on loopback.

pub mod appsync;
pub mod retry;
pub mod signer;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod verify;
pub mod wire;
pub mod writer;

pub use appsync::AppSyncClient;
pub use aws_credential_types::Credentials;
pub use retry::{PublishError, RetryPolicy};
pub use signer::{ConfigError, Signer};
pub use writer::{PublishFailure, PublishReport, WriterClient};

/// One `reqwest` client for a function's lifetime (it pools connections), HTTP/1.1 with
/// rustls; timeouts are per attempt, set by the callers from their deadline.
pub fn http_client() -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(50))
        .build()
        .map_err(|e| ConfigError(format!("HTTP client: {e}")))
}

/// One signed JSON POST: signs `body` for `url` at the current time (a retry is signed
/// afresh, so its `X-Amz-Date` stays within AWS's 5-minute window) and returns the status
/// and body of the answer. Timeouts are the caller's (`RetryPolicy::run`).
pub(crate) async fn post_signed(
    http: &reqwest::Client,
    signer: &Signer,
    url: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), PublishError> {
    const CONTENT_TYPE: (&str, &str) = ("content-type", "application/json");
    let auth = signer
        .sign(
            "POST",
            url,
            &[CONTENT_TYPE],
            body,
            std::time::SystemTime::now(),
        )
        .map_err(PublishError::Invalid)?;
    let mut req = http
        .post(url)
        .header(CONTENT_TYPE.0, CONTENT_TYPE.1)
        .body(body.to_vec());
    for (k, v) in auth {
        req = req.header(k, v);
    }
    let resp = req.send().await.map_err(transport)?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(transport)?;
    Ok((status, bytes.to_vec()))
}

/// A reqwest error with its causes (the top level alone says only "error sending request").
fn transport(e: reqwest::Error) -> PublishError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    PublishError::Transport(msg)
}

/// At most 500 bytes of a body, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    match s.char_indices().nth(500) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.into_owned(),
    }
}

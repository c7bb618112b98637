//! The learned correction through the SageMaker runtime: one `InvokeEndpoint` for the
//! windows an invocation closes (the processor sends at most
//! `burnbar_core::correction::MAX_WINDOWS_PER_REQUEST` a call).
//!
//! Errors: a 4xx (the request refused: too large, invalid) is permanent and does not
//! count toward the breaker; a 5xx, throttling, a timeout or an answer that is not the
//! contract's is retryable, the endpoint's trouble, and does.
//!
//! The wire format is the inference container's (`/invocations`):
//! request `{"windows": [WindowFeatures, ...]}`, response `{"factors": [f64, ...],
//! "outside_domain": [bool, ...]}`, one of each per window, in order; a window outside
//! the model's domain comes back as `None` (physics).

use std::time::Duration;

use aws_sdk_sagemakerruntime::Client;
use aws_sdk_sagemakerruntime::primitives::Blob;
use burnbar_core::car::WindowFeatures;
use burnbar_pipeline::ports::{PortError, Predictor};
use tokio::time::Instant;

use crate::errors::{classify, within};

/// The request and response bodies: defined in the core, beside the correction itself
/// (`burnbar_core::correction`), so that the container (`burnbar-model`) and this client
/// share one definition.
pub use burnbar_core::correction::{PredictRequest, PredictResponse};

/// A SageMaker endpoint as a predictor.
#[derive(Debug, Clone)]
pub struct SageMakerPredictor {
    client: Client,
    endpoint: String,
    /// Longest wait for the endpoint. 300 ms: the correction (a small regression)
    /// answers in tens of milliseconds; beyond this the physics estimate is worth more
    /// than the wait.
    pub timeout: Duration,
}

impl SageMakerPredictor {
    pub fn new(client: Client, endpoint: impl Into<String>) -> SageMakerPredictor {
        SageMakerPredictor {
            client,
            endpoint: endpoint.into(),
            timeout: Duration::from_millis(300),
        }
    }
}

impl Predictor for SageMakerPredictor {
    async fn predict(
        &self,
        windows: &[WindowFeatures],
        deadline: Instant,
    ) -> Result<Vec<Option<f64>>, PortError> {
        let body = serde_json::to_vec(&PredictRequest {
            windows: windows.to_vec(),
        })
        .map_err(|e| PortError::Permanent(format!("features do not encode: {e}")))?;
        let dl = deadline.min(Instant::now() + self.timeout);
        let resp = within(dl, "InvokeEndpoint", async {
            self.client
                .invoke_endpoint()
                .endpoint_name(&self.endpoint)
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(body))
                .send()
                .await
                .map_err(|e| classify("InvokeEndpoint", e))
        })
        .await?;
        let bytes = resp.body().map(|b| b.as_ref()).unwrap_or_default();
        // An answer that is not the contract's is the endpoint's fault, as a 5xx is:
        // retryable, so it counts toward the breaker (a 4xx, the request's fault, does not).
        let parsed: PredictResponse = serde_json::from_slice(bytes).map_err(|e| {
            PortError::Retryable(format!(
                "the endpoint answered {} bytes that are not {{\"factors\": [...]}}: {e}",
                bytes.len()
            ))
        })?;
        parsed
            .per_window(windows.len())
            .map_err(|e| PortError::Retryable(format!("the endpoint answered {e}")))
    }
}

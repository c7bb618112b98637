//! Serving a Kinesis handler: each batch's records, its deadline and metrics, and the
//! partial-batch response.
//!
//! The runtime deserializes each body itself, through serde_json; the body is first
//! offered to the envelope scanner ([`KinesisBatch::scan`]) by a layer around the
//! runtime ([`Prescan`]), which hands the runtime the scanned batch instead
//! (`KinesisBatch::predecoded`). A body the scanner does not take goes to the runtime
//! untouched, and the runtime's serde path decodes or refuses it as before.

use std::time::{Duration, SystemTime};

use burnbar_metrics::Unit;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime, service_fn};
use tokio::time::Instant;

use super::Error;
use crate::deadline::deadline_from;
use crate::event::KinesisBatch;
use crate::invocation::Invocation;
use crate::kinesis::{BatchHandler, BatchResponse};

/// Serves Kinesis batches with `handler` until the runtime stops.
pub async fn serve_kinesis(function: &str, handler: &impl BatchHandler) -> Result<(), Error> {
    // As `lambda_runtime::run` builds it (the tracing layer), with `Prescan` outermost.
    let service = service_fn(async |ev: LambdaEvent<KinesisBatch>| {
        Ok::<_, Error>(kinesis_invocation(function, ev, handler).await)
    });
    Runtime::new(service)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(Prescan)
        .run()
        .await
}

/// The layer that offers each body to the envelope scanner before the runtime
/// deserializes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prescan;

impl<S> Layer<S> for Prescan {
    type Service = PrescanService<S>;
    fn layer(&self, inner: S) -> PrescanService<S> {
        PrescanService(inner)
    }
}

/// [`Prescan`] around the runtime's service.
#[derive(Debug, Clone)]
pub struct PrescanService<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for PrescanService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut inv: LambdaInvocation) -> S::Future {
        match KinesisBatch::scan(&inv.body) {
            Ok(batch) => {
                // The body is no longer needed: the runtime's deserializer meets the
                // batch in the slot before it reads a byte.
                inv.body = Default::default();
                KinesisBatch::predecoded(batch, || self.0.call(inv))
            }
            Err(_) => self.0.call(inv),
        }
    }
}

/// One Kinesis invocation through `handler`: its metrics (the time budget, whether the
/// batch partly failed) and the partial-batch response. The event's buffers go back to
/// the thread for the next invocation.
pub async fn kinesis_invocation(
    function: &str,
    ev: LambdaEvent<KinesisBatch>,
    handler: &impl BatchHandler,
) -> BatchResponse {
    let mut inv = Invocation::start(function, &ev.context.request_id);
    let dl = deadline_from(ev.context.deadline, SystemTime::now(), Duration::ZERO);
    inv.metrics.set(
        "invocation_budget_ms",
        Unit::Milliseconds,
        dl.saturating_duration_since(Instant::now()).as_millis() as f64,
    );
    let records = ev.payload.records();
    let outcome = handler.handle_batch(&records, dl, &mut inv.metrics).await;
    drop(records);
    ev.payload.recycle();
    inv.metrics.count(
        "batches_partially_failed_total",
        outcome.first_failed.is_some() as u64,
    );
    inv.end();
    BatchResponse::from_first_failed(outcome.first_failed)
}

#[cfg(test)]
mod tests {
    use std::future::{Ready, ready};

    use lambda_runtime::Context;
    use serde::Deserialize;

    use super::*;

    /// What the runtime's inner service saw: the body it was handed, and the batch it
    /// deserialized from it (sequence numbers and data), or the error.
    type Seen = (Vec<u8>, Result<Vec<(String, Vec<u8>)>, String>);

    /// Deserializes as the runtime does (`lambda_runtime::deserializer`: serde_json from
    /// the body, synchronously in `call`, no check for trailing characters).
    fn runtime_like(inv: LambdaInvocation) -> Ready<Result<Seen, ()>> {
        let mut de = serde_json::Deserializer::from_slice(&inv.body);
        let batch = KinesisBatch::deserialize(&mut de).map_err(|e| e.to_string());
        let records = batch.map(|b| {
            b.records()
                .iter()
                .map(|r| (r.sequence_number.to_owned(), r.data.to_vec()))
                .collect()
        });
        ready(Ok((inv.body.to_vec(), records)))
    }

    async fn through_prescan(body: &str) -> Seen {
        let mut svc = Prescan.layer(service_fn(runtime_like));
        let inv = LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: body.as_bytes().to_vec().into(),
            context: Context::default(),
        };
        svc.call(inv).await.unwrap()
    }

    const LAMBDA: &str = r#"{"Records":[{"kinesis":{"sequenceNumber":"1","data":"eyJ2IjoxfQo=","approximateArrivalTimestamp":1545084650.987},"eventName":"aws:kinesis:record"}]}"#;

    #[tokio::test]
    async fn lambdas_shape_reaches_the_handler_scanned_and_the_rest_as_before() {
        // Scanned: the runtime is handed an empty body and deserializes the batch.
        let (body, got) = through_prescan(LAMBDA).await;
        assert!(body.is_empty(), "the runtime did not get the scanned batch");
        assert_eq!(got.unwrap(), [("1".to_owned(), b"{\"v\":1}\n".to_vec())]);
        // Nothing is left for a later body: the next one, not scannable (an escape),
        // reaches the runtime whole and serde decodes it.
        let escaped = LAMBDA.replace(r#""1""#, r#""\u0032""#);
        let (body, got) = through_prescan(&escaped).await;
        assert_eq!(body, escaped.as_bytes());
        assert_eq!(got.unwrap(), [("2".to_owned(), b"{\"v\":1}\n".to_vec())]);
        // The runtime's own leniency stays: trailing characters are not its concern.
        let (body, got) = through_prescan(&format!("{LAMBDA} trailing")).await;
        assert!(!body.is_empty());
        assert_eq!(got.unwrap().len(), 1);
        // And what serde refuses still fails the invocation, with serde's reason.
        let (_, got) = through_prescan(r#"{"Records":[{"kinesis":{}}]}"#).await;
        assert!(got.unwrap_err().contains("missing field"));
        // A deserializer outside the layer never meets a scanned batch.
        let mut de = serde_json::Deserializer::from_slice(b"");
        assert!(KinesisBatch::deserialize(&mut de).is_err());
    }
}

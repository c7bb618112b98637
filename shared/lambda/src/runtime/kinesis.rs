//! Serving a Kinesis handler: each batch's records, its deadline and metrics, and the
//! partial-batch response.
//!
//! The runtime deserializes each body itself, through serde_json; the body is first
//! offered to the envelope scanner ([`KinesisBatch::scan`]) by a layer around the
//! runtime ([`Prescan`]), which hands the runtime the scanned batch instead
//! ([`KinesisBatch::predecoded`]). A body the scanner does not take goes to the runtime
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

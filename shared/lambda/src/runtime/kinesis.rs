//! Serving a Kinesis handler: each batch's records, its deadline and metrics, and the
//! partial-batch response.

use std::time::{Duration, SystemTime};

use burnbar_metrics::Unit;
use lambda_runtime::LambdaEvent;
use tokio::time::Instant;

use super::{Error, serve};
use crate::deadline::deadline_from;
use crate::event::KinesisBatch;
use crate::invocation::Invocation;
use crate::kinesis::{BatchHandler, BatchResponse};

/// Serves Kinesis batches with `handler` until the runtime stops.
pub async fn serve_kinesis(function: &str, handler: &impl BatchHandler) -> Result<(), Error> {
    serve(async |ev: LambdaEvent<KinesisBatch>| kinesis_invocation(function, ev, handler).await)
        .await
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

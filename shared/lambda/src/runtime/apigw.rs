//! Serving an API Gateway (REST API proxy) handler: each request's deadline less the
//! time kept back to answer, its metrics with the answer's status.

use std::time::{Duration, SystemTime};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use burnbar_metrics::MetricSet;
use lambda_runtime::LambdaEvent;
use tokio::time::Instant;

use super::{Error, serve};
use crate::deadline::deadline_from;
use crate::invocation::Invocation;

/// Serves API Gateway requests with `handler`, which gets the request, the deadline
/// less `margin` (the time kept back to answer), the request id and the invocation's
/// metrics.
pub async fn serve_http<H>(function: &str, margin: Duration, handler: H) -> Result<(), Error>
where
    H: AsyncFn(&ApiGatewayProxyRequest, Instant, &str, &mut MetricSet) -> ApiGatewayProxyResponse,
{
    serve(async |ev: LambdaEvent<ApiGatewayProxyRequest>| {
        http_invocation(function, margin, ev, &handler).await
    })
    .await
}

/// One API Gateway invocation through `handler`, its metrics with the answer's status.
pub async fn http_invocation<H>(
    function: &str,
    margin: Duration,
    ev: LambdaEvent<ApiGatewayProxyRequest>,
    handler: &H,
) -> ApiGatewayProxyResponse
where
    H: AsyncFn(&ApiGatewayProxyRequest, Instant, &str, &mut MetricSet) -> ApiGatewayProxyResponse,
{
    let mut inv = Invocation::start(function, &ev.context.request_id);
    let dl = deadline_from(ev.context.deadline, SystemTime::now(), margin);
    let response = handler(&ev.payload, dl, &ev.context.request_id, &mut inv.metrics).await;
    inv.metrics.property("status", response.status_code);
    inv.end();
    response
}

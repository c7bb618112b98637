//! The appsync-writer Lambda binary: reads its configuration once, builds the AppSync
//! client, and serves invocations with [`appsync_writer::invoke`].

use appsync_writer::invoke;
use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use burnbar_metrics::log;
use burnbar_publish::{AppSyncClient, Signer, http_client};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let client = match configure() {
        Ok(c) => c,
        Err(e) => {
            // Fail the init phase: Lambda reports it, and no invocation runs half-configured.
            log("error", "configuration", None, &[("reason", json!(e))]);
            return Err(e.into());
        }
    };
    let client = &client;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| async move {
            Ok::<_, lambda_runtime::Error>(invoke(client, event).await)
        },
    ))
    .await
}

/// `APPSYNC_URL` (the GraphQL endpoint) and the credentials and region Lambda provides.
fn configure() -> Result<AppSyncClient, String> {
    let url = std::env::var("APPSYNC_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .ok_or("APPSYNC_URL is not set")?;
    let signer = Signer::from_env("appsync").map_err(|e| e.to_string())?;
    let http = http_client().map_err(|e| e.to_string())?;
    AppSyncClient::new(http, signer, &url).map_err(|e| e.to_string())
}

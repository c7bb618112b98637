//! The appsync-writer Lambda: its AppSync client from the environment, the pipeline's
//! writer handler ([`burnbar_pipeline::writer`]), served on API Gateway requests.

use burnbar_lambda::runtime::{Error, configured, serve_http};
use burnbar_pipeline::writer::{ANSWER_MARGIN, handle};
use burnbar_publish::{AppSyncClient, Signer, http_client};

const FUNCTION: &str = "appsync-writer";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let appsync = configured(FUNCTION, appsync_from_env())?;
    serve_http(
        FUNCTION,
        ANSWER_MARGIN,
        async |req, deadline, request_id, m| handle(&appsync, req, deadline, request_id, m).await,
    )
    .await
}

/// `APPSYNC_URL` (the GraphQL endpoint) and the credentials and region Lambda provides.
fn appsync_from_env() -> Result<AppSyncClient, String> {
    let url = std::env::var("APPSYNC_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .ok_or("APPSYNC_URL is not set")?;
    let signer = Signer::from_env("appsync").map_err(|e| e.to_string())?;
    let http = http_client().map_err(|e| e.to_string())?;
    AppSyncClient::new(http, signer, &url).map_err(|e| e.to_string())
}

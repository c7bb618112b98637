//! The appsync-writer Lambda: its AppSync client from the environment, the pipeline's
//! writer handler ([`burnbar_pipeline::writer`]), served on API Gateway requests; with
//! `DOWNSTREAM_STREAM` set, the published updates also go to that Kinesis stream.

#![recursion_limit = "256"]

use burnbar_aws::kinesis::KinesisDownstream;
use burnbar_lambda::runtime::{Error, configured, serve_http};
use burnbar_pipeline::writer::{ANSWER_MARGIN, Publishing, handle};
use burnbar_publish::{AppSyncClient, Signer, http_client};

const FUNCTION: &str = "appsync-writer";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let appsync = configured(FUNCTION, appsync_from_env())?;
    let downstream = downstream_from_env().await;
    let port = Publishing {
        appsync,
        downstream,
    };
    serve_http(
        FUNCTION,
        ANSWER_MARGIN,
        async |req, deadline, request_id, m| {
            let answer = handle(&port, req, deadline, request_id, m).await;
            if let Some(d) = &port.downstream {
                d.drain_metrics(m);
            }
            answer
        },
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

/// `DOWNSTREAM_STREAM` (template parameter `DownstreamStream`): the stream's name or ARN;
/// empty or unset, no downstream.
async fn downstream_from_env() -> Option<KinesisDownstream> {
    let stream = std::env::var("DOWNSTREAM_STREAM")
        .ok()
        .filter(|s| !s.is_empty())?;
    let sdk = burnbar_aws::sdk_config().await;
    Some(KinesisDownstream::new(
        aws_sdk_kinesis::Client::new(&sdk),
        stream,
    ))
}

//! The routes of SageMaker's container contract, and the server's life: it serves until
//! the shutdown future resolves, then lets the requests in flight finish.
//!
//! - `GET /ping`: 200 (the model is loaded before the server listens).
//! - `POST /invocations`: the windows' factors, or a JSON `{"error"}` with 400
//!   (the body) or 415 (the content type).
//! - `POST /endpoints/{name}/invocations`: the same, on the SageMaker runtime API's
//!   path, so that the runtime client can be pointed at the container itself.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use burnbar_core::correction::CorrectionModel;
use serde_json::json;
use tokio::net::TcpListener;

use crate::invoke::{self, MAX_BODY_BYTES, Rejection};

/// The routes, over a loaded model.
pub fn router(model: Arc<CorrectionModel>) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/invocations", post(invocations))
        .route("/endpoints/{name}/invocations", post(invocations))
        .fallback(not_found)
        // A body over the limit is refused with our reason (see `invocations`), not
        // axum's default 2 MB one.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(model)
}

/// Serves `listener` until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    model: Arc<CorrectionModel>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(model))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn ping() -> StatusCode {
    StatusCode::OK
}

/// Scores on the request's task: even a full body (10,000 windows) is parsed and scored
/// in milliseconds, less than handing it to a blocking thread would save.
async fn invocations(
    State(model): State<Arc<CorrectionModel>>,
    _: JsonContent,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<burnbar_core::correction::PredictResponse>, Refused> {
    let body = body.map_err(|e| {
        Refused(Rejection::BadRequest(match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                format!(
                    "the body is larger than {MAX_BODY_BYTES} bytes (SageMaker's 6 MB payload limit): split the batch"
                )
            }
            e => format!("the body could not be read: {e}"),
        }))
    })?;
    Ok(Json(invoke::score(&model, &body).map_err(Refused)?))
}

async fn not_found(uri: Uri) -> Response {
    let error = format!("no route {uri}: this server answers GET /ping and POST /invocations");
    (StatusCode::NOT_FOUND, Json(json!({ "error": error }))).into_response()
}

/// A request whose `Content-Type` is JSON (checked before the body is read).
struct JsonContent;

impl<S: Send + Sync> FromRequestParts<S> for JsonContent {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Refused> {
        let ct = parts.headers.get(header::CONTENT_TYPE).map(|v| {
            // A header that is not visible ASCII is no JSON content type either.
            v.to_str().unwrap_or("(not ASCII)")
        });
        invoke::check_content_type(ct).map_err(Refused)?;
        Ok(JsonContent)
    }
}

/// A refused request as the caller reads it: the status and `{"error": reason}`, also
/// logged (a caller sending bad requests is something an operator wants to see).
struct Refused(Rejection);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            Rejection::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::BadRequest(_) => StatusCode::BAD_REQUEST,
        };
        let reason = self.0.reason();
        burnbar_metrics::log(
            "warn",
            "request refused",
            None,
            &[
                ("status", json!(status.as_u16())),
                ("reason", json!(reason)),
            ],
        );
        (status, Json(json!({ "error": reason }))).into_response()
    }
}

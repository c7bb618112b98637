//! The local dashboard server of `burnbar demo` and `burnbar replay --serve`.
//!
//! It speaks the part of AppSync's protocol the pages use, so that the very same page
//! script runs against it and against AppSync in AWS with only the URL and API key
//! changed: queries as HTTP `POST /graphql` with `x-api-key`, subscriptions over
//! AppSync's real-time WebSocket protocol (`graphql-ws`). Operations are validated
//! against `schema.graphql` itself (the file AppSync is given), parsed at start-up.
//!
//! # Layout
//!
//! - [`graphql`]: the schema as a type table; operations validated and shaped.
//! - [`realtime`]: AppSync's real-time protocol over a WebSocket.
//! - [`feed`]: the pipeline paced at `--speed` × event time, publishing as windows close.
//! - this file: the [`Hub`] (latest values, history, the push channel) and the HTTP
//!   routes (pages, `config.json`, `schema.graphql`, `/graphql`).

pub mod feed;
pub mod graphql;
pub mod realtime;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use burnbar_core::{FuelUpdate, RaceState};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use graphql::{Caller, GqlError, OpKind, Operation, Schema};

/// `schema.graphql`, the one file AppSync and this server share.
pub const SCHEMA_SDL: &str = include_str!("../../schema.graphql");

/// The API key of the local server. It guards nothing secret (the server listens on
/// 127.0.0.1 only); it is checked as AppSync checks its key, so a page that forgets to
/// send one fails here as it would in AWS.
pub const LOCAL_API_KEY: &str = "da2-burnbar-local";

/// A car's history kept for the `history` query: 120 windows, 10 minutes at 5 s.
pub const HISTORY_LEN: usize = 120;

/// Races held at once (least recently published dropped first); a demo has one.
const MAX_RACES: usize = 16;

/// Pushes buffered per subscriber connection before a slow one starts to miss them.
const PUSH_BUFFER: usize = 4096;

/// One publication, as AppSync would fan out a mutation's result.
#[derive(Debug)]
pub struct Push {
    /// The subscription field it feeds (`onUpdates` or `onRaceState`).
    pub field: &'static str,
    /// The mutation's result (an `UpdateBatch` or a `RaceState`), as JSON.
    pub value: Value,
    /// Wall-clock ms when the pipeline closed the windows of this batch: sent to the
    /// page as a response extension so it can measure close-to-screen latency.
    pub closed_at_ms: Option<f64>,
}

#[derive(Debug, Default)]
struct RaceStore {
    latest: BTreeMap<String, Value>,
    history: HashMap<String, VecDeque<Value>>,
    state: Option<Value>,
    /// Publication counter when last touched (to drop the oldest race).
    touched: u64,
}

#[derive(Debug, Default)]
struct Store {
    races: HashMap<String, RaceStore>,
    clock: u64,
    /// The race most recently published: what `config.json` offers the pages.
    current: Option<String>,
}

impl Store {
    fn race(&mut self, id: &str) -> &mut RaceStore {
        self.clock += 1;
        if !self.races.contains_key(id) && self.races.len() >= MAX_RACES {
            let oldest = self
                .races
                .iter()
                .min_by_key(|(_, r)| r.touched)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.races.remove(&k);
            }
        }
        self.current = Some(id.to_owned());
        let clock = self.clock;
        let r = self.races.entry(id.to_owned()).or_default();
        r.touched = clock;
        r
    }
}

/// What the server publishes and remembers: the latest update of every car, a short
/// history per car, each race's state, and the channel subscriptions listen on.
#[derive(Debug)]
pub struct Hub {
    schema: Schema,
    api_key: String,
    store: Mutex<Store>,
    tx: broadcast::Sender<Arc<Push>>,
    /// Pushes a slow subscriber missed (`pushes_dropped_total`).
    pub pushes_dropped: AtomicU64,
    /// Open real-time connections.
    pub viewers: AtomicU64,
}

impl Hub {
    /// A hub serving `schema.graphql` (which must parse) behind `api_key`.
    pub fn new(api_key: &str) -> Result<Hub, String> {
        let schema = Schema::parse(SCHEMA_SDL)?;
        let (tx, _) = broadcast::channel(PUSH_BUFFER);
        Ok(Hub {
            schema,
            api_key: api_key.to_owned(),
            store: Mutex::new(Store::default()),
            tx,
            pushes_dropped: AtomicU64::new(0),
            viewers: AtomicU64::new(0),
        })
    }

    /// The parsed schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    fn key_ok(&self, key: Option<&str>) -> bool {
        key == Some(self.api_key.as_str())
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the maps half-written in a way
        // that matters to a viewer: keep serving.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes one race's updates as one `UpdateBatch` (`publishUpdates`).
    pub fn publish_updates(&self, race_id: &str, updates: &[FuelUpdate], closed_at_ms: f64) {
        let values: Vec<Value> = updates
            .iter()
            .map(|u| serde_json::to_value(u).expect("a FuelUpdate serializes"))
            .collect();
        {
            let mut store = self.store();
            let race = store.race(race_id);
            for v in &values {
                let car = v["car"].as_str().unwrap_or_default().to_owned();
                let h = race.history.entry(car.clone()).or_default();
                if h.len() == HISTORY_LEN {
                    h.pop_front();
                }
                h.push_back(v.clone());
                race.latest.insert(car, v.clone());
            }
        }
        let value = json!({"race_id": race_id, "updates": values});
        let _ = self.tx.send(Arc::new(Push {
            field: "onUpdates",
            value,
            closed_at_ms: Some(closed_at_ms),
        }));
    }

    /// Publishes a race's state (`publishRaceState`); `drivers` is AWSJSON, a string.
    pub fn publish_race_state(&self, state: &RaceState) {
        let mut value = serde_json::to_value(state).expect("a RaceState serializes");
        value["drivers"] =
            Value::String(serde_json::to_string(&state.drivers).expect("driver names serialize"));
        self.store().race(&state.race_id).state = Some(value.clone());
        let _ = self.tx.send(Arc::new(Push {
            field: "onRaceState",
            value,
            closed_at_ms: None,
        }));
    }

    /// A receiver of every push from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Push>> {
        self.tx.subscribe()
    }

    /// The race most recently published, if any.
    pub fn current_race(&self) -> Option<String> {
        self.store().current.clone()
    }

    /// Resolves one query field.
    fn resolve(&self, name: &str, args: &Map<String, Value>) -> Result<Value, GqlError> {
        let race_id = args.get("race_id").and_then(Value::as_str).unwrap_or("");
        let store = self.store();
        let race = store.races.get(race_id);
        Ok(match name {
            "latest" => {
                Value::Array(race.map_or_else(Vec::new, |r| r.latest.values().cloned().collect()))
            }
            "history" => {
                let car = args.get("car").and_then(Value::as_str).unwrap_or("");
                let limit = match args.get("limit").and_then(Value::as_i64) {
                    None => HISTORY_LEN,
                    Some(n) if n >= 0 => n as usize,
                    Some(n) => {
                        return Err(GqlError {
                            error_type: "BadRequestException",
                            message: format!("history: limit must be 0 or more, got {n}"),
                        });
                    }
                };
                let h = race.and_then(|r| r.history.get(car));
                Value::Array(h.map_or_else(Vec::new, |h| {
                    h.iter()
                        .skip(h.len().saturating_sub(limit))
                        .cloned()
                        .collect()
                }))
            }
            "raceState" => race.and_then(|r| r.state.clone()).unwrap_or(Value::Null),
            other => {
                return Err(GqlError {
                    error_type: "ValidationError",
                    message: format!("{other} is not a query this server resolves"),
                });
            }
        })
    }

    /// Runs a validated query or mutation: the response body.
    fn execute(&self, op: &Operation) -> Value {
        match op.kind {
            OpKind::Subscription => error_body(&[GqlError {
                error_type: "BadRequestException",
                message:
                    "Subscriptions go over the real-time endpoint (/graphql/realtime), not HTTP"
                        .into(),
            }]),
            // Every mutation of the schema is IAM-only: `prepare` has refused it for an
            // API key caller already, and the pipeline publishes in-process.
            OpKind::Mutation => error_body(&[GqlError::unauthorized(
                "Mutations are the writer's (IAM); the local pipeline publishes in-process".into(),
            )]),
            OpKind::Query => {
                let mut data = Map::new();
                let mut errors = Vec::new();
                for f in &op.fields {
                    match self.resolve(&f.name, &f.args) {
                        Ok(v) => {
                            data.insert(f.key.clone(), f.shape.project(&v));
                        }
                        Err(e) => {
                            data.insert(f.key.clone(), Value::Null);
                            errors.push(e.to_json());
                        }
                    }
                }
                let mut body = json!({"data": data});
                if !errors.is_empty() {
                    body["errors"] = Value::Array(errors);
                }
                body
            }
        }
    }
}

fn error_body(errors: &[GqlError]) -> Value {
    json!({"data": null, "errors": errors.iter().map(GqlError::to_json).collect::<Vec<_>>()})
}

/// The pages, embedded so that the binary serves them from anywhere.
const PAGES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    ),
    (
        "/index.html",
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    ),
    (
        "/graphic.html",
        "text/html; charset=utf-8",
        include_str!("../../web/graphic.html"),
    ),
    (
        "/appsync.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/appsync.js"),
    ),
    (
        "/dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/dashboard.js"),
    ),
    (
        "/graphic.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/graphic.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
    (
        "/graphic.css",
        "text/css; charset=utf-8",
        include_str!("../../web/graphic.css"),
    ),
    ("/schema.graphql", "text/plain; charset=utf-8", SCHEMA_SDL),
];

/// The server's routes.
pub fn router(hub: Arc<Hub>, shutdown: watch::Receiver<bool>) -> Router {
    let mut r = Router::new();
    for &(path, mime, body) in PAGES {
        r = r.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, mime),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    body,
                )
            }),
        );
    }
    r.route("/config.json", get(config))
        .route("/graphql", axum::routing::post(graphql_http))
        .route("/graphql/realtime", get(realtime::upgrade))
        .with_state(AppState { hub, shutdown })
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub shutdown: watch::Receiver<bool>,
}

/// The pages' configuration: where the API is and which race to show. On S3 this is
/// a static file the operator writes (see README); here the server fills it in.
async fn config(State(st): State<AppState>) -> Response {
    let body = json!({
        "graphqlUrl": "/graphql",
        "realtimeUrl": "/graphql/realtime",
        "apiKey": st.hub.api_key,
        "raceId": st.hub.current_race(),
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// `POST /graphql`: a query, as AppSync takes it.
async fn graphql_http(State(st): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if !st.hub.key_ok(key) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(error_body(&[GqlError::unauthorized(
                "You are not authorized to make this call: a valid x-api-key header is needed"
                    .into(),
            )])),
        )
            .into_response();
    }
    let req: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(error_body(&[GqlError {
                    error_type: "MalformedHttpRequestException",
                    message: format!("The request body is not JSON: {e}"),
                }])),
            )
                .into_response();
        }
    };
    let body = match run_request(&st.hub, &req) {
        Ok(op) => st.hub.execute(&op),
        Err(errors) => error_body(&errors),
    };
    axum::Json(body).into_response()
}

/// Validates a `{query, variables, operationName}` request against the schema.
pub fn run_request(hub: &Hub, req: &Value) -> Result<Operation, Vec<GqlError>> {
    let bad = |m: &str| {
        vec![GqlError {
            error_type: "MalformedHttpRequestException",
            message: m.to_owned(),
        }]
    };
    let Some(query) = req.get("query").and_then(Value::as_str) else {
        return Err(bad("The request has no `query` string"));
    };
    let vars = match req.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(bad("`variables` must be an object")),
    };
    let name = req.get("operationName").and_then(Value::as_str);
    graphql::prepare(hub.schema(), query, name, &vars, Caller::ApiKey)
}

/// Serves `hub` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    hub: Arc<Hub>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let mut stop = shutdown.clone();
    // Pushes are small and latency-bound: no Nagle delay behind an unacknowledged one.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(hub, shutdown))
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}

/// Wall-clock milliseconds since the epoch (the page compares it with its own clock).
pub fn wall_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// How many viewers are connected, for the progress line.
pub fn viewers(hub: &Hub) -> u64 {
    hub.viewers.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests;

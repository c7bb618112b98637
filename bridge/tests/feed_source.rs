//! The official-feed source against a local HTTP server serving a snapshot sequence, with
//! errors and slow answers: conditional requests, backoff, timeouts, one poll at a time,
//! and each event once. No NATS or Kinesis needed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use burnbar_bridge::feed::{FeedSettings, FeedSource};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

/// What the server answers to the next snapshot request.
#[derive(Clone)]
enum Step {
    /// A snapshot with its ETag (a request naming that ETag gets 304).
    Body(Value, &'static str),
    Status(u16),
    /// A snapshot after a delay longer than the client's timeout.
    Slow(Value, &'static str),
}

#[derive(Default)]
struct Server {
    steps: Mutex<Vec<Step>>,
    /// The answer repeated once the script is over.
    last: Mutex<Option<(Value, &'static str)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    conditional: AtomicUsize,
    times: Mutex<Vec<(Instant, &'static str)>>,
}

fn snap(t: f64, code: i64, stop_out: f64, status7: i64) -> Value {
    json!({
        "race_id": 9001, "series_id": 1, "lap_number": (t / 30.0) as i64, "laps_in_race": 200,
        "elapsed_time": t, "flag_state": code,
        "time_of_day_os": "2025-06-22T12:00:00-04:00",
        "track_id": 4, "track_name": "Darlington Raceway", "track_length": 1.366,
        "vehicles": [
            {"vehicle_number": "5", "status": 1, "pit_stops": [
                {"pit_in_elapsed_time": 100.5, "pit_in_lap_count": 3, "pit_out_elapsed_time": stop_out}]},
            {"vehicle_number": "7", "status": status7, "vehicle_elapsed_time": 90.0, "pit_stops": []}
        ]
    })
}

/// Counts a request in flight until its handler ends or is dropped (a client that gave
/// up closes the connection, and the server drops the handler mid-way).
struct InFlight(Arc<Server>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, SeqCst);
    }
}

async fn live(State(s): State<Arc<Server>>, headers: HeaderMap) -> Response {
    let now = s.in_flight.fetch_add(1, SeqCst) + 1;
    s.max_in_flight.fetch_max(now, SeqCst);
    let _guard = InFlight(s.clone());
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if inm.is_some() {
        s.conditional.fetch_add(1, SeqCst);
    }
    let step = {
        let mut steps = s.steps.lock().unwrap();
        if steps.is_empty() {
            None
        } else {
            Some(steps.remove(0))
        }
    };
    let step = step.unwrap_or_else(|| {
        let (v, e) = s.last.lock().unwrap().clone().unwrap();
        Step::Body(v, e)
    });
    let (kind, resp) = match step {
        Step::Status(code) => (
            "status",
            StatusCode::from_u16(code).unwrap().into_response(),
        ),
        Step::Slow(v, etag) => {
            // Longer than the client's timeout, shorter than its backoff after it.
            tokio::time::sleep(Duration::from_millis(400)).await;
            (
                "slow",
                ([(header::ETAG, etag)], v.to_string()).into_response(),
            )
        }
        Step::Body(v, etag) => {
            *s.last.lock().unwrap() = Some((v.clone(), etag));
            if inm.as_deref() == Some(etag) {
                ("304", StatusCode::NOT_MODIFIED.into_response())
            } else {
                (
                    "body",
                    ([(header::ETAG, etag)], v.to_string()).into_response(),
                )
            }
        }
    };
    s.times.lock().unwrap().push((Instant::now(), kind));
    resp
}

async fn pit(headers: HeaderMap) -> Response {
    if headers.get(header::IF_MODIFIED_SINCE).is_some() {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let body = json!([{"vehicle_number": "5", "pit_in_race_time": 100.5, "pit_stop_duration": 12.5,
        "left_front_tire_changed": true, "left_rear_tire_changed": true,
        "right_front_tire_changed": true, "right_rear_tire_changed": true}]);
    (
        [(header::LAST_MODIFIED, "Sun, 22 Jun 2025 16:05:00 GMT")],
        body.to_string(),
    )
        .into_response()
}

async fn flags() -> Response {
    // A body without validators: the same body again counts as unchanged.
    json!([
        {"lap_number": 0, "flag_state": 1, "elapsed_time": 0.0,
         "time_of_day_os": "2025-06-22T11:59:57-04:00"},
        {"lap_number": 2, "flag_state": 2, "elapsed_time": 80.25,
         "time_of_day_os": "2025-06-22T12:01:20.250-04:00"}
    ])
    .to_string()
    .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_polls_one_at_a_time_conditionally_and_emits_each_event_once() {
    let server = Arc::new(Server::default());
    *server.steps.lock().unwrap() = vec![
        Step::Body(snap(60.0, 1, 0.0, 1), "a"),
        Step::Status(503),
        Step::Slow(snap(120.0, 2, 0.0, 1), "b"),
        Step::Body(snap(130.0, 2, 128.0, 1), "c"),
        Step::Body(snap(130.0, 2, 128.0, 1), "c"),
        Step::Body(snap(160.0, 1, 128.0, 3), "d"),
    ];
    let app = Router::new()
        .route("/live-feed.json", get(live))
        .route("/series_1/9001/live-pit-data.json", get(pit))
        .route("/live-flag-data.json", get(flags))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let source = FeedSource::new(FeedSettings {
        live_url: format!("{base}/live-feed.json"),
        pit_url: Some(format!(
            "{base}/series_{{series_id}}/{{race_id}}/live-pit-data.json"
        )),
        flag_url: Some(format!("{base}/live-flag-data.json")),
        poll: Duration::from_millis(200),
        timeout: Duration::from_millis(300),
        backoff_max: Duration::from_millis(500),
        pit_wait: Duration::from_secs(30),
        race_id_prefix: "nascar-".into(),
    })
    .unwrap();
    let stats = source.stats.clone();
    let (tx, mut rx) = mpsc::channel(64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let reports = Arc::new(Mutex::new(Vec::<String>::new()));
    let r = reports.clone();
    let task = tokio::spawn(source.run(tx, stop_rx, move |msg, detail| {
        r.lock().unwrap().push(format!("{msg} {detail}"));
    }));
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        if let Ok(Some(l)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            lines.push(String::from_utf8(l.to_vec()).unwrap());
        }
        if server.steps.lock().unwrap().is_empty() && server.times.lock().unwrap().len() >= 9 {
            break;
        }
    }
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    while let Ok(l) = rx.try_recv() {
        lines.push(String::from_utf8(l.to_vec()).unwrap());
    }

    let kinds: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        // The car out is stamped with its last line crossing, before the green.
        [
            "race_start",
            "flag",
            "flag",
            "pit_in",
            "pit_out",
            "car_out",
            "flag"
        ],
        "{lines:#?}"
    );
    // Each event once, all of race nascar-9001, the clock from the flag data.
    assert_eq!(lines.iter().collect::<BTreeSet<_>>().len(), lines.len());
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().all(|e| e["race_id"] == "nascar-9001"));
    let start = 1_750_608_000_000_i64;
    assert_eq!(events[0]["ts"], start);
    assert_eq!(events[2]["ts"], start + 80_250);
    // The pit data came in time: tyres and box time.
    assert_eq!(
        (events[4]["tires"].clone(), events[4]["box_s"].clone()),
        (json!(4), json!(12.5))
    );
    assert_eq!(events[4]["ts"], start + 128_000);
    // One request at a time, conditional requests answered 304, failures counted.
    assert_eq!(server.max_in_flight.load(SeqCst), 1);
    assert!(server.conditional.load(SeqCst) >= 1);
    let s = stats.snapshot();
    assert!(s["feed_not_modified_total"].as_u64().unwrap() >= 3, "{s}");
    assert!(s["feed_request_errors_total"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["feed_timeouts_total"].as_u64().unwrap() >= 1, "{s}");
    assert!(
        reports.lock().unwrap().iter().any(|r| r.contains("503")),
        "{:?}",
        reports.lock().unwrap()
    );
    // After a failed round the next request waits at least the poll interval.
    let times = server.times.lock().unwrap().clone();
    let failed = times.iter().position(|(_, k)| *k == "status").unwrap();
    let gap = times[failed + 1].0 - times[failed].0;
    assert!(gap >= Duration::from_millis(180), "{gap:?}");
}

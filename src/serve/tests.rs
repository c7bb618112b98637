//! The server end to end on 127.0.0.1:0: the schema it serves, queries and their
//! errors over HTTP, subscriptions over AppSync's real-time protocol.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use burnbar_core::FuelUpdate;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::graphql::Schema;
use super::{Hub, SCHEMA_SDL, serve};

const KEY: &str = "da2-test";

struct Server {
    addr: SocketAddr,
    hub: Arc<Hub>,
    _stop: watch::Sender<bool>,
}

async fn server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hub = Arc::new(Hub::new(KEY).unwrap());
    let (stop, rx) = watch::channel(false);
    tokio::spawn(serve(listener, hub.clone(), rx));
    Server {
        addr,
        hub,
        _stop: stop,
    }
}

/// One HTTP/1.1 request with `Connection: close`: (status, body).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let key = key.map_or(String::new(), |k| format!("x-api-key: {k}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{key}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

async fn gql(addr: SocketAddr, query: &str, variables: Value) -> (u16, Value) {
    let body = json!({"query": query, "variables": variables}).to_string();
    let (status, body) = http(addr, "POST", "/graphql", Some(KEY), &body).await;
    (status, serde_json::from_str(&body).unwrap())
}

fn update(race: &str, car: &str, seq: i64, remaining: f64) -> FuelUpdate {
    serde_json::from_value(json!({
        "v": 1, "race_id": race, "car": car, "seq": seq,
        "window_start": seq * 5000, "window_end": seq * 5000 + 5000, "lap": 3.5,
        "flag": "green", "in_pit": false, "samples": 50, "miles": 0.3, "burn_gal": 0.07,
        "burn_rate_gph": 50.4, "mpg_window": 4.3, "mpg_lap": 4.4, "mpg_stint": 4.5,
        "used_stint_gal": 2.0, "used_race_gal": 2.0, "remaining_gal": remaining,
        "remaining_low_gal": remaining - 0.3, "remaining_high_gal": remaining + 0.3,
        "laps_to_empty": 30.2, "save_needed_pct": 12.0, "burn_index": 1.01,
        "mode": "normal", "model": "physics"
    }))
    .unwrap()
}

#[tokio::test]
async fn the_server_serves_exactly_the_schema_file() {
    let s = server().await;
    let (status, body) = http(s.addr, "GET", "/schema.graphql", None, "").await;
    assert_eq!(status, 200);
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(body, file, "the served SDL is the file, byte for byte");
    assert_eq!(SCHEMA_SDL, file);
    // And the type table the server validates against is that file's.
    assert_eq!(s.hub.schema(), &Schema::parse(&file).unwrap());
    // Every field the file gives FuelUpdate and RaceState can be asked for.
    let schema = Schema::parse(&file).unwrap();
    let all = |t: &str| {
        schema.objects[t]
            .fields
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let q = format!(
        "query($r: ID!) {{ latest(race_id: $r) {{ {} }} raceState(race_id: $r) {{ {} }} }}",
        all("FuelUpdate"),
        all("RaceState")
    );
    let (status, v) = gql(s.addr, &q, json!({"r": "none"})).await;
    assert_eq!(status, 200);
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(v["data"], json!({"latest": [], "raceState": null}));
}

#[tokio::test]
async fn queries_return_the_latest_and_history_bad_ones_get_graphql_errors() {
    let s = server().await;
    s.hub.publish_updates(
        "r1",
        &[update("r1", "24", 1, 17.0), update("r1", "11", 1, 16.0)],
        0.0,
    );
    s.hub
        .publish_updates("r1", &[update("r1", "24", 2, 16.5)], 0.0);
    let (_, v) = gql(
        s.addr,
        "query($r: ID!) { latest(race_id: $r) { car seq fuel: remaining_gal } h: history(race_id: $r, car: \"24\", limit: 1) { seq } }",
        json!({"r": "r1"}),
    )
    .await;
    assert_eq!(
        v["data"],
        json!({"latest": [{"car": "11", "seq": 1, "fuel": 16.0}, {"car": "24", "seq": 2, "fuel": 16.5}],
               "h": [{"seq": 2}]})
    );

    let (status, v) = gql(
        s.addr,
        "{ latest(race_id: \"r1\") { car fuel_left } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["data"], Value::Null);
    assert_eq!(v["errors"][0]["errorType"], "ValidationError");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Field 'fuel_left' in type 'FuelUpdate' is undefined"),
        "{v}"
    );

    let (status, body) = http(
        s.addr,
        "POST",
        "/graphql",
        None,
        "{\"query\":\"{ latest(race_id: \\\"r1\\\") { car } }\"}",
    )
    .await;
    assert_eq!(status, 401);
    assert!(body.contains("UnauthorizedException"), "{body}");

    let (status, body) = http(s.addr, "POST", "/graphql", Some(KEY), "not json").await;
    assert_eq!(status, 400);
    assert!(body.contains("not JSON"), "{body}");

    // The writer's mutation is IAM only, here as in AppSync.
    let (_, v) = gql(
        s.addr,
        "mutation($u: [FuelUpdateInput!]!) { publishUpdates(race_id: \"r1\", updates: $u) { race_id } }",
        json!({"u": [serde_json::to_value(update("r1", "24", 3, 16.0)).unwrap()]}),
    )
    .await;
    assert_eq!(v["errors"][0]["errorType"], "UnauthorizedException", "{v}");
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn ws_connect(addr: SocketAddr, key: &str) -> Ws {
    use base64::Engine as _;
    let header = base64::engine::general_purpose::STANDARD
        .encode(json!({"host": addr.to_string(), "x-api-key": key}).to_string());
    let mut req = format!("ws://{addr}/graphql/realtime?header={header}&payload=e30=")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-ws".parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "graphql-ws"
    );
    ws
}

/// The next protocol message other than `ka`.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("a message within 20 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] != "ka" {
                return v;
            }
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

fn start(id: &str, key: &str, query: &str, variables: Value) -> Value {
    json!({"id": id, "type": "start", "payload": {
        "data": json!({"query": query, "variables": variables}).to_string(),
        "extensions": {"authorization": {"host": "local", "x-api-key": key}}}})
}

#[tokio::test]
async fn a_subscription_receives_pushed_updates_of_its_race_only() {
    let s = server().await;
    let mut ws = ws_connect(s.addr, KEY).await;
    send(&mut ws, json!({"type": "connection_init"})).await;
    let ack = next(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack");
    assert!(ack["payload"]["connectionTimeoutMs"].as_u64().unwrap() > 0);

    let q = "subscription($r: ID!) { onUpdates(race_id: $r) { race_id updates { car seq remaining_gal } } }";
    send(&mut ws, start("s1", KEY, q, json!({"r": "r1"}))).await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "start_ack", "id": "s1"})
    );
    // A bad key on start, and a bad field, are errors for that id.
    send(&mut ws, start("s2", "wrong", q, json!({"r": "r1"}))).await;
    let e = next(&mut ws).await;
    assert_eq!(
        (e["type"].as_str(), e["id"].as_str()),
        (Some("error"), Some("s2"))
    );
    assert_eq!(
        e["payload"]["errors"][0]["errorType"],
        "UnauthorizedException"
    );
    send(
        &mut ws,
        start(
            "s3",
            KEY,
            "subscription { onUpdates(race_id: \"r1\") { nope } }",
            json!({}),
        ),
    )
    .await;
    let e = next(&mut ws).await;
    assert!(
        e["payload"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("'nope'"),
        "{e}"
    );

    s.hub
        .publish_updates("other", &[update("other", "9", 7, 10.0)], 1.0);
    s.hub
        .publish_updates("r1", &[update("r1", "24", 5, 12.25)], 1234.5);
    let d = next(&mut ws).await;
    assert_eq!(
        d,
        json!({"type": "data", "id": "s1", "payload": {
            "data": {"onUpdates": {"race_id": "r1", "updates": [{"car": "24", "seq": 5, "remaining_gal": 12.25}]}},
            "extensions": {"burnbar": {"closedAtMs": 1234.5}}}})
    );

    send(&mut ws, json!({"type": "stop", "id": "s1"})).await;
    assert_eq!(next(&mut ws).await, json!({"type": "complete", "id": "s1"}));
}

#[tokio::test]
async fn a_connection_without_the_api_key_is_refused() {
    let s = server().await;
    let mut ws = ws_connect(s.addr, "not-the-key").await;
    send(&mut ws, json!({"type": "connection_init"})).await;
    let e = next(&mut ws).await;
    assert_eq!(e["type"], "connection_error");
    assert_eq!(
        e["payload"]["errors"][0]["errorType"],
        "UnauthorizedException"
    );
}

/// RaceState's fuel window and call threshold, as the pages ask for them: the threshold
/// always a number, the window null until the field has fuel figures.
#[tokio::test]
async fn the_race_state_carries_the_fuel_window_and_the_call_threshold() {
    let s = server().await;
    let q =
        "query($r: ID!) { raceState(race_id: $r) { leader_lap fuel_window_lap cant_make_it_pct } }";
    for (window, pct) in [(json!(null), json!(15.0)), (json!(123.8), json!(20.5))] {
        let state: burnbar_core::RaceState = serde_json::from_value(json!({
            "v": 1, "race_id": "r7", "track": "pocono", "ts": 5, "flag": "green", "stage": 1,
            "leader_lap": 12.6, "scheduled_laps": 160, "laps_to_go": 147.4,
            "fuel_window_lap": window, "cant_make_it_pct": pct, "cars_running": 3,
            "drivers": {"5": "Kyle Larson"}
        }))
        .unwrap();
        s.hub.publish_race_state(&state);
        let (status, v) = gql(s.addr, q, json!({"r": "r7"})).await;
        assert_eq!(status, 200);
        assert_eq!(
            v["data"]["raceState"],
            json!({"leader_lap": 12.6, "fuel_window_lap": window, "cant_make_it_pct": pct}),
            "{v}"
        );
    }
}

#[tokio::test]
async fn the_pages_and_their_config_are_served() {
    let s = server().await;
    for (path, needle) in [
        ("/", "dashboard.js"),
        ("/graphic.html", "graphic.js"),
        ("/appsync.js", "graphql-ws"),
        ("/dashboard.js", "cant_make_it_pct"),
        ("/graphic.js", "cant_make_it_pct"),
    ] {
        let (status, body) = http(s.addr, "GET", path, None, "").await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains(needle), "{path} should contain {needle}");
    }
    s.hub
        .publish_updates("r9", &[update("r9", "1", 1, 5.0)], 0.0);
    let (_, body) = http(s.addr, "GET", "/config.json", None, "").await;
    let cfg: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(cfg["raceId"], "r9");
    assert_eq!(cfg["apiKey"], KEY);
}

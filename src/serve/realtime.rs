//! AppSync's real-time protocol over a WebSocket (subprotocol `graphql-ws`), the part
//! the pages use.
//!
//! The client connects with `?header=<base64 JSON with x-api-key>&payload=e30=`, sends
//! `connection_init` and gets `connection_ack` (with `connectionTimeoutMs`: the client
//! counts the link lost when no `ka` comes within it), then `ka` at a steady interval.
//! `start` (id, payload `{data: "<JSON of {query, variables}>", extensions:
//! {authorization}}`) gets `start_ack` or `error`; each matching publication comes as
//! `data` (payload `{data: {<field>: …}}`); `stop` gets `complete`. As in AppSync, a
//! subscription's arguments filter on the published object's fields of the same names.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::graphql::{GqlError, OpKind, RootField};
use super::{AppState, Hub, Push, run_request};

/// How often the server says it is alive. AppSync sends one about every minute; the
/// local server is quicker so that a page notices a dead link within seconds.
pub const KA_INTERVAL: Duration = Duration::from_secs(5);
/// What `connection_ack` tells the client: no `ka` for this long means the link is lost.
pub const CONNECTION_TIMEOUT_MS: u64 = 15_000;
/// Subscriptions per connection (AppSync's limit is 100 too): bounds a client's cost.
const MAX_SUBSCRIPTIONS: usize = 100;
/// The largest message a client may send.
const MAX_MESSAGE: usize = 256 * 1024;

/// `GET /graphql/realtime`: upgrades to the real-time protocol.
pub async fn upgrade(
    State(st): State<AppState>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let authorized = header_key(query.as_deref()).is_some_and(|k| st.hub.key_ok(Some(&k)));
    ws.protocols(["graphql-ws"])
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| connection(socket, st, authorized))
}

/// The `x-api-key` of the base64 JSON `header` parameter of the connection URL.
fn header_key(query: Option<&str>) -> Option<String> {
    let raw = query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("header="))?;
    // The base64 may arrive percent-encoded (`=`, `+`, `/`).
    let raw = raw
        .replace("%3D", "=")
        .replace("%3d", "=")
        .replace("%2B", "+")
        .replace("%2b", "+")
        .replace("%2F", "/")
        .replace("%2f", "/");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.as_bytes())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(raw.as_bytes()))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("x-api-key")?.as_str().map(str::to_owned)
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

fn errors_json(errors: &[GqlError]) -> Value {
    Value::Array(errors.iter().map(GqlError::to_json).collect())
}

/// One subscription: the root field it selected and how to shape what it gets.
struct Sub {
    field: RootField,
}

impl Sub {
    /// Whether `push` is for this subscription: same field, and every argument equal
    /// to the published object's field of that name.
    fn matches(&self, push: &Push) -> bool {
        self.field.name == push.field
            && self
                .field
                .args
                .iter()
                .all(|(k, v)| v.is_null() || push.value.get(k) == Some(v))
    }
}

/// Counts the connection for as long as it lives.
struct ViewerGuard(Arc<Hub>);

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.0.viewers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One connection: serves it until the client goes, a send fails or the server shuts
/// down. The client's messages, the hub's pushes and the keep-alive ticks are each a
/// step of [`Connection`].
async fn connection(socket: WebSocket, st: AppState, authorized: bool) {
    let hub = st.hub.clone();
    hub.viewers.fetch_add(1, Ordering::Relaxed);
    let _guard = ViewerGuard(hub.clone());
    let mut shutdown = st.shutdown.clone();
    let mut pushes = hub.subscribe();
    let mut conn = Connection {
        socket,
        hub,
        authorized,
        subs: HashMap::new(),
        acked: false,
    };
    let mut ka = tokio::time::interval(KA_INTERVAL);
    ka.tick().await;
    loop {
        let flow = tokio::select! {
            msg = conn.socket.recv() => conn.on_message(msg).await,
            push = pushes.recv() => conn.on_push(push).await,
            _ = ka.tick(), if conn.acked => conn.send(json!({"type": "ka"})).await,
            // (The watch guard must not live across the send below.)
            _ = async { shutdown.wait_for(|s| *s).await.is_ok() } => {
                let _ = conn.socket.send(Message::Close(None)).await;
                Flow::End
            }
        };
        if let Flow::End = flow {
            return;
        }
    }
}

/// Whether a connection goes on after a step.
enum Flow {
    Go,
    End,
}

/// A connection's state: its socket, whether it was authorized and acknowledged, and its
/// subscriptions by id.
struct Connection {
    socket: WebSocket,
    hub: Arc<Hub>,
    authorized: bool,
    subs: HashMap<String, Sub>,
    acked: bool,
}

/// What a client's message gets.
enum Reply {
    /// These messages, in order.
    Send(Vec<Value>),
    /// A `connection_init` without a valid key: `connection_error`, then the socket closes.
    Refuse,
}

impl Connection {
    /// Sends one message; a failed send ends the connection.
    async fn send(&mut self, v: Value) -> Flow {
        match self.socket.send(text(v)).await {
            Ok(()) => Flow::Go,
            Err(_) => Flow::End,
        }
    }

    /// A client's message: text is read as the protocol's JSON and answered; a close
    /// (or the socket's end or error) ends the connection; anything else is ignored.
    async fn on_message(&mut self, msg: Option<Result<Message, axum::Error>>) -> Flow {
        let Some(Ok(msg)) = msg else {
            return Flow::End;
        };
        let text_msg = match msg {
            Message::Text(t) => t,
            Message::Close(_) => return Flow::End,
            _ => return Flow::Go,
        };
        let Ok(m) = serde_json::from_str::<Value>(text_msg.as_str()) else {
            let _ = self
                .socket
                .send(text(json!({"type": "error", "payload": {"errors": [
                {"errorType": "BadRequestException", "message": "A message is not JSON"}]}})))
                .await;
            return Flow::Go;
        };
        match self.reply(&m) {
            Reply::Send(reply) => {
                for r in reply {
                    if let Flow::End = self.send(r).await {
                        return Flow::End;
                    }
                }
                Flow::Go
            }
            Reply::Refuse => {
                let _ = self.socket.send(text(json!({"type": "connection_error", "payload": {"errors": [
                    {"errorType": "UnauthorizedException", "errorCode": 401,
                     "message": "You are not authorized to make this call: the header parameter needs a valid x-api-key"}]}}))).await;
                let _ = self.socket.send(Message::Close(None)).await;
                Flow::End
            }
        }
    }

    /// The protocol's answer to message `m` (`connection_init`, `start`, `stop`).
    fn reply(&mut self, m: &Value) -> Reply {
        let id = m.get("id").and_then(Value::as_str).map(str::to_owned);
        let reply = match m.get("type").and_then(Value::as_str) {
            Some("connection_init") if !self.authorized => return Reply::Refuse,
            Some("connection_init") => {
                self.acked = true;
                vec![
                    json!({"type": "connection_ack", "payload": {"connectionTimeoutMs": CONNECTION_TIMEOUT_MS}}),
                    json!({"type": "ka"}),
                ]
            }
            Some("start") if self.acked => vec![start(&self.hub, &mut self.subs, id, m)],
            Some("stop") if self.acked => match id {
                Some(id) => {
                    self.subs.remove(&id);
                    vec![json!({"type": "complete", "id": id})]
                }
                None => vec![json!({"type": "error", "payload": {"errors": [
                    {"errorType": "BadRequestException", "message": "stop needs an id"}]}})],
            },
            Some(t @ ("start" | "stop")) => {
                vec![json!({"type": "error", "id": id, "payload": {"errors": [
                {"errorType": "BadRequestException", "message": format!("{t} before connection_init")}]}})]
            }
            other => vec![json!({"type": "error", "id": id, "payload": {"errors": [
                {"errorType": "BadRequestException",
                 "message": format!("unknown message type {}", other.unwrap_or("(none)"))}]}})],
        };
        Reply::Send(reply)
    }

    /// A publication from the hub: sent to every subscription it matches. Pushes a slow
    /// connection missed are counted; the hub's end ends the connection.
    async fn on_push(&mut self, push: Result<Arc<Push>, RecvError>) -> Flow {
        let push = match push {
            Ok(p) => p,
            Err(RecvError::Lagged(n)) => {
                self.hub.pushes_dropped.fetch_add(n, Ordering::Relaxed);
                return Flow::Go;
            }
            Err(RecvError::Closed) => return Flow::End,
        };
        let mut msgs = Vec::new();
        for (id, sub) in &self.subs {
            if !sub.matches(&push) {
                continue;
            }
            let mut data = Map::new();
            data.insert(sub.field.key.clone(), sub.field.shape.project(&push.value));
            let mut payload = json!({"data": data});
            if let Some(t) = push.closed_at_ms {
                payload["extensions"] = json!({"burnbar": {"closedAtMs": t}});
            }
            msgs.push(json!({"type": "data", "id": id, "payload": payload}));
        }
        for msg in msgs {
            if let Flow::End = self.send(msg).await {
                return Flow::End;
            }
        }
        Flow::Go
    }
}

/// Handles `start`: validates the subscription; the reply (`start_ack` or `error`).
fn start(hub: &Hub, subs: &mut HashMap<String, Sub>, id: Option<String>, m: &Value) -> Value {
    let err = |id: &Option<String>, e: &[GqlError]| json!({"type": "error", "id": id, "payload": {"errors": errors_json(e)}});
    let bad = |m: &str| GqlError {
        error_type: "BadRequestException",
        message: m.to_owned(),
    };
    let Some(id_s) = id.clone() else {
        return err(&id, &[bad("start needs an id")]);
    };
    let payload = m.get("payload");
    let key = payload
        .and_then(|p| p.pointer("/extensions/authorization/x-api-key"))
        .and_then(Value::as_str);
    if !hub.key_ok(key) {
        return err(
            &id,
            &[GqlError::unauthorized(
                "You are not authorized to make this call: start needs extensions.authorization with a valid x-api-key".into(),
            )],
        );
    }
    let req: Value = match payload.and_then(|p| p.get("data")).and_then(Value::as_str) {
        Some(s) => match serde_json::from_str(s) {
            Ok(v) => v,
            Err(e) => return err(&id, &[bad(&format!("payload.data is not JSON: {e}"))]),
        },
        None => return err(&id, &[bad("start needs payload.data (a JSON string)")]),
    };
    let op = match run_request(hub, &req) {
        Ok(op) => op,
        Err(e) => return err(&id, &e),
    };
    if op.kind != OpKind::Subscription {
        return err(
            &id,
            &[bad(
                "Only subscriptions go over the real-time endpoint; send queries to /graphql",
            )],
        );
    }
    if subs.len() >= MAX_SUBSCRIPTIONS && !subs.contains_key(&id_s) {
        return err(
            &id,
            &[bad(&format!(
                "at most {MAX_SUBSCRIPTIONS} subscriptions per connection"
            ))],
        );
    }
    let field = op.fields.into_iter().next().expect("one root field");
    subs.insert(id_s.clone(), Sub { field });
    json!({"type": "start_ack", "id": id_s})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_key_comes_from_the_base64_header_parameter() {
        let h = base64::engine::general_purpose::STANDARD
            .encode(br#"{"host":"x.appsync-api.eu-west-1.amazonaws.com","x-api-key":"da2-k"}"#);
        assert_eq!(
            header_key(Some(&format!("header={h}&payload=e30="))).as_deref(),
            Some("da2-k")
        );
        let pct = h.replace('=', "%3D");
        assert_eq!(
            header_key(Some(&format!("payload=e30%3D&header={pct}"))).as_deref(),
            Some("da2-k")
        );
        assert_eq!(header_key(Some("payload=e30=")), None);
        assert_eq!(header_key(Some("header=!!!")), None);
        assert_eq!(header_key(None), None);
    }
}

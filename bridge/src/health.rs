//! The health endpoint: `GET /healthz`, 200 while the bridge is subscribed and not
//! draining, 503 otherwise, with every counter as JSON.
//!
//! Hand-written over a `TcpListener` (one request per connection, `Connection: close`):
//! the ECS health check and an operator's `curl` are its only clients, and an HTTP server
//! crate would be most of the bridge's build time for one route.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::stats::Stats;

/// Serves until the task is dropped.
pub async fn serve(listener: TcpListener, stats: Arc<Stats>) {
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            continue;
        };
        let stats = stats.clone();
        tokio::spawn(async move {
            // A client that sends nothing is cut off rather than held.
            let _ = tokio::time::timeout(Duration::from_secs(5), answer(conn, &stats)).await;
        });
    }
}

async fn answer(mut conn: TcpStream, stats: &Stats) -> std::io::Result<()> {
    let mut buf = vec![0u8; 2048];
    let mut len = 0;
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        if len == buf.len() {
            break;
        }
        let n = conn.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let mut parts = head.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = if method != "GET" {
        ("405 Method Not Allowed", json!({"error": "only GET"}))
    } else if path == "/healthz" || path == "/" {
        let ready = stats.ready.load(Relaxed);
        let draining = stats.draining.load(Relaxed);
        let state = match (ready, draining) {
            (_, true) => "draining",
            (true, false) => "ok",
            (false, false) => "starting",
        };
        let mut m = stats.snapshot();
        m.insert("status".into(), Value::from(state));
        let code = if state == "ok" {
            "200 OK"
        } else {
            "503 Service Unavailable"
        };
        (code, Value::Object(m))
    } else {
        (
            "404 Not Found",
            json!({"error": format!("no route {path}; try /healthz")}),
        )
    };
    let body = body.to_string();
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(resp.as_bytes()).await?;
    conn.shutdown().await
}

//! HTTP/1.1 plumbing for the tests' fault proxies and stubs (dev-only).
//!
//! The tests that hold the stream writers to their retry policies put a proxy between the
//! AWS SDK and moto that refuses chosen entries or calls, as Kinesis does under load and
//! moto never does. The proxy must see and rewrite each request's JSON body, so it speaks
//! plain HTTP/1.1 itself: a message is a start line, headers and a body (by
//! `Content-Length` or chunked), nothing more. One home for it: the bridge's tests and
//! `burnbar-aws`'s each had their own copy.

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// One HTTP request or response: start line, headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMsg {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpMsg {
    /// A header's value, its name compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The same message with another body (a proxy's rewrite of a request before it
    /// forwards it; the framing is recomputed by [`HttpMsg::to_bytes`]).
    pub fn with_body(&self, body: Vec<u8>) -> HttpMsg {
        HttpMsg {
            start: self.start.clone(),
            headers: self.headers.clone(),
            body,
        }
    }

    /// The message on the wire, with a `Content-Length` for its body as it is now (the
    /// framing headers it came with, and moto's CRC of a body a proxy may have
    /// rewritten, left out), and `Connection: close` when `close`.
    pub fn to_bytes(&self, close: bool) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start).into_bytes();
        for (k, v) in &self.headers {
            let skip = [
                "content-length",
                "transfer-encoding",
                "connection",
                "x-amz-crc32",
            ];
            if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
            }
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads one message (`Content-Length` or chunked body); `None` at the end of the stream
/// or on a message it cannot frame.
pub fn read_http(r: &mut impl BufRead) -> Option<HttpMsg> {
    let mut start = String::new();
    if r.read_line(&mut start).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).ok()?;
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut msg = HttpMsg {
        start: start.trim_end().to_owned(),
        headers,
        body: Vec::new(),
    };
    if let Some(n) = msg
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        msg.body = vec![0u8; n];
        r.read_exact(&mut msg.body).ok()?;
    } else if msg
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut l = String::new();
            r.read_line(&mut l).ok()?;
            let n = usize::from_str_radix(l.trim(), 16).ok()?;
            let mut chunk = vec![0u8; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            msg.body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(msg)
}

/// Serves HTTP/1.1 keep-alive connections on 127.0.0.1, a thread per connection,
/// answering each request with `handle`. Returns the port.
pub fn serve_http(handle: impl Fn(HttpMsg) -> HttpMsg + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let handle = handle.clone();
            std::thread::spawn(move || {
                let Ok(mut w) = conn.try_clone() else { return };
                let mut r = std::io::BufReader::new(conn);
                while let Some(req) = read_http(&mut r) {
                    if w.write_all(&handle(req).to_bytes(false)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Sends one request to 127.0.0.1:`port` on a fresh connection (asking it to close
/// after answering) and reads the answer, a body delimited by the connection's end
/// included.
pub fn forward(port: u16, req: &HttpMsg) -> HttpMsg {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect upstream");
    s.write_all(&req.to_bytes(true)).expect("write upstream");
    let mut r = std::io::BufReader::new(s);
    let mut resp = read_http(&mut r).expect("upstream answer");
    if resp.header("content-length").is_none() && resp.header("transfer-encoding").is_none() {
        r.read_to_end(&mut resp.body).expect("upstream body");
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reads_back_as_written_and_chunked_bodies_are_joined() {
        let msg = HttpMsg {
            start: "POST / HTTP/1.1".into(),
            headers: vec![
                ("Host".into(), "x".into()),
                ("Content-Length".into(), "99".into()),
            ],
            body: b"{\"a\":1}".to_vec(),
        };
        let wire = msg.to_bytes(true);
        let back = read_http(&mut &wire[..]).unwrap();
        assert_eq!(back.header("content-length"), Some("7"));
        assert_eq!(back.header("CONNECTION"), Some("close"));
        assert_eq!(back.body, msg.body);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let back = read_http(&mut &chunked[..]).unwrap();
        assert_eq!(back.start, "HTTP/1.1 200 OK");
        assert_eq!(back.body, b"abcde");
        assert!(read_http(&mut &b""[..]).is_none());
    }

    #[test]
    fn a_served_request_is_answered_through_forward() {
        let port = serve_http(|req| HttpMsg {
            start: "HTTP/1.1 200 OK".into(),
            headers: Vec::new(),
            body: [&b"echo "[..], &req.body].concat(),
        });
        let req = HttpMsg {
            start: "POST /x HTTP/1.1".into(),
            headers: vec![("Host".into(), "127.0.0.1".into())],
            body: b"hello".to_vec(),
        };
        assert_eq!(forward(port, &req).body, b"echo hello");
    }
}

//! The HTTP half of the devnet: a hand-rolled HTTP/1.1 server for JSON-RPC POSTs
//! (with the HTTP faults: hangs, error statuses, 429s), up to a WebSocket upgrade.

use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::methods::handle_body;
use super::node::Shared;

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

struct RequestHead {
    method: String,
    /// `/delay/MS`: a simulated provider that is MS slower (see [`delay_of`]).
    delay: Duration,
    keep_alive: bool,
    content_length: Option<usize>,
    ws_key: Option<String>,
}

fn parse_head(raw: &[u8]) -> Option<RequestHead> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?;
    let version = request_line.next()?;
    let mut head = RequestHead {
        method,
        delay: delay_of(path),
        keep_alive: version == "HTTP/1.1",
        content_length: None,
        ws_key: None,
    };
    let mut upgrade = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => head.content_length = Some(value.parse().ok()?),
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    head.keep_alive = false;
                } else if v.contains("keep-alive") {
                    head.keep_alive = true;
                }
            }
            "upgrade" => upgrade = value.eq_ignore_ascii_case("websocket"),
            "sec-websocket-key" => head.ws_key = Some(value.to_string()),
            _ => {}
        }
    }
    if !upgrade {
        head.ws_key = None;
    }
    Some(head)
}

async fn write_response(
    stream: &mut TcpStream,
    status: &str,
    extra: &str,
    body: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let conn = if keep_alive { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {conn}\r\n{extra}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await
}

/// The delay a path asks for: `/delay/300` is a provider 300 ms slower than the
/// node (its pushed notifications and its HTTP answers come that much later), the
/// same chain through a slower door; any other path, none.
fn delay_of(path: &str) -> Duration {
    path.strip_prefix("/delay/")
        .and_then(|ms| ms.trim_end_matches('/').parse::<u64>().ok())
        .map_or(Duration::ZERO, |ms| Duration::from_millis(ms.min(60_000)))
}

/// Serves HTTP requests until the connection ends (`None`) or upgrades to WebSocket
/// (`Some(bytes already read past the handshake, the path's delay)`).
pub(super) async fn http_phase(
    shared: &Shared,
    stream: &mut TcpStream,
) -> Option<(Vec<u8>, Duration)> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let head = read_head(stream, &mut buf).await?;
        if let Some(key) = &head.ws_key {
            return upgrade(shared, stream, key)
                .await
                .then_some((buf, head.delay));
        }
        let body = read_body(stream, &mut buf, &head).await?;
        shared.http_requests.fetch_add(1, Ordering::Relaxed);
        if !head.delay.is_zero() {
            tokio::time::sleep(head.delay).await;
        }
        if let Some(until) = shared.hang_until() {
            // A hung endpoint: the request is read and never answered in time.
            tokio::time::sleep_until(until.into()).await;
        }
        let written = answer(shared, stream, &body, head.keep_alive).await;
        if written.is_err() || !head.keep_alive {
            return None;
        }
    }
}

/// The next request's head, taken off `buf` (reading more as needed); `None` when
/// the connection ends or the head is refused.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<RequestHead> {
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_HEAD {
            let _ =
                write_response(stream, "431 Request Header Fields Too Large", "", "", false).await;
            return None;
        }
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    };
    let Some(head) = parse_head(&buf[..head_end]) else {
        let _ = write_response(stream, "400 Bad Request", "", "", false).await;
        return None;
    };
    buf.drain(..head_end);
    Some(head)
}

/// Answer a WebSocket upgrade (or refuse it while rate-limited). True when upgraded.
async fn upgrade(shared: &Shared, stream: &mut TcpStream, key: &str) -> bool {
    if let Some(secs) = shared.take_rate_limit() {
        let _ = write_response(
            stream,
            "429 Too Many Requests",
            &format!("Retry-After: {secs}\r\n"),
            "",
            false,
        )
        .await;
        return false;
    }
    let accept = derive_accept_key(key.as_bytes());
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(resp.as_bytes()).await.is_ok()
}

/// A POST's body, taken off `buf`; `None` (after an error status) for anything else.
async fn read_body(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    head: &RequestHead,
) -> Option<Vec<u8>> {
    if head.method != "POST" {
        let _ = write_response(
            stream,
            "405 Method Not Allowed",
            "Allow: POST\r\n",
            "",
            false,
        )
        .await;
        return None;
    }
    let Some(len) = head.content_length else {
        let _ = write_response(stream, "411 Length Required", "", "", false).await;
        return None;
    };
    if len > MAX_BODY {
        let _ = write_response(stream, "413 Payload Too Large", "", "", false).await;
        return None;
    }
    buf.reserve(len.saturating_sub(buf.len()));
    while buf.len() < len {
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
    Some(buf.drain(..len).collect())
}

/// The reply to one request, or the HTTP fault in force (an error status, a 429).
async fn answer(
    shared: &Shared,
    stream: &mut TcpStream,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    if let Some(status) = shared.take_http_status() {
        let reason = match status {
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Error",
        };
        write_response(
            stream,
            &format!("{status} {reason}"),
            "",
            "<html>upstream error</html>",
            keep_alive,
        )
        .await
    } else if let Some(secs) = shared.take_rate_limit() {
        let body =
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limited"}}"#;
        write_response(
            stream,
            "429 Too Many Requests",
            &format!("Retry-After: {secs}\r\n"),
            body,
            keep_alive,
        )
        .await
    } else {
        let reply = handle_body(shared, body, None);
        write_response(stream, "200 OK", "", &reply, keep_alive).await
    }
}

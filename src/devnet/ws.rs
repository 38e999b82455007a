//! The WebSocket half of the devnet: answers requests, pushes subscriptions from the
//! producers' broadcasts, and plays the socket faults (close, reset, half-open,
//! malformed and invented frames).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};

use super::chain::ChainEvent;
use super::fault::Malformed;
use super::methods::{self, Sub, SubKind, handle_body, header_json, log_json, tx_json};
use super::node::{Ctl, PendingBatch, Shared};

pub(super) type Ws = WebSocketStream<TcpStream>;

async fn recv<T: Clone>(rx: &mut Option<broadcast::Receiver<T>>) -> T {
    let Some(r) = rx else {
        return std::future::pending().await;
    };
    loop {
        match r.recv().await {
            Ok(v) => return v,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

fn notification(id: &str, result: &str) -> Message {
    Message::text(format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"{id}","result":{result}}}}}"#
    ))
}

/// What a slower door (`/delay/MS`) holds back, in order, each with when it goes.
enum Held {
    Chain(Arc<ChainEvent>),
    Pending(Arc<PendingBatch>),
}

/// Serves one WebSocket; with a `delay`, every notification goes out that much
/// after the chain made it (replies and pongs are not held: a slow provider's
/// pushes lag, its socket is up).
pub(super) async fn ws_session(
    shared: &Shared,
    mut ws: Ws,
    mut ctl: mpsc::UnboundedReceiver<Ctl>,
    delay: Duration,
) {
    let mut subs: Vec<Sub> = Vec::new();
    let mut heads: Option<broadcast::Receiver<Arc<ChainEvent>>> = None;
    let mut pending: Option<broadcast::Receiver<Arc<PendingBatch>>> = None;
    let mut held: std::collections::VecDeque<(tokio::time::Instant, Held)> = Default::default();
    loop {
        let due = held.front().map(|(t, _)| *t);
        // Unbiased on purpose: a busy head stream must not starve pending hashes.
        let ok = tokio::select! {
            c = ctl.recv() => match c {
                None => return,
                Some(Ctl::Reset) => {
                    let _ = ws.get_ref().set_zero_linger();
                    return;
                }
                Some(Ctl::Close(code, reason)) => {
                    close_gracefully(&mut ws, code, reason).await;
                    return;
                }
                Some(Ctl::HalfOpen(d)) => stall(&ws, &mut ctl, d).await,
                Some(Ctl::Malformed(kind)) => send_malformed(shared, &mut ws, kind, &subs).await.is_ok(),
                Some(Ctl::Invented(header)) => send_invented(&mut ws, &subs, &header).await.is_ok(),
            },
            m = ws.next() => match m {
                None | Some(Err(_)) => return,
                Some(Ok(Message::Text(t))) => {
                    let reply = handle_body(shared, t.as_bytes(), Some(&mut subs));
                    sync_receivers(shared, &subs, &mut heads, &mut pending);
                    ws.send(Message::text(reply)).await.is_ok()
                }
                Some(Ok(Message::Binary(b))) => {
                    let reply = handle_body(shared, &b, Some(&mut subs));
                    sync_receivers(shared, &subs, &mut heads, &mut pending);
                    ws.send(Message::text(reply)).await.is_ok()
                }
                // Pings are answered by tungstenite as long as we keep reading.
                Some(Ok(_)) => true,
            },
            ev = recv(&mut heads) => {
                if delay.is_zero() {
                    send_chain_event(shared, &mut ws, &subs, &ev).await.is_ok()
                } else {
                    held.push_back((tokio::time::Instant::now() + delay, Held::Chain(ev)));
                    true
                }
            }
            batch = recv(&mut pending) => {
                if delay.is_zero() {
                    send_pending(shared, &mut ws, &subs, &batch).await.is_ok()
                } else {
                    held.push_back((tokio::time::Instant::now() + delay, Held::Pending(batch)));
                    true
                }
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                match held.pop_front() {
                    Some((_, Held::Chain(ev))) => send_chain_event(shared, &mut ws, &subs, &ev).await.is_ok(),
                    Some((_, Held::Pending(b))) => send_pending(shared, &mut ws, &subs, &b).await.is_ok(),
                    None => true,
                }
            }
        };
        if !ok {
            return;
        }
    }
}

fn sync_receivers(
    shared: &Shared,
    subs: &[Sub],
    heads: &mut Option<broadcast::Receiver<Arc<ChainEvent>>>,
    pending: &mut Option<broadcast::Receiver<Arc<PendingBatch>>>,
) {
    let wants_chain = subs
        .iter()
        .any(|s| matches!(s.kind, SubKind::NewHeads | SubKind::Logs(_)));
    let wants_pending = subs
        .iter()
        .any(|s| matches!(s.kind, SubKind::Pending { .. }));
    match (wants_chain, heads.is_some()) {
        (true, false) => *heads = Some(shared.heads_tx.subscribe()),
        (false, true) => *heads = None,
        _ => {}
    }
    match (wants_pending, pending.is_some()) {
        (true, false) => *pending = Some(shared.pending_tx.subscribe()),
        (false, true) => *pending = None,
        _ => {}
    }
}

/// Goes silent for `d`: nothing read (so no pongs), nothing written. Returns false
/// when the connection must end.
async fn stall(ws: &Ws, ctl: &mut mpsc::UnboundedReceiver<Ctl>, d: Duration) -> bool {
    let mut until = tokio::time::Instant::now() + d;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return true,
            c = ctl.recv() => match c {
                None | Some(Ctl::Close(..)) => return false,
                Some(Ctl::Reset) => {
                    let _ = ws.get_ref().set_zero_linger();
                    return false;
                }
                Some(Ctl::HalfOpen(more)) => until = until.max(tokio::time::Instant::now() + more),
                Some(Ctl::Malformed(_) | Ctl::Invented(_)) => {}
            }
        }
    }
}

async fn close_gracefully(ws: &mut Ws, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    if ws.close(Some(frame)).await.is_err() {
        return;
    }
    // Give the peer a moment to answer the close, as a real server would.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

async fn send_malformed(
    shared: &Shared,
    ws: &mut Ws,
    kind: Malformed,
    subs: &[Sub],
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let head_sub = subs
        .iter()
        .find(|s| matches!(s.kind, SubKind::NewHeads))
        .map_or("0x0", |s| s.id.as_str());
    let msg = match kind {
        Malformed::InvalidJson => Message::text(
            r#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"#,
        ),
        Malformed::Binary => Message::binary(vec![0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]),
        Malformed::NoIdError => {
            Message::text(r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"internal error"}}"#)
        }
        Malformed::Oversize => {
            let filler = "a".repeat(17 * 1024 * 1024);
            notification(head_sub, &format!("\"{filler}\""))
        }
        Malformed::Deep => Message::text(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
        Malformed::Huge => {
            let filler = "a".repeat(40 * 1024 * 1024);
            notification(head_sub, &format!("\"{filler}\""))
        }
        Malformed::BadUtf8 => Message::Frame(Frame::message(
            vec![b'{', 0xff, 0xfe, b'}'],
            OpCode::Data(Data::Text),
            true,
        )),
        Malformed::BigHex => {
            let header = shared.chain.lock().ok().map(|c| {
                let mut v = methods::block_json(c.head(), false, 0);
                if let Some(o) = v.as_object_mut() {
                    o.insert("number".into(), format!("0x1{}", "0".repeat(99)).into());
                }
                v.to_string()
            });
            notification(head_sub, &header.unwrap_or_else(|| "null".into()))
        }
    };
    ws.send(msg).await
}

async fn send_invented(
    ws: &mut Ws,
    subs: &[Sub],
    header: &str,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    for sub in subs.iter().filter(|s| matches!(s.kind, SubKind::NewHeads)) {
        ws.send(notification(&sub.id, header)).await?;
    }
    Ok(())
}

async fn send_chain_event(
    shared: &Shared,
    ws: &mut Ws,
    subs: &[Sub],
    ev: &ChainEvent,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let heads_stopped = shared
        .modes
        .lock()
        .is_ok_and(|m| m.heads_stopped_until.is_some_and(|t| Instant::now() < t));
    let chain_id = shared.chain_id.load(Ordering::Relaxed);
    let mut sent = false;
    for sub in subs {
        match &sub.kind {
            SubKind::NewHeads if !heads_stopped => {
                // Like geth, a reorg announces only the new tip.
                if let Some(tip) = ev.added.last() {
                    let header = if shared.cfg.heads_without_txs {
                        Arc::from(methods::geth_header_json(tip, chain_id))
                    } else {
                        header_json(tip, chain_id)
                    };
                    ws.feed(notification(&sub.id, &header)).await?;
                    sent = true;
                }
            }
            SubKind::Logs(filter) => {
                let blocks = ev
                    .removed
                    .iter()
                    .map(|b| (b, true))
                    .chain(ev.added.iter().map(|b| (b, false)));
                for (b, removed) in blocks {
                    for (ti, li, tx, log) in b.logs() {
                        if filter.matches(log) {
                            let json = log_json(b, ti, li, tx, log, removed).to_string();
                            ws.feed(notification(&sub.id, &json)).await?;
                            sent = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if sent {
        ws.flush().await?;
    }
    Ok(())
}

async fn send_pending(
    shared: &Shared,
    ws: &mut Ws,
    subs: &[Sub],
    batch: &PendingBatch,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let chain_id = shared.chain_id.load(Ordering::Relaxed);
    let mut sent = false;
    for sub in subs {
        if let SubKind::Pending { full, only } = &sub.kind {
            let full = *full;
            let wanted = |tx: &super::chain::Tx| {
                only.as_ref()
                    .is_none_or(|a| a.contains(&tx.from) || a.contains(&tx.to))
            };
            for tx in batch.txs.iter().filter(|t| wanted(t)) {
                let result = if full {
                    tx_json(tx, chain_id, batch.base_fee, None).to_string()
                } else {
                    format!("\"{}\"", tx.hash)
                };
                ws.feed(notification(&sub.id, &result)).await?;
                sent = true;
            }
        }
    }
    if sent {
        ws.flush().await?;
    }
    Ok(())
}

//! A counting proxy between chaintop and a node: what a provider's billing sees.
//! It forwards HTTP JSON-RPC (counting each batch entry) and one WebSocket per
//! client connection (counting each request sent up and each notification pushed
//! down, with its bytes), and prices the counts with a provider's table, on its
//! own: nothing here asks chaintop's meter.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chaintop::cost::PriceTable;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// What went through, by method (`event:KIND` for notifications): count and cost.
#[derive(Debug, Default, Clone)]
pub struct Counted {
    pub by_method: BTreeMap<String, (u64, f64)>,
    pub total: f64,
    last_log_block: Option<u64>,
    last_pending_sec: Option<u64>,
}

impl Counted {
    pub fn count(&self, method: &str) -> u64 {
        self.by_method.get(method).map_or(0, |(n, _)| *n)
    }

    fn add(&mut self, key: String, cost: f64) {
        let e = self.by_method.entry(key).or_default();
        e.0 += 1;
        e.1 += cost;
        self.total += cost;
    }

    fn call(&mut self, table: &PriceTable, method: &str) {
        self.add(method.to_string(), table.call(method));
    }

    /// A notification of `kind`, `bytes` long; a log's block for per-block billing.
    fn event(&mut self, table: &PriceTable, kind: &str, bytes: usize, block: Option<u64>) {
        let once = match kind {
            "logs" if table.logs_per_block => {
                let fresh = block.is_none() || self.last_log_block != block;
                self.last_log_block = block;
                fresh
            }
            "newPendingTransactions" if table.pending_per_second => {
                let sec = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let fresh = self.last_pending_sec != Some(sec);
                self.last_pending_sec = Some(sec);
                fresh
            }
            _ => true,
        };
        let per_event = if once {
            table.events.get(kind).copied().unwrap_or(0.0)
        } else {
            0.0
        };
        let cost = per_event + table.per_event_byte * bytes as f64;
        self.add(format!("event:{kind}"), cost);
    }
}

pub struct CountingProxy {
    pub http_url: String,
    pub ws_url: String,
    counted: Arc<Mutex<Counted>>,
}

impl CountingProxy {
    /// Listens on two free loopback ports, forwarding to `http` and `ws`.
    pub async fn start(http: String, ws: String, table: PriceTable) -> Self {
        Self::start_with(http, ws, table, false).await
    }

    /// `start`, answering `eth_subscribe ["newPendingTransactions", true]` with an
    /// error as providers that send hashes only do (`refuse_full_pending`).
    pub async fn start_with(
        http: String,
        ws: String,
        table: PriceTable,
        refuse_full_pending: bool,
    ) -> Self {
        Self::start_inner(http, ws, table, refuse_full_pending, Duration::ZERO).await
    }

    /// `start`, every WebSocket frame from the node passed on `delay` late (in
    /// order): a provider that is slower than the node.
    pub async fn start_delayed(
        http: String,
        ws: String,
        table: PriceTable,
        delay: Duration,
    ) -> Self {
        Self::start_inner(http, ws, table, false, delay).await
    }

    async fn start_inner(
        http: String,
        ws: String,
        table: PriceTable,
        refuse_full_pending: bool,
        delay: Duration,
    ) -> Self {
        let counted = Arc::new(Mutex::new(Counted::default()));
        let table = Arc::new(table);
        let http_l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let ws_l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let http_url = format!("http://{}", http_l.local_addr().expect("addr"));
        let ws_url = format!("ws://{}", ws_l.local_addr().expect("addr"));
        let client = reqwest::Client::new();
        let (c, t) = (counted.clone(), table.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = http_l.accept().await {
                tokio::spawn(serve_http(
                    s,
                    client.clone(),
                    http.clone(),
                    c.clone(),
                    t.clone(),
                ));
            }
        });
        let c = counted.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = ws_l.accept().await {
                tokio::spawn(serve_ws(
                    s,
                    ws.clone(),
                    c.clone(),
                    table.clone(),
                    refuse_full_pending,
                    delay,
                ));
            }
        });
        Self {
            http_url,
            ws_url,
            counted,
        }
    }

    pub fn counted(&self) -> Counted {
        self.counted.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// The methods of one JSON-RPC body: a batch's entries, or the one call.
fn methods(body: &Value) -> Vec<String> {
    let one = |v: &Value| v.get("method").and_then(Value::as_str).map(str::to_string);
    match body {
        Value::Array(entries) => entries.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// HTTP/1.1 with keep-alive, enough for reqwest's POSTs.
async fn serve_http(
    mut s: TcpStream,
    client: reqwest::Client,
    upstream: String,
    counted: Arc<Mutex<Counted>>,
    table: Arc<PriceTable>,
) {
    let mut buf: Vec<u8> = Vec::new();
    while let Some((_, body)) = crate::support::read_http_request(&mut s, &mut buf).await {
        let Ok(resp) = client
            .post(&upstream)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
        else {
            return;
        };
        let status = resp.status().as_u16();
        let Ok(answer) = resp.bytes().await else {
            return;
        };
        if status == 200
            && let Ok(v) = serde_json::from_slice::<Value>(&body)
            && let Ok(mut c) = counted.lock()
        {
            for m in methods(&v) {
                c.call(&table, &m);
            }
        }
        let reply = format!(
            "HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        if s.write_all(reply.as_bytes()).await.is_err() || s.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// One client WebSocket, relayed to a WebSocket of its own upstream.
async fn serve_ws(
    s: TcpStream,
    upstream: String,
    counted: Arc<Mutex<Counted>>,
    table: Arc<PriceTable>,
    refuse_full_pending: bool,
    delay: Duration,
) {
    let Ok(mut down) = tokio_tungstenite::accept_async(s).await else {
        return;
    };
    let Ok((mut up, _)) = tokio_tungstenite::connect_async(upstream.as_str()).await else {
        return;
    };
    // Subscriptions: the request id of each `eth_subscribe` and its kind, then the
    // subscription id the node gave it.
    let mut asked: HashMap<String, String> = HashMap::new();
    let mut subs: HashMap<String, String> = HashMap::new();
    let mut held: VecDeque<(tokio::time::Instant, Message)> = VecDeque::new();
    loop {
        let due = held.front().map(|(t, _)| *t);
        tokio::select! {
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                let Some((_, m)) = held.pop_front() else { continue };
                if matches!(m, Message::Close(_)) || down.send(m).await.is_err() {
                    break;
                }
            }
            m = down.next() => {
                let Some(Ok(m)) = m else { break };
                if let Message::Text(t) = &m
                    && let Ok(v) = serde_json::from_str::<Value>(t.as_str())
                {
                    if v.get("method").and_then(Value::as_str) == Some("eth_subscribe")
                        && let Some(kind) = v["params"][0].as_str()
                    {
                        asked.insert(v["id"].to_string(), kind.to_string());
                    }
                    if let Ok(mut c) = counted.lock() {
                        for method in methods(&v) {
                            c.call(&table, &method);
                        }
                    }
                    if refuse_full_pending
                        && v["method"] == "eth_subscribe"
                        && v["params"][0] == "newPendingTransactions"
                        && v["params"][1] == true
                    {
                        asked.remove(&v["id"].to_string());
                        let no = serde_json::json!({
                            "jsonrpc": "2.0",
                            "id": v["id"],
                            "error": {"code": -32602, "message": "invalid params: full transactions are not supported"},
                        });
                        if down.send(Message::text(no.to_string())).await.is_err() {
                            break;
                        }
                        continue;
                    }
                }
                if matches!(m, Message::Close(_)) || up.send(m).await.is_err() {
                    break;
                }
            }
            m = up.next() => {
                let Some(Ok(m)) = m else { break };
                if let Message::Text(t) = &m
                    && let Ok(v) = serde_json::from_str::<Value>(t.as_str())
                {
                    note_answer(&v, t.len(), &mut asked, &mut subs, &counted, &table);
                }
                if !delay.is_zero() {
                    held.push_back((tokio::time::Instant::now() + delay, m));
                    continue;
                }
                if matches!(m, Message::Close(_)) || down.send(m).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = down.close(None).await;
    let _ = up.close(None).await;
}

/// A frame from the node: a subscription's id, or a notification to count.
fn note_answer(
    v: &Value,
    bytes: usize,
    asked: &mut HashMap<String, String>,
    subs: &mut HashMap<String, String>,
    counted: &Mutex<Counted>,
    table: &PriceTable,
) {
    if let Some(kind) = asked.remove(&v["id"].to_string())
        && let Some(id) = v["result"].as_str()
    {
        subs.insert(id.to_string(), kind);
        return;
    }
    if v.get("method").and_then(Value::as_str) != Some("eth_subscription") {
        return;
    }
    let params = &v["params"];
    let Some(kind) = params["subscription"].as_str().and_then(|id| subs.get(id)) else {
        return;
    };
    let block = params["result"]["blockNumber"]
        .as_str()
        .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok());
    if let Ok(mut c) = counted.lock() {
        c.event(table, kind, bytes, block);
    }
}

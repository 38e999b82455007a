//! Messages between the backend, the state and the UI.
//!
//! `Update`s are past-tense facts sent by the backend (one bounded channel for all
//! networks). `Action`s come from the keyboard. `Command`s are imperative requests
//! sent from the app loop to one network's supervisor.

use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::{Address, B256, Bytes, I256, U256};
use serde::Serialize;

/// Index of a network in `Config::networks` (and `AppState::networks`).
pub type NetIdx = usize;

/// Where a head came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadSource {
    /// Pushed by the `newHeads` subscription.
    Ws,
    /// Fetched over HTTP to fill a gap (after a reconnect or a skipped number).
    Backfill,
    /// Fetched over HTTP by the polling fallback.
    Poll,
}

/// A block header as chaintop shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub number: u64,
    pub hash: B256,
    pub parent_hash: B256,
    /// Unix seconds.
    pub timestamp: u64,
    pub gas_used: u64,
    pub gas_limit: u64,
    pub base_fee: Option<U256>,
    /// `None` when neither the notification nor a lookup could tell.
    pub tx_count: Option<u32>,
    pub source: HeadSource,
    /// When its `newHeads` notification was read off the socket (pushed heads);
    /// `None` for fetched ones, which arrive when they are sent on. Which endpoint
    /// of a chain group delivered a block first is judged by this.
    pub seen: Option<Instant>,
}

/// A chain reorganisation detected by hash/parent-hash linkage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reorg {
    /// How many previously shown heads were replaced.
    pub depth: u64,
    /// Number of the first replaced block.
    pub from_number: u64,
    /// Hash we had shown at the old tip.
    pub old_hash: B256,
    /// Hash of the block that replaced `from_number`.
    pub new_hash: B256,
    /// Every shown head this reorg retracted, oldest first: their rows, logs and
    /// activity are taken back.
    pub orphaned: Vec<(u64, B256)>,
    /// The fork point lies below every head chaintop still tracked: `depth` is a
    /// lower bound, and the chain was resynchronised from the node.
    pub deeper_than_tracked: bool,
}

/// Subscription kinds chaintop opens on each WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubKind {
    NewHeads,
    NewPendingTransactions,
    Logs,
}

impl SubKind {
    pub fn wire_name(self) -> &'static str {
        match self {
            SubKind::NewHeads => "newHeads",
            SubKind::NewPendingTransactions => "newPendingTransactions",
            SubKind::Logs => "logs",
        }
    }
}

/// What an endpoint said to one `eth_subscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubStatus {
    Active,
    /// The endpoint refused it; the text is the (sanitised) error message.
    Unsupported(String),
    /// Not subscribed, by the config or because the provider bills each event;
    /// the text says which.
    Off(String),
}

/// The state of one network's connection, as shown in its health pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Opening the WebSocket / handshaking / checking the chain id.
    Connecting { endpoint: String },
    /// Subscribed and streaming.
    Live { endpoint: String },
    /// Connected but no head for too long while the chain advances.
    Stalled { reason: String },
    /// Heads come from HTTP polling; `reason` says why (and what is retried),
    /// `retry_at` when the WebSocket is tried again, if it is down.
    Polling {
        endpoint: String,
        reason: String,
        retry_at: Option<Instant>,
    },
    /// Waiting before the next attempt.
    BackingOff {
        until: Instant,
        attempt: u32,
        reason: String,
    },
    /// This endpoint is refused (e.g. chain id mismatch); retried at `until`.
    Failed { reason: String, until: Instant },
}

impl ConnState {
    /// Stable lower-case name used in headless output and the UI.
    pub fn name(&self) -> &'static str {
        match self {
            ConnState::Connecting { .. } => "connecting",
            ConnState::Live { .. } => "live",
            ConnState::Stalled { .. } => "stalled",
            ConnState::Polling { .. } => "polling",
            ConnState::BackingOff { .. } => "reconnecting",
            ConnState::Failed { .. } => "failed",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            ConnState::Stalled { reason }
            | ConnState::Polling { reason, .. }
            | ConnState::BackingOff { reason, .. }
            | ConnState::Failed { reason, .. } => Some(reason),
            ConnState::Connecting { .. } | ConnState::Live { .. } => None,
        }
    }

    /// When the next connection attempt is due, if one is scheduled.
    pub fn retry_at(&self) -> Option<Instant> {
        match self {
            ConnState::BackingOff { until, .. } | ConnState::Failed { until, .. } => Some(*until),
            ConnState::Polling { retry_at, .. } => *retry_at,
            ConnState::Connecting { .. } | ConnState::Live { .. } | ConnState::Stalled { .. } => {
                None
            }
        }
    }
}

/// Periodic connection statistics (sent about once a second while anything happens).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnStats {
    /// WebSocket messages received in total on this network.
    pub messages: u64,
    /// Frames that could not be decoded or were refused (too big, too deep, bad JSON).
    pub bad_frames: u64,
    /// Errors of any kind (bad frames, failed requests, disconnects).
    pub errors: u64,
    /// Wall-clock time of the last WebSocket message.
    pub last_message: Option<SystemTime>,
    /// Last HTTP round-trip time, and when it was measured.
    pub http_latency: Option<Duration>,
    pub http_at: Option<SystemTime>,
    /// Last WebSocket ping round-trip time, and when it was measured.
    pub ping_rtt: Option<Duration>,
    pub ping_at: Option<SystemTime>,
    /// HTTP requests sent (a batch counts once).
    pub http_requests: u64,
    /// Pending-count windows merged into the next one because the UI channel was
    /// full (the hashes are still counted: nothing is dropped).
    pub pending_coalesced: u64,
    /// The last error, redacted and sanitised, and when it happened.
    pub last_error: Option<String>,
    pub last_error_at: Option<SystemTime>,
    /// What the traffic has cost so far, and its rate.
    pub cost: crate::cost::CostSnapshot,
}

/// How an endpoint's HTTP side is doing, as the health pane shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HttpHealth {
    /// The last request was answered.
    #[default]
    Ok,
    /// HTTP 429: no request is sent before `until` (the `Retry-After`, or a backoff).
    RateLimited { until: Instant, reason: String },
    /// A JSON-RPC rate limit (-32005, -32016) with a backoff until `until`.
    BackingOff { until: Instant, reason: String },
    /// Requests fail (5xx, timeouts, undecodable bodies): `in_a_row` so far.
    Failing { reason: String, in_a_row: u32 },
}

impl HttpHealth {
    /// Stable lower-case name used in headless output.
    pub fn name(&self) -> &'static str {
        match self {
            HttpHealth::Ok => "ok",
            HttpHealth::RateLimited { .. } => "rate_limited",
            HttpHealth::BackingOff { .. } => "backing_off",
            HttpHealth::Failing { .. } => "failing",
        }
    }

    pub fn until(&self) -> Option<Instant> {
        match self {
            HttpHealth::RateLimited { until, .. } | HttpHealth::BackingOff { until, .. } => {
                Some(*until)
            }
            HttpHealth::Ok | HttpHealth::Failing { .. } => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            HttpHealth::Ok => None,
            HttpHealth::RateLimited { reason, .. }
            | HttpHealth::BackingOff { reason, .. }
            | HttpHealth::Failing { reason, .. } => Some(reason),
        }
    }
}

/// ERC-20 metadata, read once per token. Text fields come from the chain and are
/// already sanitised (escaped); `None` when the token does not answer (or answers
/// garbage) for that field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMeta {
    pub address: Address,
    pub symbol: Option<String>,
    pub name: Option<String>,
    pub decimals: Option<u8>,
}

/// A decoded ABI value, typed: `fmt` writes it for people, `headless` for machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbiValue {
    Address(Address),
    /// An unsigned integer; `decimals` when it is an amount of a configured token
    /// whose decimals are known (shown in token units).
    Uint {
        value: U256,
        decimals: Option<u8>,
    },
    Int(I256),
    Bool(bool),
    /// `bytes`, `bytesN` and function pointers.
    Bytes(Bytes),
    /// A `string`, already escaped (`text::sanitize`): it came from a chain.
    Str(String),
    Array(Vec<AbiValue>),
    Tuple(Vec<AbiValue>),
}

/// One decoded argument of a log.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// Parameter name from the signature (may be empty); escaped.
    pub name: String,
    /// Solidity type, e.g. `uint256`.
    pub ty: String,
    pub indexed: bool,
    pub value: AbiValue,
}

/// A log from a watched contract or token, decoded when its event is known.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLog {
    pub address: Address,
    /// Label of the contract (or the token symbol) that emitted it, if known.
    pub source: Option<String>,
    /// Event name; `None` when the log could not be decoded (see `topics`/`data`).
    pub event: Option<String>,
    pub args: Vec<Arg>,
    pub topics: Vec<B256>,
    pub data: Bytes,
    pub block: Option<u64>,
    pub block_hash: Option<B256>,
    pub tx: Option<B256>,
    pub log_index: Option<u64>,
    /// The node retracted it (`removed: true`, a reorg): show it as reverted.
    pub removed: bool,
}

/// What a contract view answered: its one output, or its outputs as a tuple.
pub type ViewValue = AbiValue;

/// What a detail view asks the node for, over HTTP, when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetailKey {
    /// A block and its transactions (`eth_getBlockByHash`).
    Block(B256),
    /// A transaction's receipt (`eth_getTransactionReceipt`).
    Receipt(B256),
}

/// What the node answered for a [`DetailKey`].
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Block(BlockDetail),
    Receipt(ReceiptDetail),
}

/// A block as its detail view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockDetail {
    pub head: Head,
    pub miner: Option<Address>,
    pub txs: Vec<TxSummary>,
}

/// One transaction of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct TxSummary {
    pub hash: B256,
    pub from: Address,
    /// `None`: a contract creation.
    pub to: Option<Address>,
    pub value: U256,
    /// The first four bytes of its input, when it has them.
    pub selector: Option<[u8; 4]>,
    /// The method's signature, where a configured ABI (or ERC-20) knows the selector.
    pub method: Option<String>,
}

/// A transaction's receipt, its logs decoded where an ABI is known.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptDetail {
    pub tx: B256,
    pub from: Address,
    pub to: Option<Address>,
    /// `None`: the node did not say (before Byzantium).
    pub success: Option<bool>,
    pub block: Option<u64>,
    pub block_hash: Option<B256>,
    pub gas_used: u64,
    pub effective_gas_price: Option<U256>,
    pub contract_created: Option<Address>,
    pub logs: Vec<EventLog>,
}

/// A fact from the backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Connection {
        net: NetIdx,
        state: ConnState,
    },
    /// The endpoint's chain id, as checked on connect.
    ChainId {
        net: NetIdx,
        chain_id: u64,
    },
    Subscription {
        net: NetIdx,
        kind: SubKind,
        status: SubStatus,
    },
    Head {
        net: NetIdx,
        head: Head,
    },
    Reorg {
        net: NetIdx,
        reorg: Reorg,
    },
    /// A shown head the node says does not exist (asked twice): taken back and
    /// counted as a bad frame.
    HeadRetracted {
        net: NetIdx,
        number: u64,
        hash: B256,
    },
    /// The node is on a new chain (its genesis block changed): everything shown from
    /// the old one is gone.
    ChainReset {
        net: NetIdx,
        genesis: B256,
        previous: B256,
    },
    /// A shown head's transaction count, looked up after it was shown.
    HeadTxCount {
        net: NetIdx,
        number: u64,
        hash: B256,
        tx_count: u32,
    },
    /// The endpoint's HTTP side changed state.
    Http {
        net: NetIdx,
        health: HttpHealth,
    },
    Balance {
        net: NetIdx,
        address: Address,
        wei: U256,
        block: u64,
    },
    /// A watched pending transaction was seen, or moved on (`pending = "watched"`).
    PendingTx {
        net: NetIdx,
        event: Box<PendingTxEvent>,
    },
    /// What the pending feed gives, the priority fees of recent pending transactions
    /// (p10, p50, p90, wei), and watched ones forgotten for room so far.
    Mempool {
        net: NetIdx,
        feed: PendingFeed,
        tips: Option<[u128; 3]>,
        evicted: u64,
    },
    /// Pending transaction hashes seen in the last window.
    Pending {
        net: NetIdx,
        count: u64,
        window_ms: u64,
    },
    Stats {
        net: NetIdx,
        stats: ConnStats,
    },
    /// Reconnect counter (incremented on every re-established connection after the first).
    Reconnected {
        net: NetIdx,
        count: u64,
    },
    /// A token's metadata was read (once per token and run).
    Token {
        net: NetIdx,
        meta: TokenMeta,
    },
    /// A watched address's balance of a token (sent when it changes).
    TokenBalance {
        net: NetIdx,
        holder: Address,
        token: Address,
        amount: U256,
        block: u64,
    },
    /// A watched address's nonce (transactions sent), sent when it changes.
    Nonce {
        net: NetIdx,
        address: Address,
        nonce: u64,
        block: u64,
    },
    /// A transaction touching a watched address (sender, recipient, or a token
    /// `Transfer` from or to it), seen in a block.
    Activity {
        net: NetIdx,
        address: Address,
        block: Option<u64>,
        /// The block's hash, so a reorg that orphans it clears the activity.
        block_hash: Option<B256>,
        tx: B256,
    },
    /// A log from a watched contract, or a watched token's Transfer involving a
    /// watched address.
    Log {
        net: NetIdx,
        log: Box<EventLog>,
    },
    /// A contract view was read. `index` is the view's position in its contract's
    /// `views`; `Err` holds the (sanitised) revert reason or error for that view only.
    View {
        net: NetIdx,
        contract: Address,
        index: usize,
        block: u64,
        value: Result<ViewValue, String>,
    },
    /// An alert rule fired or resolved (sent to its sinks as well).
    Alert {
        net: NetIdx,
        alert: Box<AlertNotice>,
    },
    /// A detail view's fetch answered (or failed, saying why).
    Detail {
        net: NetIdx,
        key: DetailKey,
        result: Result<Box<Detail>, String>,
    },
    /// The watch list changed at run time (`a`/`d`): `label` is the address's
    /// label, `None` when it is no longer watched.
    Watching {
        net: NetIdx,
        address: Address,
        label: Option<String>,
    },
    /// A sink could not deliver a notice of this network (or is off for good).
    SinkFailed {
        net: NetIdx,
        failure: Box<SinkFailure>,
    },
    /// A chain group formed or changed (`net`: its first member). A group of one
    /// is no group: its race is over.
    Group {
        net: NetIdx,
        group: usize,
        info: Box<ChainGroup>,
    },
    /// Who of a group delivered a block first, and how much later the others did
    /// (`net`: the first).
    Race {
        net: NetIdx,
        race: Box<RaceResult>,
    },
    /// How many blocks this endpoint's head is behind its group's best head (sent
    /// when it changes).
    Behind {
        net: NetIdx,
        group: usize,
        behind: u64,
        best: u64,
    },
    /// The endpoints of a group do not agree on a block (`net`: the one whose head
    /// is in doubt, or the first of a fork).
    Disputed {
        net: NetIdx,
        group: usize,
        dispute: Box<Dispute>,
    },
    /// This endpoint's `safe` and `finalized` blocks, read every few heads while it
    /// is in a group.
    Finality {
        net: NetIdx,
        finality: Box<Finality>,
    },
}

/// Configured networks on one chain: the same reported chain id, or the same
/// `group` in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainGroup {
    /// The `group` configured, else the members' common name prefix, else
    /// `chain ID`.
    pub name: String,
    pub chain_id: Option<u64>,
    /// In config order.
    pub members: Vec<NetIdx>,
}

/// How one endpoint of a group delivered a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Pushed or polled, `ms` after the first endpoint had it.
    After { ms: u64, source: HeadSource },
    /// Only fetched to fill a gap: it did not deliver it on its own.
    Backfilled,
    /// Never delivered while the race was open.
    Missed,
}

impl Delivery {
    pub fn ms(&self) -> Option<u64> {
        match self {
            Delivery::After { ms, .. } => Some(*ms),
            Delivery::Backfilled | Delivery::Missed => None,
        }
    }
}

/// One block's race between the endpoints of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceResult {
    pub group: usize,
    pub number: u64,
    pub hash: B256,
    /// The endpoint that had it first.
    pub first: NetIdx,
    /// When (wall clock) the first one had it.
    pub first_at: SystemTime,
    /// Every member of the group, in its order (the first: 0 ms).
    pub deliveries: Vec<(NetIdx, Delivery)>,
}

/// What the endpoints of a group disagree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispute {
    /// Different hashes for one number, each still held by its endpoint once both
    /// were at least 2 blocks past it.
    Fork {
        number: u64,
        hashes: Vec<(NetIdx, B256)>,
    },
    /// A head only `net` delivered, which no other endpoint confirmed once past it.
    Unconfirmed {
        number: u64,
        net: NetIdx,
        hash: B256,
    },
}

impl Dispute {
    pub fn number(&self) -> u64 {
        match self {
            Dispute::Fork { number, .. } | Dispute::Unconfirmed { number, .. } => *number,
        }
    }
}

/// What an endpoint says its `safe` or `finalized` block is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalityTag {
    Block {
        number: u64,
        hash: B256,
    },
    /// It answered `null`: it knows the tag but has no such block yet.
    None,
    /// It refused the tag (the error, sanitised).
    Unsupported(String),
}

impl FinalityTag {
    pub fn number(&self) -> Option<u64> {
        match self {
            FinalityTag::Block { number, .. } => Some(*number),
            FinalityTag::None | FinalityTag::Unsupported(_) => None,
        }
    }
}

/// An endpoint's `safe` and `finalized` blocks, read at its head `head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finality {
    pub head: u64,
    pub safe: FinalityTag,
    pub finalized: FinalityTag,
}

/// An alert rule's condition began (`fired`) or ended (`resolved`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Fired,
    Resolved,
}

/// A notice that a sink could not deliver, for the screen and headless.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkFailure {
    pub net: NetIdx,
    pub sink: String,
    /// The rule whose notice it was.
    pub alert: String,
    /// Why, redacted.
    pub reason: String,
    /// The sink is off from now on (a desktop without a notification service).
    pub off: bool,
    pub at: SystemTime,
}

/// What an alert says, to every sink of its rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertNotice {
    /// The rule's name.
    pub rule: String,
    /// The rule's kind (`head_stalled`, …).
    pub kind: &'static str,
    pub network: String,
    pub state: AlertState,
    /// For people; chain text in it is escaped.
    pub message: String,
    /// What it is about: the network, a watched balance, a contract, a view.
    pub about: Subject,
    /// Fired notices held back by the cooldown since the last one sent.
    pub repeats: u64,
    /// A resolve will follow (the condition can end); a reorg, a balance change or
    /// a transfer only fires.
    pub resolves: bool,
    pub at: SystemTime,
    /// The rule's sinks, by name.
    pub sinks: Vec<String>,
}

/// What an alert is about (the row the dashboard flashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The network itself: its heads, its connection, its spend.
    Network,
    /// A watched address's balance: native (`None`) or of a token.
    Balance {
        holder: Address,
        token: Option<Address>,
    },
    /// An event of a contract.
    Contract(Address),
    /// One view of a contract.
    View { contract: Address, index: usize },
}

impl Subject {
    /// How sinks name it (`holder/native`, `holder/token`, `contract`,
    /// `contract#index`); `None` for the network.
    pub fn key(&self) -> Option<String> {
        match self {
            Subject::Network => None,
            Subject::Balance { holder, token } => Some(match token {
                None => format!("{holder}/native"),
                Some(t) => format!("{holder}/{t}"),
            }),
            Subject::Contract(c) => Some(c.to_string()),
            Subject::View { contract, index } => Some(format!("{contract}#{index}")),
        }
    }
}

impl Update {
    pub fn net(&self) -> NetIdx {
        match self {
            Update::Connection { net, .. }
            | Update::ChainId { net, .. }
            | Update::Subscription { net, .. }
            | Update::Head { net, .. }
            | Update::Reorg { net, .. }
            | Update::HeadRetracted { net, .. }
            | Update::ChainReset { net, .. }
            | Update::HeadTxCount { net, .. }
            | Update::Http { net, .. }
            | Update::Balance { net, .. }
            | Update::Pending { net, .. }
            | Update::PendingTx { net, .. }
            | Update::Mempool { net, .. }
            | Update::Stats { net, .. }
            | Update::Reconnected { net, .. }
            | Update::Token { net, .. }
            | Update::TokenBalance { net, .. }
            | Update::Nonce { net, .. }
            | Update::Activity { net, .. }
            | Update::Log { net, .. }
            | Update::View { net, .. }
            | Update::Alert { net, .. }
            | Update::SinkFailed { net, .. }
            | Update::Watching { net, .. }
            | Update::Detail { net, .. }
            | Update::Group { net, .. }
            | Update::Race { net, .. }
            | Update::Behind { net, .. }
            | Update::Disputed { net, .. }
            | Update::Finality { net, .. } => *net,
        }
    }
}

/// A pending transaction that touches a watched address: its sender or recipient
/// is watched, or it moves a configured token to or from a watched address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTx {
    pub hash: B256,
    pub from: Address,
    /// `None`: it creates a contract.
    pub to: Option<Address>,
    pub value: U256,
    pub nonce: u64,
    /// The priority fee it offers (`maxPriorityFeePerGas`), or a legacy gas price.
    pub tip: Option<u128>,
    /// `maxFeePerGas`, or a legacy gas price.
    pub max_fee: Option<u128>,
    /// The ERC-20 `transfer`/`transferFrom` it makes on a configured token.
    pub token: Option<TokenMove>,
}

impl PendingTx {
    /// The fee it bids, for comparing a replacement with the one it replaces.
    pub fn bid(&self) -> u128 {
        self.max_fee.or(self.tip).unwrap_or(0)
    }

    /// It names `a`: as sender, recipient, or a side of the token move it makes.
    pub fn touches(&self, a: Address) -> bool {
        self.from == a || self.to == Some(a) || self.token.is_some_and(|m| m.from == a || m.to == a)
    }
}

/// An ERC-20 transfer in a transaction's calldata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenMove {
    pub token: Address,
    pub from: Address,
    pub to: Address,
    pub amount: U256,
}

/// Where a watched pending transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    Pending,
    /// Its hash is in this block.
    Mined {
        block: u64,
    },
    /// Another transaction of the same sender and nonce took its place: a
    /// cancel sends nothing to its sender, a speed-up is the same move paying more.
    Replaced {
        by: B256,
        cancel: bool,
    },
    /// Neither mined nor replaced within `pending_drop_secs`.
    Dropped,
}

impl TxState {
    pub fn name(&self) -> &'static str {
        match self {
            TxState::Pending => "pending",
            TxState::Mined { .. } => "mined",
            TxState::Replaced { .. } => "replaced",
            TxState::Dropped => "dropped",
        }
    }
}

/// A watched pending transaction's news.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTxEvent {
    pub tx: PendingTx,
    pub state: TxState,
    /// When chaintop first saw it.
    pub first_seen: SystemTime,
    /// From first seen to mined, replaced or dropped.
    pub latency_ms: Option<u64>,
}

/// What the endpoint's pending feed gives with `pending = "watched"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingFeed {
    /// Whole transactions (`newPendingTransactions` with `true`).
    Full,
    /// Whole transactions of the watched addresses only (Alchemy's
    /// `alchemy_pendingTransactions`).
    Filtered,
    /// Hashes only, and why: nothing can be told about them but their number.
    HashesOnly(String),
}

/// Imperative requests from the app loop to one network supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Drop the current connection (if any) and connect again now.
    Reconnect,
    /// Start watching an address (balance, nonce, tokens, activity) on this network.
    AddWatch { address: Address, label: String },
    /// Stop watching an address on this network.
    RemoveWatch { address: Address },
    /// Fetch what a detail view shows (answered with `Update::Detail`).
    Fetch(DetailKey),
}

/// A mouse event the dashboard answers, at column `x`, row `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mouse {
    pub kind: MouseKind,
    pub x: u16,
    pub y: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseKind {
    /// The left button pressed.
    Click,
    WheelUp,
    WheelDown,
}

/// What a key press means, independent of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// What the mouse did, at a cell (column, row).
    Mouse(Mouse),
    /// Leave the program.
    Quit,
    /// Hand the terminal back and stop (Ctrl-Z); `fg` brings the dashboard back.
    Suspend,
    /// Show or hide the help popup.
    ToggleHelp,
    /// Show or hide the alerts popup.
    ToggleAlerts,
    /// Open the detail view of what is selected (Enter); Esc goes back.
    Open,
    /// Freeze the lists where they are, or follow again (`f`).
    Freeze,
    /// Copy the selected hash or address to the clipboard (OSC 52, `y`).
    Copy,
    /// Chart the next metric on the network cards (`c`).
    Chart,
    /// Order the focused list by its next column (`s`).
    Sort,
    /// Pick a network by name, from a list as long as there are networks (`n`).
    PickNetwork,
    /// Watch again the address removed last (`u`).
    Undo,
    /// Open the mempool of the watched addresses (`p`).
    Mempool,
    /// Compare the endpoints of the selected network's chain (`v`).
    Race,
    /// Filter the focused list (`/`); Esc clears it.
    Filter,
    /// Move the selection a page up / down, to the first / last row.
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Move focus to the next pane.
    FocusNext,
    /// Move focus to the previous pane.
    FocusPrev,
    /// Move left (previous network when the network row has focus).
    Left,
    /// Move right (next network when the network row has focus).
    Right,
    /// Move the selection up in the focused list.
    Up,
    /// Move the selection down in the focused list.
    Down,
    /// Select network N (0-based).
    SelectNetwork(usize),
    /// Force a reconnect of the selected network.
    Reconnect,
    /// Close a popup.
    Escape,
    /// Take the mouse, or give it back to the terminal so text can be selected (`m`).
    ToggleMouse,
    /// Open the "add watch address" input (key `a`).
    AddWatch,
    /// Stop watching the selected address on every network (key `d`).
    RemoveWatch,
    /// A character typed into the open input.
    InputChar(char),
    /// Backspace in the open input.
    InputBackspace,
    /// Enter in the open input: next field, or submit.
    InputSubmit,
}

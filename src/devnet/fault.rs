//! Faults a devnet can be told to commit, and the CLI spec grammar for them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::DevnetHandle;

/// One misbehaviour. Variants that act on sockets hit every current connection;
/// the others are modes that also apply to connections opened later.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// WebSocket close frame with code 1000 on every WS connection.
    Close,
    /// Drop every connection without a close frame (SO_LINGER 0, so the peer sees RST).
    Reset,
    /// WS connections go silent for the duration: no notifications, no replies, no
    /// pongs; TCP stays open.
    HalfOpen(Duration),
    /// No newHeads notifications for the duration; everything else keeps working and
    /// the chain keeps advancing (visible over HTTP).
    StopHeads(Duration),
    /// Send one malformed frame on every WS connection.
    Malformed(Malformed),
    /// Answer the next `requests` HTTP requests (POSTs and WS upgrades) with
    /// `429 Too Many Requests` and `Retry-After: retry_after_secs`.
    RateLimit {
        retry_after_secs: u64,
        requests: u32,
    },
    /// Answer the next `requests` JSON-RPC calls (any transport) with -32005
    /// "limit exceeded", `data: {"backoff_seconds": N}`.
    LimitExceeded { backoff_secs: u64, requests: u32 },
    /// Refuse `eth_subscribe` of this type (e.g. "newPendingTransactions") with -32601.
    Refuse(String),
    /// Switch to another chain id and close every socket (1012) so clients reconnect
    /// and find it.
    ChainId(u64),
    /// Close the listener and drop every socket; reopen on the same port after the
    /// duration. The chain keeps advancing meanwhile.
    Down(Duration),
    /// `eth_getLogs` over too wide a range fails in this provider's wording; `None`
    /// lifts the limit.
    LogsRange(Option<LogsRangeStyle>),
    /// Replace the last `depth` blocks now.
    Reorg { depth: u64 },
    /// HTTP requests get no answer for the duration (the client times out).
    HttpHang(Duration),
    /// The next `requests` HTTP requests are answered with this status (e.g. 502).
    HttpStatus { status: u16, requests: u32 },
    /// Push one well-formed `newHeads` notification for a block that does not exist
    /// (the next number, child of the head, a random hash).
    InventHead,
    /// Restart on a fresh chain: a new genesis, numbers from the start again, every
    /// socket closed (a node restarted without its state).
    NewChain,
}

/// The malformed frames [`Fault::Malformed`] can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A text frame that is not JSON.
    InvalidJson,
    /// A binary frame.
    Binary,
    /// A JSON-RPC error object without an `id`.
    NoIdError,
    /// A 17 MiB text frame, above common 16 MiB frame limits.
    Oversize,
    /// JSON nested 10,000 arrays deep.
    Deep,
    /// A newHeads notification whose `number` has 100 hex digits.
    BigHex,
    /// A 40 MiB text frame, above tungstenite's default 32 MiB cap too.
    Huge,
    /// A text frame whose payload is not UTF-8.
    BadUtf8,
}

/// Which provider's wording `eth_getLogs` range errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogsRangeStyle {
    /// -32005 "query returned more than 10000 results…" for ranges over 10,000 blocks.
    Infura,
    /// -32000 "exceed maximum block range: 5000" for ranges over 5,000 blocks.
    Alchemy,
    /// -32000 "Block range limit exceeded" for ranges over 10,000 blocks.
    QuickNode,
}

impl LogsRangeStyle {
    pub(crate) fn max_range(self) -> u64 {
        match self {
            LogsRangeStyle::Infura | LogsRangeStyle::QuickNode => 10_000,
            LogsRangeStyle::Alchemy => 5_000,
        }
    }
}

/// A fault to inject at a time after start, on one network or all.
///
/// Grammar: `[SECS@]NAME[=ARG][/NETWORK]` — SECS (default 0, fractions allowed) after
/// start, NETWORK the devnet name (default: every network). Names and arguments:
///
/// | spec | fault |
/// |---|---|
/// | `close` | close frame 1000 |
/// | `reset` | TCP reset, no close frame |
/// | `half-open[=SECS]` | silent but open for SECS (30) |
/// | `stop-heads[=SECS]` | no newHeads for SECS (30) |
/// | `malformed[=KIND]` | KIND: invalid-json (default), binary, no-id-error, oversize, deep, big-hex |
/// | `rate-limit[=N[,K]]` | HTTP 429, Retry-After N (5), next K (3) requests |
/// | `limit-exceeded[=N[,K]]` | -32005, backoff_seconds N (3), next K (3) calls |
/// | `refuse=TYPE` | eth_subscribe TYPE answered -32601 |
/// | `chain-id=ID` | new chain id, sockets closed |
/// | `down[=SECS]` | listener closed for SECS (10) |
/// | `logs-range=STYLE` | STYLE: infura, alchemy, quicknode, off |
/// | `reorg[=DEPTH]` | reorg of DEPTH (2) blocks |
/// | `http-hang[=SECS]` | HTTP requests unanswered for SECS (30) |
/// | `http-status[=CODE[,K]]` | next K (3) HTTP requests answered with CODE (502) |
/// | `invent-head` | one newHeads notification for a block that does not exist |
/// | `new-chain` | restart on a fresh chain (new genesis), sockets closed |
///
/// Examples: `close`, `10@reset/sim-fast`, `half-open=40`, `5.5@malformed=deep`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub after: Duration,
    pub network: Option<String>,
    pub fault: Fault,
}

const NAMES: &str = "close, reset, half-open[=SECS], stop-heads[=SECS], \
malformed[=invalid-json|binary|no-id-error|oversize|deep|big-hex|huge|bad-utf8], \
rate-limit[=N[,K]], limit-exceeded[=N[,K]], refuse=TYPE, chain-id=ID, down[=SECS], \
logs-range=infura|alchemy|quicknode|off, reorg[=DEPTH], http-hang[=SECS], \
http-status[=CODE[,K]], invent-head, new-chain";

/// Why a fault spec did not parse; the message lists what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpecError(String);

impl fmt::Display for FaultSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; expected [SECS@]NAME[=ARG][/NETWORK] with NAME one of: {NAMES}",
            self.0
        )
    }
}

impl std::error::Error for FaultSpecError {}

fn secs(s: &str, what: &str) -> Result<Duration, FaultSpecError> {
    s.parse::<f64>()
        .ok()
        .and_then(|v| Duration::try_from_secs_f64(v).ok())
        .ok_or_else(|| FaultSpecError(format!("{what}: `{s}` is not a number of seconds")))
}

fn int<T: FromStr>(s: &str, what: &str) -> Result<T, FaultSpecError> {
    s.parse()
        .map_err(|_| FaultSpecError(format!("{what}: `{s}` is not a whole number")))
}

fn pair(arg: Option<&str>, name: &str, default_n: u64) -> Result<(u64, u32), FaultSpecError> {
    match arg {
        None => Ok((default_n, 3)),
        Some(a) => match a.split_once(',') {
            Some((n, k)) => Ok((int(n, name)?, int(k, name)?)),
            None => Ok((int(a, name)?, 3)),
        },
    }
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let spec = spec.trim();
        let (after, rest) = match spec.split_once('@') {
            Some((t, rest)) => (secs(t, "delay before @")?, rest),
            None => (Duration::ZERO, spec),
        };
        let (rest, network) = match rest.split_once('/') {
            Some((r, n)) if !n.is_empty() => (r, Some(n.to_string())),
            Some(_) => return Err(FaultSpecError(format!("`{spec}`: empty network after /"))),
            None => (rest, None),
        };
        let (name, arg) = match rest.split_once('=') {
            Some((n, a)) => (n, Some(a)),
            None => (rest, None),
        };
        let need = |what: &str| {
            arg.filter(|a| !a.is_empty())
                .ok_or_else(|| FaultSpecError(format!("`{name}` needs ={what}")))
        };
        let dur = |default: u64| arg.map_or(Ok(Duration::from_secs(default)), |a| secs(a, name));
        let fault = match name {
            "close" => Fault::Close,
            "reset" => Fault::Reset,
            "half-open" => Fault::HalfOpen(dur(30)?),
            "stop-heads" => Fault::StopHeads(dur(30)?),
            "down" => Fault::Down(dur(10)?),
            "malformed" => Fault::Malformed(match arg.unwrap_or("invalid-json") {
                "invalid-json" => Malformed::InvalidJson,
                "binary" => Malformed::Binary,
                "no-id-error" => Malformed::NoIdError,
                "oversize" => Malformed::Oversize,
                "deep" => Malformed::Deep,
                "big-hex" => Malformed::BigHex,
                "huge" => Malformed::Huge,
                "bad-utf8" => Malformed::BadUtf8,
                other => return Err(FaultSpecError(format!("unknown malformed kind `{other}`"))),
            }),
            "rate-limit" => {
                let (n, k) = pair(arg, name, 5)?;
                Fault::RateLimit {
                    retry_after_secs: n,
                    requests: k,
                }
            }
            "limit-exceeded" => {
                let (n, k) = pair(arg, name, 3)?;
                Fault::LimitExceeded {
                    backoff_secs: n,
                    requests: k,
                }
            }
            "refuse" => Fault::Refuse(need("SUBSCRIPTION_TYPE")?.to_string()),
            "chain-id" => Fault::ChainId(int(need("ID")?, name)?),
            "logs-range" => Fault::LogsRange(match need("STYLE")? {
                "infura" => Some(LogsRangeStyle::Infura),
                "alchemy" => Some(LogsRangeStyle::Alchemy),
                "quicknode" => Some(LogsRangeStyle::QuickNode),
                "off" => None,
                other => {
                    return Err(FaultSpecError(format!(
                        "unknown logs-range style `{other}`"
                    )));
                }
            }),
            "reorg" => Fault::Reorg {
                depth: arg.map_or(Ok(2), |a| int(a, name))?,
            },
            "http-hang" => Fault::HttpHang(dur(30)?),
            "http-status" => {
                let (code, k) = pair(arg, name, 502)?;
                let status = u16::try_from(code)
                    .ok()
                    .filter(|c| (100..600).contains(c))
                    .ok_or_else(|| {
                        FaultSpecError(format!("{name}: `{code}` is not an HTTP status"))
                    })?;
                Fault::HttpStatus {
                    status,
                    requests: k,
                }
            }
            "invent-head" => Fault::InventHead,
            "new-chain" => Fault::NewChain,
            other => return Err(FaultSpecError(format!("unknown fault `{other}`"))),
        };
        Ok(FaultSpec {
            after,
            network,
            fault,
        })
    }
}

/// A fault spec names a network the demo does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--fault …/{network}: there is no network `{network}`; the demo's networks are {}", known.join(", "))]
pub struct UnknownTarget {
    pub network: String,
    pub known: Vec<String>,
}

/// Every spec names a network that exists (or none); the error names the known ones.
pub fn check_targets<'a>(
    specs: &[FaultSpec],
    names: impl IntoIterator<Item = &'a str> + Clone,
) -> Result<(), UnknownTarget> {
    for spec in specs {
        if let Some(n) = &spec.network
            && !names.clone().into_iter().any(|k| k == n)
        {
            return Err(UnknownTarget {
                network: n.clone(),
                known: names.into_iter().map(String::from).collect(),
            });
        }
    }
    Ok(())
}

/// Spawns one tokio task per (spec, matching network) that injects the fault at its
/// time. Check the specs' networks with [`check_targets`] first.
pub fn schedule(handles: &[(String, DevnetHandle)], specs: Vec<FaultSpec>) {
    for spec in specs {
        let targets: Vec<DevnetHandle> = handles
            .iter()
            .filter(|(name, _)| spec.network.as_deref().is_none_or(|n| n == name))
            .map(|(_, h)| h.clone())
            .collect();
        for handle in targets {
            let fault = spec.fault.clone();
            let after = spec.after;
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                handle.inject(fault);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> FaultSpec {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_documented_examples() {
        assert_eq!(
            p("close"),
            FaultSpec {
                after: Duration::ZERO,
                network: None,
                fault: Fault::Close
            }
        );
        assert_eq!(
            p("10@reset/sim-fast"),
            FaultSpec {
                after: Duration::from_secs(10),
                network: Some("sim-fast".into()),
                fault: Fault::Reset
            }
        );
        assert_eq!(
            p("half-open=40").fault,
            Fault::HalfOpen(Duration::from_secs(40))
        );
        assert_eq!(
            p("stop-heads=30").fault,
            Fault::StopHeads(Duration::from_secs(30))
        );
        assert_eq!(
            p("malformed=big-hex").fault,
            Fault::Malformed(Malformed::BigHex)
        );
        assert_eq!(
            p("malformed=no-id-error").fault,
            Fault::Malformed(Malformed::NoIdError)
        );
        assert_eq!(
            p("rate-limit=5").fault,
            Fault::RateLimit {
                retry_after_secs: 5,
                requests: 3
            }
        );
        assert_eq!(
            p("rate-limit=5,10").fault,
            Fault::RateLimit {
                retry_after_secs: 5,
                requests: 10
            }
        );
        assert_eq!(
            p("limit-exceeded=3").fault,
            Fault::LimitExceeded {
                backoff_secs: 3,
                requests: 3
            }
        );
        assert_eq!(
            p("refuse=newPendingTransactions").fault,
            Fault::Refuse("newPendingTransactions".into())
        );
        assert_eq!(p("chain-id=999").fault, Fault::ChainId(999));
        assert_eq!(p("down=60").fault, Fault::Down(Duration::from_secs(60)));
        assert_eq!(
            p("logs-range=quicknode").fault,
            Fault::LogsRange(Some(LogsRangeStyle::QuickNode))
        );
        assert_eq!(p("logs-range=off").fault, Fault::LogsRange(None));
        assert_eq!(p("reorg=2").fault, Fault::Reorg { depth: 2 });
        assert_eq!(p("2.5@reorg").after, Duration::from_millis(2500));
        assert_eq!(
            p("http-hang=12").fault,
            Fault::HttpHang(Duration::from_secs(12))
        );
        assert_eq!(
            p("http-status=503,2").fault,
            Fault::HttpStatus {
                status: 503,
                requests: 2
            }
        );
        assert_eq!(
            p("http-status").fault,
            Fault::HttpStatus {
                status: 502,
                requests: 3
            }
        );
        assert_eq!(p("invent-head").fault, Fault::InventHead);
        assert_eq!(p("new-chain").fault, Fault::NewChain);
        assert_eq!(p("malformed=huge").fault, Fault::Malformed(Malformed::Huge));
        assert_eq!(
            p("malformed=bad-utf8").fault,
            Fault::Malformed(Malformed::BadUtf8)
        );
    }

    #[test]
    fn unknown_networks_are_named_with_the_known_ones() {
        let names = ["sim-l1", "sim-l2"];
        assert!(check_targets(&[p("close/sim-l2"), p("close")], names).is_ok());
        let err = check_targets(&[p("5@stop-heads=40/sim-l3")], names)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sim-l3") && err.contains("sim-l1, sim-l2"),
            "{err}"
        );
    }

    #[test]
    fn bad_specs_explain_themselves() {
        for bad in [
            "",
            "explode",
            "x@close",
            "close/",
            "malformed=weird",
            "chain-id",
            "chain-id=abc",
            "down=-1",
            "logs-range=etherscan",
            "http-status=99",
        ] {
            let err = bad.parse::<FaultSpec>().unwrap_err().to_string();
            assert!(err.contains("half-open"), "{bad}: {err}");
        }
    }
}

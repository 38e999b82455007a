//! Shared integration-test support: finding (or installing) anvil, running anvil nodes
//! on free ports, and a few JSON-RPC helpers. Include with `mod support;`.
//!
//! Every test binary compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use std::fs::File;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use alloy_dyn_abi::DynSolValue;
use alloy_primitives::{Address, B256, U256, keccak256};
use serde_json::{Value, json};

/// The anvil release the tests are written against (see shared/anvil.md).
pub const ANVIL_VERSION: &str = "1.7.1";

/// How long a fresh anvil may take to answer its first `eth_chainId`.
const READY_DEADLINE: Duration = Duration::from_secs(20);

/// anvil's standard unlocked dev accounts (mnemonic "test test … junk").
pub const DEV_ACCOUNTS: [&str; 10] = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
];

/// Path of the `chaintop` binary built for this integration test.
pub fn chaintop_bin() -> PathBuf {
    // Set by cargo for every integration test and bench crate, which is where this
    // module is compiled.
    PathBuf::from(env!("CARGO_BIN_EXE_chaintop"))
}

// ---------------------------------------------------------------------------------
// Finding or installing anvil
// ---------------------------------------------------------------------------------

/// The anvil executable: `$ANVIL_BIN`, else `anvil` on `PATH`, else the copy under
/// `<target>/anvil/`, installing it there with npm when it is missing. Panics with
/// install instructions when none of that works.
pub fn anvil_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(find_or_install_anvil).clone()
}

fn find_or_install_anvil() -> PathBuf {
    if let Some(p) = std::env::var_os("ANVIL_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            panic!("ANVIL_BIN={} does not name a file", p.display());
        }
        return p;
    }
    if let Some(p) = on_path(exe_name("anvil")) {
        return p;
    }
    let dir = target_dir().join("anvil");
    let Some(pkg) = npm_package() else {
        panic!(
            "anvil not found and there is no npm package for this platform ({}/{}); \
             install foundry's anvil {ANVIL_VERSION} and set ANVIL_BIN=/path/to/anvil",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
    };
    let bin = dir
        .join("node_modules")
        .join(&pkg)
        .join("bin")
        .join(exe_name("anvil"));
    // Threads of this process are serialised by the OnceLock; other test binaries
    // running at the same time by the file lock. Checking under the lock means nobody
    // sees a half-extracted binary.
    let _lock = lock_file(&dir.join(".install.lock"));
    if bin.is_file() {
        return bin;
    }
    let install = format!(
        "npm install --prefix {} {pkg}@{ANVIL_VERSION}",
        dir.display()
    );
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg(format!("{pkg}@{ANVIL_VERSION}"))
        .stdin(Stdio::null())
        .output();
    let detail = match out {
        Ok(out) if out.status.success() && bin.is_file() => return bin,
        Ok(out) => format!(
            "{}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("could not run npm: {e}"),
    };
    panic!(
        "anvil not found and installing it failed.\n\
         Tried: {install}\n{detail}\n\
         Fix: run that command yourself, or install foundry's anvil {ANVIL_VERSION} \
         and put it on PATH, or set ANVIL_BIN=/path/to/anvil"
    );
}

/// Takes an exclusive lock on `path` (created if needed), blocking until it is free.
/// The lock is released when the returned file is dropped.
pub fn lock_file(path: &Path) -> File {
    if let Some(parent) = path.parent()
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        panic!("cannot create {}: {e}", parent.display());
    }
    let file = match File::create(path) {
        Ok(f) => f,
        Err(e) => panic!("cannot create lock file {}: {e}", path.display()),
    };
    // File::lock is Rust 1.89; tests only ever run on the project's pinned toolchain.
    #[allow(clippy::incompatible_msrv)]
    let locked = file.lock();
    if let Err(e) = locked {
        panic!("cannot lock {}: {e}", path.display());
    }
    file
}

/// npm package shipping anvil for this platform.
fn npm_package() -> Option<String> {
    let os = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "win32",
        _ => return None,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        _ => return None,
    };
    Some(format!("@foundry-rs/anvil-{os}-{arch}"))
}

fn exe_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

fn on_path(name: String) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
}

/// Cargo's target directory for this build.
pub fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = option_env!("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    // Test executables live in <target>/[<triple>/]<profile>/deps/; cargo marks the
    // target root with CACHEDIR.TAG.
    if let Ok(exe) = std::env::current_exe()
        && let Some(root) = exe
            .ancestors()
            .skip(1)
            .find(|d| d.join("CACHEDIR.TAG").is_file())
    {
        return root.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

// ---------------------------------------------------------------------------------
// Running anvil
// ---------------------------------------------------------------------------------

/// Options for [`Anvil`]. Build with [`Anvil::builder`].
#[derive(Debug, Clone)]
pub struct AnvilBuilder {
    chain_id: Option<u64>,
    block_time: Option<f64>,
    no_mining: bool,
    prune_history: bool,
    extra: Vec<String>,
}

impl AnvilBuilder {
    /// `--chain-id`.
    pub fn chain_id(mut self, id: u64) -> Self {
        self.chain_id = Some(id);
        self
    }
    /// `--block-time` in seconds (fractional allowed, e.g. 0.1).
    pub fn block_time(mut self, secs: f64) -> Self {
        self.block_time = Some(secs);
        self
    }
    /// `--no-mining`: blocks only via `evm_mine`/`anvil_mine`.
    pub fn no_mining(mut self) -> Self {
        self.no_mining = true;
        self
    }
    /// Leave out `--prune-history`: needed by `anvil_reorg` and `anvil_rollback`.
    /// anvil then writes per-block state under `$HOME` (a temp dir here); keep the
    /// block count small.
    pub fn keep_history(mut self) -> Self {
        self.prune_history = false;
        self
    }
    /// Any further argument, e.g. `.arg("--state").arg(path)`.
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.extra.push(a.into());
        self
    }
    /// Starts anvil on a free port and waits until it answers `eth_chainId`.
    /// Panics (with anvil's output) if it does not come up.
    pub fn spawn(self) -> Anvil {
        let home = match tempfile::Builder::new().prefix("chaintop-anvil-").tempdir() {
            Ok(h) => h,
            Err(e) => panic!("cannot create a temp HOME for anvil: {e}"),
        };
        let args = self.args();
        let bin = anvil_bin();
        // A free port can be taken by someone else between our probe and anvil's
        // bind; then anvil exits and we try another.
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            match start(&bin, &args, home.path(), port) {
                Ok(child) => {
                    return Anvil {
                        child: Some(child),
                        port,
                        args,
                        home,
                    };
                }
                Err(e) => last_err = e,
            }
        }
        panic!("anvil did not start: {last_err}");
    }

    fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if self.prune_history {
            a.push("--prune-history".into());
        }
        if let Some(id) = self.chain_id {
            a.extend(["--chain-id".into(), id.to_string()]);
        }
        if let Some(t) = self.block_time {
            a.extend(["--block-time".into(), t.to_string()]);
        }
        if self.no_mining {
            a.push("--no-mining".into());
        }
        a.extend(self.extra.iter().cloned());
        a
    }
}

/// A running anvil node, killed on drop.
pub struct Anvil {
    child: Option<Child>,
    port: u16,
    args: Vec<String>,
    /// anvil's `$HOME` and log file; removed on drop.
    home: tempfile::TempDir,
}

impl Anvil {
    pub fn builder() -> AnvilBuilder {
        AnvilBuilder {
            chain_id: None,
            block_time: None,
            no_mining: false,
            prune_history: true,
            extra: Vec::new(),
        }
    }

    /// anvil with default options (automine, chain id 31337, `--prune-history`).
    pub fn spawn() -> Anvil {
        Self::builder().spawn()
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }
    /// Process id of the running node, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
    /// A temp dir that lives as long as this node (anvil's `$HOME`); handy for
    /// `--state` files.
    pub fn dir(&self) -> &Path {
        self.home.path()
    }
    /// Everything anvil printed so far (all starts of this node).
    pub fn output(&self) -> String {
        read_log(self.home.path())
    }

    /// SIGKILL: the node vanishes without dumping state or closing sockets cleanly.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Graceful stop (SIGINT, so `--state` is dumped), waiting for the exit; falls
    /// back to SIGKILL after 10 s. Returns the exit status if it was running.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if cfg!(unix) {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                match child.try_wait() {
                    Ok(Some(status)) => return Some(status),
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                    Err(_) => break,
                }
            }
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Starts the node again on the same port with the same arguments (stopping it
    /// gracefully first if it still runs). Panics if it does not come back.
    pub fn restart(&mut self) {
        self.stop();
        let bin = anvil_bin();
        // The port was just released; retry briefly in case the OS has not let go.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match start(&bin, &self.args, self.home.path(), self.port) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(e) if Instant::now() >= deadline => {
                    panic!("anvil did not restart on port {}: {e}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("cannot find a free port: {e}"),
    }
}

fn log_path(home: &Path) -> PathBuf {
    home.join("anvil.log")
}

fn read_log(home: &Path) -> String {
    std::fs::read(log_path(home))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Spawns anvil and waits for it to answer. On failure the child is gone and the
/// error carries the tail of its output.
fn start(bin: &Path, args: &[String], home: &Path, port: u16) -> Result<Child, String> {
    // Output goes to a file, not a pipe: anvil logs every request and would block on a
    // full pipe nobody drains.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(home))
        .map_err(|e| format!("cannot open anvil log: {e}"))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("cannot open anvil log: {e}"))?;
    let mut child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(args)
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "anvil exited ({status}):\n{}",
                tail(&read_log(home))
            ));
        }
        if http_chain_id(port).is_some() {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "anvil gave no answer on port {port} within {READY_DEADLINE:?}:\n{}",
                tail(&read_log(home))
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(4000);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[start..]
}

/// A blocking `eth_chainId` over plain HTTP/1.1, usable inside or outside a tokio
/// runtime (reqwest's blocking client is not available and must not run in one).
fn http_chain_id(port: u16) -> Option<u64> {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let json = resp.split_once("\r\n\r\n")?.1;
    let v: Value = serde_json::from_str(json).ok()?;
    u64::from_str_radix(v["result"].as_str()?.strip_prefix("0x")?, 16).ok()
}

// ---------------------------------------------------------------------------------
// JSON-RPC helpers
// ---------------------------------------------------------------------------------

/// One JSON-RPC call over HTTP: `Ok(result)` or `Err(error object)`. Panics on
/// transport failure.
pub async fn try_rpc(url: &str, method: &str, params: Value) -> Result<Value, Value> {
    // A client per call: tests each run their own tokio runtime, and a pooled
    // connection from a finished runtime would fail.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let resp = match reqwest::Client::new().post(url).json(&body).send().await {
        Ok(r) => r,
        Err(e) => panic!("{method} to {url}: {e}"),
    };
    let mut v: Value = match resp.json().await {
        Ok(v) => v,
        Err(e) => panic!("{method} to {url}: bad response: {e}"),
    };
    match v.get_mut("error") {
        Some(err) if !err.is_null() => Err(err.take()),
        _ => Ok(v.get_mut("result").map(Value::take).unwrap_or(Value::Null)),
    }
}

/// One JSON-RPC call over HTTP; panics on an error answer.
pub async fn rpc(url: &str, method: &str, params: Value) -> Value {
    match try_rpc(url, method, params).await {
        Ok(v) => v,
        Err(e) => panic!("{method} failed: {e}"),
    }
}

/// Sends `wei` from an unlocked dev account (see [`DEV_ACCOUNTS`]); returns the tx hash.
pub async fn send_eth(url: &str, from: &str, to: &str, wei: u128) -> B256 {
    let v = rpc(
        url,
        "eth_sendTransaction",
        json!([{"from": from, "to": to, "value": format!("{wei:#x}")}]),
    )
    .await;
    match serde_json::from_value(v.clone()) {
        Ok(h) => h,
        Err(e) => panic!("eth_sendTransaction returned {v}: {e}"),
    }
}

/// Waits (up to 10 s) for a transaction's receipt. Even with automine anvil answers
/// `eth_sendTransaction` before the block is sealed, so a receipt can lag the hash.
pub async fn receipt(url: &str, hash: B256) -> Value {
    eventually("transaction receipt", Duration::from_secs(10), || async {
        let r = rpc(url, "eth_getTransactionReceipt", json!([hash])).await;
        (!r.is_null()).then_some(r)
    })
    .await
}

/// Mines `n` blocks at once (`anvil_mine`).
pub async fn mine(url: &str, n: u64) {
    rpc(url, "anvil_mine", json!([format!("{n:#x}")])).await;
}

/// `eth_blockNumber`.
pub async fn block_number(url: &str) -> u64 {
    hex_u64(&rpc(url, "eth_blockNumber", json!([])).await)
}

/// `eth_chainId`.
pub async fn chain_id(url: &str) -> u64 {
    hex_u64(&rpc(url, "eth_chainId", json!([])).await)
}

/// `eth_getBalance` at `block` ("latest", "pending", or a hex number).
pub async fn balance(url: &str, address: &str, block: &str) -> alloy_primitives::U256 {
    let v = rpc(url, "eth_getBalance", json!([address, block])).await;
    match serde_json::from_value(v.clone()) {
        Ok(b) => b,
        Err(e) => panic!("eth_getBalance returned {v}: {e}"),
    }
}

/// Parses a `0x…` quantity; panics on anything else.
pub fn hex_u64(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .unwrap_or_else(|| panic!("expected a hex quantity, got {v}"))
}

/// Polls `check` until it returns `Some`, panicking with `what` after `timeout`.
/// Use this instead of fixed sleeps.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------
// The test token (tests/contracts/TestToken.sol)
// ---------------------------------------------------------------------------------

pub fn contract_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/contracts")
        .join(name)
}

pub fn selector(sig: &str) -> Vec<u8> {
    keccak256(sig.as_bytes())[..4].to_vec()
}

pub fn addr(s: &str) -> Address {
    s.parse().expect("address")
}

pub fn hex(bytes: &[u8]) -> String {
    alloy_primitives::hex::encode_prefixed(bytes)
}

/// Sends a transaction from an unlocked dev account and waits for its receipt.
pub async fn send(url: &str, from: &str, to: Option<Address>, data: Vec<u8>) -> Value {
    let mut tx = json!({"from": from, "data": hex(&data)});
    if let Some(to) = to {
        tx["to"] = json!(to);
    }
    let v = rpc(url, "eth_sendTransaction", json!([tx])).await;
    let hash = serde_json::from_value(v.clone()).expect("tx hash");
    let r = receipt(url, hash).await;
    assert_eq!(r["status"], "0x1", "transaction failed: {r}");
    r
}

/// A TestToken deployed, and one `transfer` of 5 units from DEV_ACCOUNTS[0] to
/// DEV_ACCOUNTS[1]: the token, and that transaction's receipt.
pub async fn token_and_transfer(url: &str) -> (Address, Value) {
    let token = deploy_token(url, "DTL", 1_000).await;
    let data = call_data(
        "transfer(address,uint256)",
        vec![
            DynSolValue::Address(addr(DEV_ACCOUNTS[1])),
            DynSolValue::Uint(U256::from(5u64), 256),
        ],
    );
    let receipt = send(url, DEV_ACCOUNTS[0], Some(token), data).await;
    (token, receipt)
}

/// Deploys TestToken(name, symbol, supply) from DEV_ACCOUNTS[0].
pub async fn deploy_token(url: &str, symbol: &str, supply: u64) -> Address {
    let bin = std::fs::read_to_string(contract_file("TestToken.bin")).expect("TestToken.bin");
    let mut code = alloy_primitives::hex::decode(bin.trim()).expect("bytecode hex");
    code.extend(
        DynSolValue::Tuple(vec![
            DynSolValue::String("Test Token".into()),
            DynSolValue::String(symbol.into()),
            DynSolValue::Uint(U256::from(supply), 256),
        ])
        .abi_encode_params(),
    );
    let r = send(url, DEV_ACCOUNTS[0], None, code).await;
    r["contractAddress"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("contractAddress")
}

pub fn call_data(sig: &str, args: Vec<DynSolValue>) -> Vec<u8> {
    let mut d = selector(sig);
    d.extend(DynSolValue::Tuple(args).abi_encode_params());
    d
}

// ---------------------------------------------------------------------------------
// The headless line schema (schemas/headless.schema.json)
// ---------------------------------------------------------------------------------

/// Checks one `--headless` line against the published JSON Schema; the error says
/// where it breaks it.
pub fn valid_line(line: &Value) -> Result<(), String> {
    static SCHEMA: std::sync::OnceLock<(boon::Schemas, boon::SchemaIndex)> =
        std::sync::OnceLock::new();
    let (schemas, index) = SCHEMA.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/headless.schema.json");
        let text = std::fs::read_to_string(&path).expect("schemas/headless.schema.json");
        let json: Value = serde_json::from_str(&text).expect("the schema is JSON");
        let id = json["$id"].as_str().expect("$id").to_string();
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.add_resource(&id, json).expect("schema resource");
        let index = compiler
            .compile(&id, &mut schemas)
            .expect("the schema compiles");
        (schemas, index)
    });
    schemas
        .validate(line, *index)
        .map_err(|e| format!("{e:#}\nline: {line}"))
}

// ---------------------------------------------------------------------------------
// Test servers' HTTP
// ---------------------------------------------------------------------------------

/// One HTTP/1.1 request read from `s`: its head (lower-cased) and its body, by its
/// `Content-Length`. Bytes past it stay in `buf` for the next request (keep-alive).
/// `None` at the end of the stream or on an error.
pub async fn read_http_request(
    s: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
) -> Option<(String, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf.drain(..head_end + len).skip(head_end).collect();
    Some((head, body))
}

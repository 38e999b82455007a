//! Runs `chaintop --headless` as a child process and reads its JSON lines, with
//! deadline-bound waits (never fixed sleeps). Include with `mod headless_child;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Headless {
    child: Child,
    lines: mpsc::Receiver<Result<Value, String>>,
    /// Every line read so far, in order.
    pub seen: Vec<Value>,
    _dir: tempfile::TempDir,
}

impl Headless {
    /// Start `chaintop [args…] --headless` with `config` written to a temp file.
    pub fn start(bin: &Path, config: &str, args: &[&str]) -> Self {
        Self::start_with_env(bin, config, args, &[])
    }

    /// `start`, with variables in the child's environment (for `${VAR}`s).
    pub fn start_with_env(bin: &Path, config: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.toml");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(config.as_bytes()))
            .expect("write config");
        let mut cmd = Command::new(bin);
        cmd.arg("--config").arg(&path).arg("--headless").args(args);
        cmd.envs(env.iter().copied());
        Self::spawn(cmd, dir)
    }

    /// Start a prepared command (e.g. `chaintop demo --headless`).
    pub fn spawn(mut cmd: Command, dir: tempfile::TempDir) -> Self {
        cmd.env("CHAINTOP_LOG_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn chaintop");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Checked against the published schema as it is read: every line of
                // every headless test, devnet or anvil.
                let v = serde_json::from_str::<Value>(&line)
                    .map_err(|e| format!("headless printed a non-JSON line {line:?}: {e}"))
                    .and_then(|v| crate::support::valid_line(&v).map(|()| v));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines: rx,
            seen: Vec::new(),
            _dir: dir,
        }
    }

    pub fn log_dir(&self) -> PathBuf {
        self._dir.path().to_path_buf()
    }

    /// Like `wait_for`, but a line already read also counts.
    pub fn saw_or_wait(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        self.wait_for(what, timeout, pred)
    }

    /// Read lines until `pred` matches one (returned) or `timeout` passes (panic).
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left).map(valid) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => {
                    let tail: Vec<String> = self
                        .seen
                        .iter()
                        .rev()
                        .take(15)
                        .map(|v| v.to_string())
                        .collect();
                    panic!(
                        "timed out after {timeout:?} waiting for {what}; last lines (newest first):\n{}",
                        tail.join("\n")
                    );
                }
            }
        }
    }

    /// Collect everything printed until the process exits on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            while let Ok(v) = self.lines.try_recv() {
                self.seen.push(valid(v));
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The reader thread may still hold the last lines.
                while let Ok(v) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(valid(v));
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "chaintop did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send a signal by name (e.g. "TERM", "INT").
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -{sig} failed");
    }

    /// Heads seen so far for one network, as (number, hash, parent_hash, source).
    pub fn heads(&self, network: &str) -> Vec<(u64, String, String, String)> {
        self.seen
            .iter()
            .filter(|v| v["type"] == "head" && v["network"] == network)
            .map(|v| {
                (
                    v["number"].as_u64().expect("number"),
                    v["hash"].as_str().expect("hash").to_string(),
                    v["parent_hash"].as_str().expect("parent").to_string(),
                    v["source"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

/// A line read, or the test fails with why it breaks the schema.
fn valid(line: Result<Value, String>) -> Value {
    line.unwrap_or_else(|e| panic!("{e}"))
}

impl Drop for Headless {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Heads must be consecutive and linked by parent hash (reorg lines reset the link).
pub fn assert_linked(h: &Headless, network: &str) {
    let mut prev: Option<(u64, String)> = None;
    for v in h.seen.iter().filter(|v| v["network"] == network) {
        match v["type"].as_str() {
            Some("reorg") => {
                let from = v["from_number"].as_u64().expect("from_number");
                prev = Some((from - 1, String::new()));
            }
            Some("head") => {
                let n = v["number"].as_u64().expect("number");
                let hash = v["hash"].as_str().expect("hash").to_string();
                let parent = v["parent_hash"].as_str().expect("parent");
                if let Some((pn, ph)) = &prev {
                    assert_eq!(n, pn + 1, "{network}: head {n} after {pn}");
                    if !ph.is_empty() {
                        assert_eq!(parent, ph, "{network}: head {n} parent does not link");
                    }
                }
                prev = Some((n, hash));
            }
            _ => {}
        }
    }
}

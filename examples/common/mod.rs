//! Measurement helpers shared by the `load` and `idle` examples: /proc readings,
//! percentiles, and the real `chaintop` binary run as a child under a pseudo-terminal.

#![allow(dead_code)] // each example uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

/// Clock ticks per second of /proc CPU times (USER_HZ; 100 on every Linux we run on).
const TICKS_PER_SEC: u64 = 100;

/// utime + stime of a process (`/proc/PID/stat`) or one of our threads
/// (`/proc/self/task/TID/stat`).
pub fn cpu_of_stat(path: &Path) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SEC))
}

/// CPU time of this process's threads whose name starts with (or, when `invert`,
/// does not start with) `prefix`.
pub fn threads_cpu(prefix: &str, invert: bool) -> Duration {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    dir.flatten()
        .filter(|e| {
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            comm.starts_with(prefix) != invert
        })
        .filter_map(|e| cpu_of_stat(&e.path().join("stat")))
        .sum()
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), or a counter such as
/// `voluntary_ctxt_switches`.
pub fn status_field(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Context switches of every thread of a process (the process-level `status` line only
/// counts its main thread).
pub fn ctxt_switches(pid: u32) -> (u64, u64) {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    dir.flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("status")).ok()?;
            let get = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            Some((
                get("voluntary_ctxt_switches")?,
                get("nonvoluntary_ctxt_switches")?,
            ))
        })
        .fold((0, 0), |(v, n), (a, b)| (v + a, n + b))
}

/// p-th percentile (0..=100) of unsorted samples, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn fmt_dur(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1000 {
        format!("{us}µs")
    } else {
        format!("{:.2}ms", d.as_secs_f64() * 1000.0)
    }
}

/// "n=… p50 … p90 … p99 … p99.9 … max …" of the samples.
pub fn summary(samples: &mut [Duration]) -> String {
    samples.sort_unstable();
    format!(
        "n={} p50 {} p90 {} p99 {} p99.9 {} max {}",
        samples.len(),
        fmt_dur(percentile(samples, 50.0)),
        fmt_dur(percentile(samples, 90.0)),
        fmt_dur(percentile(samples, 99.0)),
        fmt_dur(percentile(samples, 99.9)),
        fmt_dur(samples.last().copied().unwrap_or_default())
    )
}

/// The release (or debug) `chaintop` binary next to this example's directory.
pub fn chaintop_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("cannot locate the target directory from {}", exe.display()))?;
    let bin = dir.join("chaintop");
    if !bin.exists() {
        return Err(anyhow!(
            "{} not found: build it first (cargo build --release)",
            bin.display()
        ));
    }
    Ok(bin)
}

/// A config file for `chaintop` with the given (name, ws, http, chain id) networks and
/// `watches` addresses watched on every network.
pub fn write_config(
    path: &Path,
    networks: &[(String, String, String, u64)],
    watches: usize,
) -> anyhow::Result<()> {
    let mut text = String::from("theme = \"dark\"\n");
    for (name, ws, http, chain_id) in networks {
        text.push_str(&format!(
            "\n[[networks]]\nname = \"{name}\"\nws = \"{ws}\"\nhttp = \"{http}\"\nchain_id = {chain_id}\n"
        ));
    }
    for i in 0..watches {
        text.push_str(&format!(
            "\n[[watch]]\naddress = \"0x{:040x}\"\nlabel = \"acct-{i}\"\n",
            0x1000_0000_u64 + i as u64 * 7919
        ));
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The real binary's TUI under a pseudo-terminal of `cols` x `rows` (util-linux
/// `script`). A thread plays the terminal: it answers cursor-position queries (crossterm
/// asks once at start) and passes the screen output, stamped, to `screen` if given.
/// Returns the `script` child and the pid of chaintop itself once it has started.
pub fn spawn_tui(
    bin: &Path,
    args: &[String],
    cols: u16,
    rows: u16,
    screen: Option<std::sync::mpsc::Sender<(Instant, Vec<u8>)>>,
) -> anyhow::Result<(Child, u32)> {
    let cmd = format!(
        "stty cols {cols} rows {rows}; exec {} {}",
        bin.display(),
        args.join(" ")
    );
    let mut child = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("running `script` (util-linux) to give chaintop a terminal")?;
    let mut input = child.stdin.take().context("no pty input")?;
    let mut output = child.stdout.take().context("no pty output")?;
    std::thread::Builder::new()
        .name("pty-reader".into())
        .spawn(move || {
            use std::io::{Read, Write};
            let mut buf = [0u8; 65536];
            let mut tail = Vec::new();
            loop {
                let n = match output.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let at = Instant::now();
                // The query may straddle two reads.
                tail.extend_from_slice(&buf[..n]);
                let queries = tail.windows(4).filter(|w| w == b"\x1b[6n").count();
                for _ in 0..queries {
                    let _ = input.write_all(b"\x1b[1;1R");
                    let _ = input.flush();
                }
                let keep = tail.len().saturating_sub(3);
                tail.drain(..keep);
                if let Some(tx) = &screen {
                    let _ = tx.send((at, buf[..n].to_vec()));
                }
            }
        })?;
    let pid = find_descendant(child.id(), bin, Duration::from_secs(5))?;
    Ok((child, pid))
}

/// The pid of the process running `bin` below `root` (script → chaintop).
fn find_descendant(root: u32, bin: &Path, within: Duration) -> anyhow::Result<u32> {
    let deadline = Instant::now() + within;
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    while Instant::now() < deadline {
        for e in std::fs::read_dir("/proc")?.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            if comm.trim() != name || !has_ancestor(pid, root) {
                continue;
            }
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(anyhow!("chaintop did not start under script"))
}

fn has_ancestor(mut pid: u32, root: u32) -> bool {
    for _ in 0..8 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some(ppid) = stat
            .rfind(')')
            .and_then(|i| stat[i + 2..].split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok())
        else {
            return false;
        };
        if ppid == root {
            return true;
        }
        pid = ppid;
    }
    false
}

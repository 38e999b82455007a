//! Logs go through `tracing` to a file in the platform data dir, never to the
//! terminal (the TUI owns it; headless stdout is reserved for JSON lines).

use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Set up file logging. Returns the log file path, or `None` when no file could be
/// opened (logging is then off; the program still runs).
pub fn init() -> Option<PathBuf> {
    let dir = std::env::var_os("CHAINTOP_LOG_DIR")
        .map(PathBuf::from)
        .or_else(crate::config::data_dir)?;
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("chaintop.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let filter = EnvFilter::try_from_env("CHAINTOP_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .ok()?;
    Some(path)
}

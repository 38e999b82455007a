//! Logs go through `tracing` to a file in the platform data dir, never to the
//! terminal (the TUI owns it; headless stdout is reserved for JSON lines). Every line
//! passes through the redactor on its way to the file, whatever wrote it (ours, or a
//! dependency at `CHAINTOP_LOG=trace`), so no key reaches the log at any level.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::text::Redactor;

/// The log file, redacting each line written to it.
struct RedactedFile {
    file: Mutex<std::fs::File>,
    redactor: Arc<Redactor>,
}

/// One event's text, written to the file (redacted) when dropped.
struct Line<'a> {
    to: &'a RedactedFile,
    buf: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        let text = self.to.redactor.text(&String::from_utf8_lossy(&self.buf));
        if let Ok(mut f) = self.to.file.lock() {
            let _ = f.write_all(text.as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for RedactedFile {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            to: self,
            buf: Vec::with_capacity(256),
        }
    }
}

/// Set up file logging. Returns the log file path, or `None` when no file could be
/// opened (logging is then off; the program still runs).
pub fn init(redactor: Arc<Redactor>) -> Option<PathBuf> {
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
        .with_writer(RedactedFile {
            file: Mutex::new(file),
            redactor,
        })
        .try_init()
        .ok()?;
    Some(path)
}

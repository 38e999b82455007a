//! The real binary on a pseudo-terminal of its own, for tests that need a terminal.
//! Include with `mod pty;`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
pub const ENTER_ALT: &str = "\x1b[?1049h";
pub const LEAVE_ALT: &str = "\x1b[?1049l";
pub const SHOW_CURSOR: &str = "\x1b[?25h";

/// `chaintop demo` on a new pseudo-terminal, as its controlling terminal.
/// The pseudo-terminal's size.
const ROWS: u16 = 30;
const COLS: u16 = 100;

pub struct Pty {
    pub child: Child,
    /// Our end; writes are keys.
    pub master: std::fs::File,
    /// Kept open to read the terminal's mode.
    slave: OwnedFd,
    out: Arc<Mutex<Vec<u8>>>,
    /// `CHAINTOP_LOG_DIR` of the child (removed after it is killed).
    log: tempfile::TempDir,
}

impl Pty {
    /// `chaintop demo` (for a minute at most).
    pub fn demo() -> Pty {
        Self::spawn(&["demo", "--duration", "60"], &[])
    }

    /// `chaintop ARGS…` with these environment variables.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Pty {
        let (mut m, mut s) = (0, 0);
        let size = libc::winsize {
            ws_row: ROWS,
            ws_col: COLS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two fds into the given ints; the name and termios
        // pointers may be null.
        let rc = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both fds were just opened and are owned by nobody else.
        let (master, slave) = unsafe { (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        let log = tempfile::tempdir().expect("log dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chaintop"));
        cmd.args(args)
            .env("CHAINTOP_LOG_DIR", log.path())
            .env("TERM", "xterm-256color")
            .envs(envs.iter().copied());
        let stdio = || Stdio::from(slave.try_clone().expect("dup slave"));
        cmd.stdin(stdio()).stdout(stdio()).stderr(stdio());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn chaintop demo");
        let out: Arc<Mutex<Vec<u8>>> = Arc::default();
        let mut reader = master.try_clone().expect("dup master");
        let mut answer = master.try_clone().expect("dup master");
        std::thread::spawn({
            let out = out.clone();
            move || {
                let mut buf = [0u8; 8192];
                // The end of the previous read: a query may be split across two.
                let mut carry: Vec<u8> = Vec::new();
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    carry.extend_from_slice(&buf[..n]);
                    // A terminal answers the cursor-position query; so do we.
                    let asked = carry.windows(4).filter(|w| *w == b"\x1b[6n").count();
                    for _ in 0..asked {
                        let _ = answer.write_all(b"\x1b[1;1R");
                    }
                    let keep = carry.len().saturating_sub(3);
                    carry.drain(..keep);
                    if let Ok(mut o) = out.lock() {
                        o.extend_from_slice(&buf[..n]);
                    }
                }
            }
        });
        Pty {
            child,
            master,
            slave,
            out,
            log,
        }
    }

    /// The child's log file, as written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path().join("chaintop.log")).unwrap_or_default()
    }

    /// What the terminal shows now: the output so far, through a terminal emulator
    /// (the frames are drawn as differences, so the raw bytes hold no whole lines).
    pub fn screen(&self) -> String {
        let (Some(rows), Some(cols)) = (NonZeroU16::new(ROWS), NonZeroU16::new(COLS)) else {
            return String::new();
        };
        let mut vt = vt100::Parser::new(rows, cols, 0);
        vt.process(&self.out.lock().map(|o| o.clone()).unwrap_or_default());
        vt.screen().contents()
    }

    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().map(|o| o.clone()).unwrap_or_default())
            .into_owned()
    }

    pub fn wait_for(&self, what: &str, f: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + T;
        while !f(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; output tail: {:?}",
                self.output().chars().rev().take(300).collect::<String>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The terminal is raw: no line editing, no echo.
    pub fn raw(&self) -> bool {
        // SAFETY: termios is plain data; tcgetattr fills it from an open fd.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) };
        assert_eq!(rc, 0, "tcgetattr: {}", std::io::Error::last_os_error());
        t.c_lflag & (libc::ICANON | libc::ECHO) == 0
    }

    pub fn drawn(&self) -> bool {
        // The third network's column: shown at 80 columns, so the whole row is drawn.
        self.output().contains("sim-l2")
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    pub fn stopped(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('T')))
            .unwrap_or(false)
    }

    pub fn exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + T;
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st;
            }
            assert!(Instant::now() < deadline, "chaintop did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// After the last time the alternate screen was entered, it was left and the
    /// cursor shown.
    pub fn restored_on_screen(&self) -> bool {
        let out = self.output();
        let last_enter = out.rfind(ENTER_ALT).unwrap_or(0);
        let tail = &out[last_enter..];
        tail.contains(LEAVE_ALT) && tail.contains(SHOW_CURSOR)
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

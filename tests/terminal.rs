//! The real binary in a pseudo-terminal: every way out (quit, signals) and Ctrl-Z
//! give the terminal back as it was, and `fg` takes it again; without a terminal the
//! dashboard refuses with a clear message and writes no escape bytes.

mod support;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
const ENTER_ALT: &str = "\x1b[?1049h";
const LEAVE_ALT: &str = "\x1b[?1049l";
const SHOW_CURSOR: &str = "\x1b[?25h";

/// `chaintop demo` on a new pseudo-terminal, as its controlling terminal.
struct Pty {
    child: Child,
    /// Our end; writes are keys.
    master: std::fs::File,
    /// Kept open to read the terminal's mode.
    slave: OwnedFd,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn demo() -> Pty {
        let (mut m, mut s) = (0, 0);
        let size = libc::winsize {
            ws_row: 30,
            ws_col: 100,
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
        let mut cmd = Command::new(support::chaintop_bin());
        cmd.args(["demo", "--duration", "60"])
            .env("CHAINTOP_LOG_DIR", log.path())
            .env("TERM", "xterm-256color");
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
        std::mem::forget(log); // the child may still write there when we are done
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
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().map(|o| o.clone()).unwrap_or_default())
            .into_owned()
    }

    fn wait_for(&self, what: &str, f: impl Fn(&Self) -> bool) {
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
    fn raw(&self) -> bool {
        // SAFETY: termios is plain data; tcgetattr fills it from an open fd.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) };
        assert_eq!(rc, 0, "tcgetattr: {}", std::io::Error::last_os_error());
        t.c_lflag & (libc::ICANON | libc::ECHO) == 0
    }

    fn drawn(&self) -> bool {
        self.output().contains("sim-fast")
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    fn stopped(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('T')))
            .unwrap_or(false)
    }

    fn exit(&mut self) -> std::process::ExitStatus {
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
    fn restored_on_screen(&self) -> bool {
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

#[test]
fn terminating_signals_restore_the_terminal_and_exit_128_plus_n() {
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
        let mut p = Pty::demo();
        p.wait_for("the first frame", Pty::drawn);
        assert!(p.raw(), "the dashboard puts the terminal in raw mode");
        p.signal(sig);
        let st = p.exit();
        assert_eq!(st.code(), Some(128 + sig), "signal {sig}: {st:?}");
        assert!(!p.raw(), "signal {sig}: the terminal is cooked again");
        assert!(
            p.restored_on_screen(),
            "signal {sig}: alternate screen left, cursor shown"
        );
    }
}

#[test]
fn ctrl_z_and_sigtstp_hand_the_terminal_back_and_fg_takes_it_again() {
    let mut p = Pty::demo();
    p.wait_for("the first frame", Pty::drawn);
    // Ctrl-Z as a key (raw mode turns it into a byte, not a signal) ...
    p.master.write_all(&[0x1a]).expect("write ^Z");
    p.wait_for("stopped after ^Z", Pty::stopped);
    assert!(!p.raw(), "the shell gets a cooked terminal");
    assert!(p.restored_on_screen());
    let entered = p.output().matches(ENTER_ALT).count();
    p.signal(libc::SIGCONT);
    p.wait_for("back in the alternate screen", |p| {
        p.output().matches(ENTER_ALT).count() > entered && p.raw()
    });
    // ... and SIGTSTP from outside.
    p.signal(libc::SIGTSTP);
    p.wait_for("stopped after SIGTSTP", Pty::stopped);
    assert!(!p.raw());
    let before = p.output().len();
    p.signal(libc::SIGCONT);
    p.wait_for("raw again", Pty::raw);
    p.wait_for("redrawn after fg", |p| {
        p.output()
            .get(before..)
            .is_some_and(|s| s.contains("sim-fast"))
    });
    p.master.write_all(b"q").expect("write q");
    let st = p.exit();
    assert_eq!(st.code(), Some(0), "{st:?}");
    assert!(st.signal().is_none());
    assert!(!p.raw());
    assert!(p.restored_on_screen());
}

#[test]
fn without_a_terminal_the_dashboard_says_so_and_writes_no_escape_bytes() {
    let out = Command::new(support::chaintop_bin())
        .args(["demo", "--duration", "5"])
        .env("CHAINTOP_LOG_DIR", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stdout.contains(&0x1b), "escape bytes on stdout");
    assert!(!out.stderr.contains(&0x1b), "escape bytes on stderr");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a terminal") && err.contains("--headless"),
        "{err}"
    );
}

#[test]
fn headless_into_a_closed_pipe_exits_quietly() {
    let mut child = Command::new(support::chaintop_bin())
        .args(["demo", "--headless", "--duration", "20"])
        .env("CHAINTOP_LOG_DIR", std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // `| head -n 1`: read one line, then close the pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut byte = [0u8; 1];
    while stdout
        .read(&mut byte)
        .map(|n| n == 1 && byte[0] != b'\n')
        .unwrap_or(false)
    {}
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

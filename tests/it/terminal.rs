//! The real binary in a pseudo-terminal: every way out (quit, signals) and Ctrl-Z
//! give the terminal back as it was, and `fg` takes it again; without a terminal the
//! dashboard refuses with a clear message and writes no escape bytes; an alert for a
//! `tui` sink with `bell = true` rings the terminal's bell.

use crate::pty;
use crate::support;

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use pty::{ENTER_ALT, Pty};

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
            .is_some_and(|s| s.contains("sim-l2"))
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

#[test]
fn an_alert_for_a_tui_sink_with_the_bell_rings_it() {
    // Anvil without a block interval makes no blocks: the head stalls.
    let node = support::Anvil::builder().spawn();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[networks]]
name = "anvil"
ws = "{ws}"
http = "{http}"

[[sinks]]
name = "tui"
kind = "tui"
bell = true

[[alerts]]
name = "stalled"
kind = "head_stalled"
secs = 2
sinks = ["tui"]
"#,
            ws = node.ws_url(),
            http = node.http_url(),
        ),
    )
    .expect("write config");
    let config = config.display().to_string();
    let mut p = Pty::spawn(&["--config", &config, "--duration", "60"], &[]);
    p.wait_for("the first frame", |p| p.output().contains("anvil"));
    assert!(!p.output().contains('\x07'), "no bell before an alert");
    p.wait_for("the alert in the title", |p| {
        p.screen().contains("1 alert firing")
    });
    p.wait_for("the bell", |p| p.output().contains('\x07'));
    assert_eq!(p.output().matches('\x07').count(), 1, "one alert, one bell");
    p.signal(libc::SIGTERM);
    p.exit();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_on_a_head_shows_its_transaction_and_enter_again_its_receipt() {
    // Automine: one block per transaction, none between.
    let node = support::Anvil::builder().spawn();
    let url = node.http_url();
    let (token, receipt) = support::token_and_transfer(&url).await;
    let tx: alloy_primitives::B256 =
        serde_json::from_value(receipt["transactionHash"].clone()).expect("tx hash");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[networks]]\nname = \"anvil\"\nws = \"{}\"\nhttp = \"{}\"\ntokens = [\"{token}\"]\n",
            node.ws_url(),
            url
        ),
    )
    .expect("write config");
    let config = config.display().to_string();
    let mut p = Pty::spawn(&["--config", &config, "--duration", "60"], &[]);
    p.wait_for("the first head", |p| p.output().contains("txs"));
    // Focus the heads (the newest, the transfer's block, is selected) and open it.
    p.master.write_all(b"\t").expect("Tab");
    p.wait_for("the heads focused", |p| {
        p.output().contains("heads · anvil")
    });
    p.master.write_all(b"\r").expect("Enter");
    let short = chaintop::fmt::short_hash(&tx);
    p.wait_for("the block's transaction", |p| {
        let out = p.screen();
        out.contains(&short) && out.contains("transfer(address,uint256)")
    });
    p.master.write_all(b"\r").expect("Enter");
    p.wait_for("its receipt", |p| {
        let out = p.screen();
        out.contains(&tx.to_string()) && out.contains("success") && out.contains("Transfer")
    });
    // Esc: back to the block.
    p.master.write_all(b"\x1b").expect("Esc");
    p.wait_for("the block again", |p| {
        p.screen().contains(" block 2 · anvil ")
    });
    p.signal(libc::SIGTERM);
    p.exit();
}

/// The numbers in the rows of the heads pane on `screen`.
fn head_numbers(screen: &str) -> Vec<u64> {
    screen
        .lines()
        .skip_while(|l| !l.contains("number"))
        .skip(1)
        .filter_map(|l| l.split('│').nth(1))
        .filter_map(|c| c.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_digit() || c == ','))
        .filter_map(|w| w.replace(',', "").parse().ok())
        .collect()
}

/// The number in the first row of the heads pane on `screen`.
fn top_head(screen: &str) -> Option<u64> {
    let mut lines = screen.lines().skip_while(|l| !l.contains("number"));
    lines.next()?;
    let row = lines.next()?;
    let cell = row.split('│').nth(1)?;
    let digits: String = cell
        .split_whitespace()
        .find(|w| w.chars().any(|c| c.is_ascii_digit()))?
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn f_stops_the_heads_list_and_slash_filters_it() {
    let node = support::Anvil::builder().block_time(1.0).spawn();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[networks]]\nname = \"anvil\"\nws = \"{}\"\nhttp = \"{}\"\n",
            node.ws_url(),
            node.http_url()
        ),
    )
    .expect("write config");
    let config = config.display().to_string();
    let mut p = Pty::spawn(&["--config", &config, "--duration", "60"], &[]);
    p.wait_for("three heads", |p| {
        top_head(&p.screen()).is_some_and(|n| n >= 3)
    });
    p.master.write_all(b"\t").expect("Tab");
    p.master.write_all(b"f").expect("f");
    p.wait_for("frozen", |p| p.screen().contains("frozen · "));
    let top = top_head(&p.screen()).expect("a top row");
    p.wait_for("two heads come while frozen", |p| {
        p.screen().contains("frozen · 2 new")
    });
    assert_eq!(top_head(&p.screen()), Some(top), "the list did not move");
    // f again: it follows.
    p.master.write_all(b"f").expect("f");
    p.wait_for("the newest on top", |p| {
        let s = p.screen();
        !s.contains("frozen") && top_head(&s).is_some_and(|n| n >= top + 2)
    });
    // `/` and a number: only heads whose number starts with it.
    let wanted = top.to_string();
    p.master.write_all(b"/").expect("/");
    p.master.write_all(wanted.as_bytes()).expect("digits");
    p.master.write_all(b"\r").expect("Enter");
    p.wait_for("the filtered list", |p| {
        let screen = p.screen();
        let shown = head_numbers(&screen);
        screen.contains(&format!("/{wanted} "))
            && !shown.is_empty()
            && shown.iter().all(|n| n.to_string().starts_with(&wanted))
    });
    p.signal(libc::SIGTERM);
    p.exit();
}

/// A config for one anvil, with `extra` lines in its network table.
fn anvil_config(dir: &tempfile::TempDir, node: &support::Anvil, extra: &str) -> String {
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[networks]]\nname = \"anvil\"\nws = \"{}\"\nhttp = \"{}\"\n{extra}",
            node.ws_url(),
            node.http_url()
        ),
    )
    .expect("write config");
    config.display().to_string()
}

#[test]
fn a_click_selects_a_head_and_a_second_click_opens_its_block() {
    let node = support::Anvil::builder().block_time(1.0).spawn();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = anvil_config(&dir, &node, "");
    let mut p = Pty::spawn(&["--config", &config, "--duration", "60"], &[]);
    p.wait_for("three heads", |p| head_numbers(&p.screen()).len() >= 3);
    assert!(
        p.output().contains("\x1b[?1000h\x1b[?1006h"),
        "the mouse is asked for: clicks and the wheel, in SGR form"
    );
    // Frozen, so the rows stay where they were read.
    p.master.write_all(b"f").expect("f");
    p.wait_for("frozen", |p| p.screen().contains("frozen · "));
    let screen = p.screen();
    let wanted = head_numbers(&screen)[1];
    let (x, y) = screen
        .lines()
        .enumerate()
        .skip_while(|(_, l)| !l.contains("number"))
        .find_map(|(y, l)| {
            let cell = l.split('│').nth(1)?;
            cell.split_whitespace()
                .next()?
                .eq(&wanted.to_string())
                .then(|| {
                    let col = l.find(&wanted.to_string()).map(|b| l[..b].chars().count());
                    (col.unwrap_or(0), y)
                })
        })
        .expect("the second row on the screen");
    // SGR mouse: left button pressed at (x, y), 1-based.
    let press = format!("\x1b[<0;{};{}M\x1b[<0;{};{}m", x + 1, y + 1, x + 1, y + 1);
    p.master.write_all(press.as_bytes()).expect("click");
    p.wait_for("the heads focused", |p| {
        p.screen().contains("heads · anvil")
    });
    p.master.write_all(press.as_bytes()).expect("click again");
    p.wait_for("its block", |p| {
        p.screen().contains(&format!(" block {wanted} · anvil "))
    });
    p.signal(libc::SIGTERM);
    p.exit();
    let out = p.output();
    let off = out.rfind("\x1b[?1000l").expect("the mouse given back");
    assert!(
        off > out.rfind("\x1b[?1000h").unwrap_or(0),
        "given back after it was last taken"
    );
}

#[test]
fn explorer_links_are_osc8_and_no_links_turns_them_off() {
    let node = support::Anvil::builder().block_time(1.0).spawn();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = anvil_config(&dir, &node, "explorer = \"https://scan.example\"\n");
    let mut p = Pty::spawn(&["--config", &config, "--duration", "60"], &[]);
    p.wait_for("a head linked to its block", |p| {
        p.output().contains("\x1b]8;;https://scan.example/block/")
    });
    p.signal(libc::SIGTERM);
    p.exit();
    let mut p = Pty::spawn(
        &["--config", &config, "--duration", "60", "--no-links"],
        &[],
    );
    p.wait_for("two heads", |p| head_numbers(&p.screen()).len() >= 2);
    assert!(!p.output().contains("\x1b]8;;"), "--no-links: no OSC 8");
    p.signal(libc::SIGTERM);
    p.exit();
}

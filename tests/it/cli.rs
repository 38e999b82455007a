//! The command line says what is true: errors name what is wrong and what is known,
//! and `config check`, `config path` and a run agree with each other.

use std::process::{Command, Output};

fn chaintop(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaintop"))
        .args(args)
        .envs(envs.iter().copied())
        .env("CHAINTOP_LOG_DIR", std::env::temp_dir())
        .output()
        .expect("run chaintop")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn a_fault_for_an_unknown_network_is_an_error_naming_the_known_ones() {
    let o = chaintop(
        &[
            "demo",
            "--headless",
            "--duration",
            "1",
            "--fault",
            "5@stop-heads=40/sim-l3",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("sim-l3") && t.contains("sim-l1, sim-l2, sim-fast"),
        "{t}"
    );
    assert!(o.stdout.is_empty(), "nothing ran: {t}");
}

#[test]
fn config_check_fails_on_a_theme_a_run_cannot_load_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "theme = \"solarized\"\n[[networks]]\nname = \"a\"\nws = \"ws://127.0.0.1:9\"\n",
    )
    .expect("write");
    let p = path.to_string_lossy().to_string();
    let check = chaintop(
        &["--config", &p, "config", "check"],
        &[("HOME", &dir.path().to_string_lossy())],
    );
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    let t = text(&check);
    assert!(t.contains(&format!("{p}:1: key `theme`")), "{t}");
    assert!(t.contains("solarized") && t.contains("dark, light"), "{t}");
    assert_eq!(t.trim_end().lines().count(), 1, "one line: {t:?}");
}

#[test]
fn config_path_and_a_run_agree_about_a_missing_named_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.toml");
    let m = missing.to_string_lossy().to_string();
    let env = [("CHAINTOP_CONFIG", m.as_str())];
    let path = chaintop(&["config", "path"], &env);
    assert!(path.status.success());
    let said = text(&path);
    assert!(said.contains(&m) && said.contains("a run fails"), "{said}");
    assert!(!said.contains("built-in defaults are used"), "{said}");
    let run = chaintop(&["--headless", "--duration", "1"], &env);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        text(&run).contains("config file not found"),
        "{}",
        text(&run)
    );
}

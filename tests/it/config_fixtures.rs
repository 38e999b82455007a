//! Config fixtures: every `tests/fixtures/config/valid/*.toml` parses; every
//! `invalid/NAME.toml` fails with a message containing each line of `NAME.expected`.

use std::path::{Path, PathBuf};

use chaintop::config::{self, ConfigSource};

/// The only variable the fixtures may use; its value must never show in an error.
const SECRET: &str = "fixture-secret-4f1c9a";

fn env(name: &str) -> Option<String> {
    matches!(name, "PROVIDER_KEY" | "OTHER_KEY").then(|| SECRET.to_string())
}

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn valid_fixtures_parse() {
    let mut failures = Vec::new();
    for file in fixtures("valid") {
        match config::parse(&read(&file), &file, &env) {
            Ok(c) => assert_eq!(c.source, ConfigSource::File(file.clone())),
            Err(e) => failures.push(e.0),
        }
    }
    assert!(
        failures.is_empty(),
        "valid fixtures failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn invalid_fixtures_fail_with_located_messages() {
    let mut failures = Vec::new();
    for file in fixtures("invalid") {
        let expected_file = file.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_file).unwrap_or_default();
        let msg = match config::parse(&read(&file), &file, &env) {
            Ok(_) => {
                failures.push(format!("{}: parsed, but should fail", file.display()));
                continue;
            }
            Err(e) => e.0,
        };
        let prefix = format!("{}:", file.display());
        if !msg.starts_with(&prefix) {
            failures.push(format!("{msg}\n    does not start with {prefix:?}"));
        }
        if msg.contains(SECRET) {
            failures.push(format!(
                "{}: message leaks the secret: {msg}",
                file.display()
            ));
        }
        let wanted: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
        if wanted.is_empty() {
            failures.push(format!(
                "{}: missing or empty; message is:\n    {msg}",
                expected_file.display()
            ));
        }
        for w in wanted {
            if !msg.contains(w) {
                failures.push(format!("{msg}\n    lacks {w:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn template_and_example_parse() {
    let t = config::parse(config::TEMPLATE, Path::new("TEMPLATE"), &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.networks.len(), 3);

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/config.example.toml");
    let c = config::parse(&read(&example), &example, &|v| {
        Some(format!("value-of-{v}"))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.networks.is_empty());
    assert!(!c.watch.is_empty(), "the example should show a watch entry");
    let fallbacks = &c.networks[0].fallbacks;
    assert_eq!(fallbacks.len(), 1, "the example shows a fallback endpoint");
    assert_eq!(
        fallbacks[0].ws.as_deref(),
        Some("wss://eth.other-provider.example/ws/value-of-OTHER_KEY")
    );
    assert_eq!(c.networks[0].endpoints().len(), 2);
    assert_eq!(c.alerts.len(), 3, "the example shows alert rules");
    assert_eq!(
        c.networks[1].group.as_deref(),
        Some("mainnet"),
        "the example shows a chain group"
    );
    assert_eq!(c.sinks.len(), 1);
}

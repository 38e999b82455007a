use std::path::{Path, PathBuf};

use super::*;

const SECRET: &str = "s3cr3t-key-9f8e7d";

fn env(name: &str) -> Option<String> {
    match name {
        "KEY" => Some(SECRET.to_string()),
        "HOST" => Some("rpc.example.com".to_string()),
        "EMPTY" => Some(String::new()),
        // A whole URL from the environment, with a key in it and the wrong scheme.
        "BAD_URL" => Some(format!("https://rpc.example.com/{SECRET}")),
        "ADDR" => Some(format!("0x{SECRET}")),
        _ => None,
    }
}

fn ok(text: &str) -> Config {
    parse(text, Path::new("c.toml"), &env).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    match parse(text, Path::new("c.toml"), &env) {
        Ok(c) => panic!("parsed, but should fail: {c:?}"),
        Err(e) => {
            assert!(!e.0.contains(SECRET), "secret leaked: {e}");
            assert!(e.0.starts_with("c.toml:"), "no file:line: {e}");
            e.0
        }
    }
}

const WS: &str = "[[networks]]\nname = \"n\"\nws = \"wss://a.example\"\n";

#[test]
fn values_and_defaults() {
    let c = ok(r#"
[[networks]]
name = "main"
ws = "wss://a.example/ws"
http = "https://a.example"
chain_id = 1
explorer = "https://etherscan.io/"

[[networks]]
name = "other"
http = "https://b.example"
ping_interval_secs = 3
max_message_bytes = 2048
allow_insecure = true

[[watch]]
address = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"
label = "v"
networks = ["other", "other"]

[[watch]]
address = "0XD8DA6BF26964AF9D7EED9E03E53415D37AA96045"
label = "everywhere"
"#);
    assert_eq!(c.theme, "dark");
    assert_eq!(c.source, ConfigSource::File(PathBuf::from("c.toml")));
    assert!(c.secrets.is_empty());
    let main = &c.networks[0];
    assert_eq!(main.ws.as_deref(), Some("wss://a.example/ws"));
    assert_eq!(main.chain_id, Some(1));
    assert_eq!(main.explorer.as_deref(), Some("https://etherscan.io"));
    assert!(!main.allow_insecure);
    assert_eq!(main.ping_interval_secs, DEFAULT_PING_INTERVAL_SECS);
    assert_eq!(main.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
    let other = &c.networks[1];
    assert_eq!((other.ws.as_deref(), other.chain_id), (None, None));
    assert_eq!(
        (other.ping_interval_secs, other.max_message_bytes),
        (3, 2048)
    );
    assert!(other.allow_insecure);

    let vitalik: Address = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"
        .parse()
        .expect("literal");
    assert_eq!(c.watch[0].address, vitalik);
    assert_eq!(
        c.watch[0].networks,
        Some(vec!["other".to_string()]),
        "deduplicated"
    );
    assert!(!c.watch[0].applies_to("main") && c.watch[0].applies_to("other"));
    assert_eq!(c.watch[1].address, vitalik);
    assert_eq!(c.watch[1].networks, None);
    assert!(c.watch[1].applies_to("main"));
}

#[test]
fn interpolation_substitutes_and_records_secrets() {
    let c = ok(r#"
theme = "t-${HOST}"
[[networks]]
name = "n"
ws = "wss://${HOST}/ws/${KEY}?again=${KEY}"
http = "https://${HOST}/$${LITERAL}/$5/end$"
"#);
    assert_eq!(c.theme, "t-rpc.example.com");
    let n = &c.networks[0];
    assert_eq!(
        n.ws.as_deref(),
        Some(format!("wss://rpc.example.com/ws/{SECRET}?again={SECRET}").as_str())
    );
    assert_eq!(
        n.http.as_deref(),
        Some("https://rpc.example.com/${LITERAL}/$5/end$")
    );
    assert_eq!(
        c.secrets,
        vec!["rpc.example.com".to_string(), SECRET.to_string()]
    );
}

#[test]
fn interpolation_errors_name_the_variable_not_its_value() {
    let e = err("[[networks]]\nname = \"n\"\n\nws = \"wss://x/${NOPE}\"\n");
    assert!(e.starts_with("c.toml:4: key `networks[0].ws`: "), "{e}");
    assert!(e.contains("`NOPE`") && e.contains("not set"), "{e}");

    let e = err("[[networks]]\nname = \"n\"\nws = \"wss://x/${EMPTY}\"\n");
    assert!(e.contains("`EMPTY`") && e.contains("empty"), "{e}");

    let e = err("[[networks]]\nname = \"n\"\nws = \"wss://x/${1BAD}\"\n");
    assert!(e.contains("c.toml:3:") && e.contains("`${1BAD}`"), "{e}");

    // Values that came from the environment are never quoted back.
    let e = err("[[networks]]\nname = \"n\"\nws = \"${BAD_URL}\"\n");
    assert!(
        e.contains("scheme `https`") && e.contains("${BAD_URL}"),
        "{e}"
    );
    let e = err("[[networks]]\nname = \"n\"\nws = \"ws://${HOST}/${KEY}\"\n");
    assert!(e.contains("unencrypted"), "{e}");
    let e = err(&format!(
        "{WS}[[watch]]\naddress = \"${{ADDR}}\"\nlabel = \"x\"\n"
    ));
    assert!(
        e.contains("key `watch[0].address`") && e.contains("${ADDR}"),
        "{e}"
    );
    let e = err(&format!(
        "{WS}[[watch]]\naddress = \"0x0000000000000000000000000000000000000001\"\nlabel = \"x\"\nnetworks = [\"${{KEY}}\"]\n"
    ));
    assert!(e.contains("unknown network \"${KEY}\""), "{e}");
    let e = err("[[networks]]\nname = \"${KEY}\"\n");
    assert!(e.contains("network \"${KEY}\": expected a `ws`"), "{e}");
    let e = err(concat!(
        "[[networks]]\nname = \"${KEY}\"\nws = \"wss://a.example\"\n",
        "[[watch]]\naddress = \"0x0000000000000000000000000000000000000001\"\n",
        "label = \"x\"\nnetworks = [\"other\"]\n"
    ));
    assert!(e.contains("expected one of `${KEY}`"), "{e}");
}

#[test]
fn loopback_hosts_may_be_unencrypted_others_not() {
    for url in [
        "ws://127.0.0.1:8545",
        "ws://127.9.8.7",
        "ws://[::1]:8545",
        "ws://LocalHost:1",
    ] {
        ok(&format!("[[networks]]\nname = \"n\"\nws = \"{url}\"\n"));
    }
    for url in [
        "ws://10.0.0.1",
        "ws://localhost.evil.example",
        "ws://127.0.0.1.nip.io",
        "ws://[::2]",
    ] {
        let e = err(&format!("[[networks]]\nname = \"n\"\nws = \"{url}\"\n"));
        assert!(
            e.contains("c.toml:3: key `networks[0].ws`: refusing unencrypted ws://"),
            "{e}"
        );
    }
    let e = err("[[networks]]\nname = \"n\"\nhttp = \"http://rpc.example\"\n");
    assert!(
        e.contains("key `networks[0].http`") && e.contains("use https://"),
        "{e}"
    );
    ok("[[networks]]\nname = \"n\"\nhttp = \"http://rpc.example\"\nallow_insecure = true\n");
}

#[test]
fn url_shape_errors() {
    let e = err("[[networks]]\nname = \"n\"\nhttp = \"wss://a.example\"\n");
    assert!(
        e.contains("expected a https:// or http:// URL, found scheme `wss`"),
        "{e}"
    );
    let e = err("[[networks]]\nname = \"n\"\nws = \"not a url\"\n");
    assert!(
        e.contains("c.toml:3: key `networks[0].ws`: expected a URL"),
        "{e}"
    );
    let e = err(&format!("{WS}explorer = \"ftp://x.example\"\n"));
    assert!(e.contains("key `networks[0].explorer`"), "{e}");
    // A key pasted literally into the file is masked when the URL is quoted.
    let e = err(
        "[[networks]]\nname = \"n\"\nws = \"https://a.example/v2/9aa3d95b3bc440fa88ea12eaa4456161\"\n",
    );
    assert!(!e.contains("9aa3d95b3bc440fa88ea12eaa4456161"), "{e}");
}

#[test]
fn numeric_and_name_limits() {
    let e = err(&format!("{WS}max_message_bytes = 16\n"));
    assert!(e.contains("c.toml:4: key `networks[0].max_message_bytes`: expected a size in bytes of at least 1024, found 16"), "{e}");
    let e = err(&format!("{WS}chain_id = 0\n"));
    assert!(e.contains("key `networks[0].chain_id`"), "{e}");
    let e = err("[[networks]]\nname = \"  \"\nws = \"wss://a.example\"\n");
    assert!(
        e.contains("c.toml:2: key `networks[0].name`: expected a non-empty name"),
        "{e}"
    );
    let e = err(&format!(
        "{WS}[[watch]]\naddress = \"0x0000000000000000000000000000000000000001\"\nlabel = \"a\\u001b[31m\"\n"
    ));
    assert!(
        e.contains("key `watch[0].label`") && e.contains("control"),
        "{e}"
    );
    let e = err(&format!(
        "{WS}[[watch]]\naddress = \"0x0000000000000000000000000000000000000001\"\nlabel = \"a\"\nnetworks = []\n"
    ));
    assert!(
        e.contains("key `watch[0].networks`: expected at least one network name"),
        "{e}"
    );
}

#[test]
fn schema_errors_are_located() {
    let e = err(&format!(
        "{WS}[[watch]]\naddress = \"0x0000000000000000000000000000000000000001\"\nlabel = \"a\"\nnetworks = [\n  \"n\",\n  7,\n]\n"
    ));
    assert!(
        e.starts_with("c.toml:9: key `watch[0].networks`: expected a string, found an integer `7`"),
        "{e}"
    );
    let e = err(&format!("{WS}[[watch]]\nlabel = \"a\"\n"));
    assert!(
        e.starts_with("c.toml:4: key `watch[0].address`: missing required key"),
        "{e}"
    );
    // CRLF line ends count the same.
    let e = err("theme = \"dark\"\r\n\r\n[[networks]]\r\nname = 5\r\n");
    assert!(
        e.starts_with("c.toml:4: key `networks[0].name`: expected a string"),
        "{e}"
    );
    let e = err(
        "theme = \"dark\"\ntheme = \"light\"\n[[networks]]\nname = \"n\"\nws = \"wss://a.example\"\n",
    );
    assert!(e.starts_with("c.toml:2: key `theme`: invalid TOML"), "{e}");
    let e = err("[[networks]]\nname = \"n\"\nws = \"wss://a.example\"\n[colors]\nfg = 1\n");
    assert!(
        e.contains("c.toml:4:") && e.contains("unknown key") && e.contains("`colors`"),
        "{e}"
    );
}

#[test]
fn template_is_the_builtin_default() {
    let t = parse(TEMPLATE, Path::new("t"), &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let d = builtin_default();
    assert_eq!(d.source, ConfigSource::BuiltinDefault);
    assert_eq!(d.networks, t.networks);
    let ids: Vec<_> = d.networks.iter().map(|n| n.chain_id).collect();
    assert_eq!(ids, [Some(1), Some(8453), Some(42161)]);
    assert!(
        d.networks
            .iter()
            .all(|n| n.ws.as_deref().is_some_and(|u| u.starts_with("wss://")))
    );
    assert!(d.secrets.is_empty());
}

#[test]
fn lookup_order() {
    let none = |_: &str| None;
    let set = |k: &str| (k == CONFIG_ENV).then(|| "/env/c.toml".into());
    let empty = |k: &str| (k == CONFIG_ENV).then(std::ffi::OsString::new);
    let default = Some(PathBuf::from("/home/u/.config/chaintop/config.toml"));
    let cli = Path::new("/cli/c.toml");
    assert_eq!(
        lookup_path_with(Some(cli), &set, default.clone()),
        (cli.to_path_buf(), Origin::Cli)
    );
    assert_eq!(
        lookup_path_with(None, &set, default.clone()),
        (PathBuf::from("/env/c.toml"), Origin::Env)
    );
    assert_eq!(
        lookup_path_with(None, &empty, default.clone()).1,
        Origin::PlatformDefault
    );
    assert_eq!(
        lookup_path_with(None, &none, default.clone()),
        (
            PathBuf::from("/home/u/.config/chaintop/config.toml"),
            Origin::PlatformDefault
        )
    );
    assert_eq!(lookup_path_with(None, &none, None).1, Origin::NoHome);
    assert_eq!(Origin::NoHome.to_string(), "no home directory");
    assert_eq!(Origin::Env.to_string(), "CHAINTOP_CONFIG");
}

#[test]
fn load_reads_named_files_and_falls_back_only_for_the_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.toml");
    for why in [Origin::Cli, Origin::Env] {
        let e = load_with((missing.clone(), why), &env).expect_err("named file must exist");
        assert!(
            e.0.contains("missing.toml")
                && e.0.contains("not found")
                && e.0.contains(&why.to_string()),
            "{e}"
        );
    }
    let d = load_with((missing.clone(), Origin::PlatformDefault), &env).expect("builtin");
    assert_eq!(d.source, ConfigSource::BuiltinDefault);

    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        format!("{WS}http = \"https://a.example/${{KEY}}\"\n"),
    )
    .expect("write");
    let c = load_with((file.clone(), Origin::Cli), &env).expect("loads");
    assert_eq!(c.source, ConfigSource::File(file.clone()));
    assert_eq!(c.secrets, vec![SECRET.to_string()]);
    // A broken default file is an error, not a silent fallback.
    std::fs::write(&file, "theme = 1\n").expect("write");
    assert!(load_with((file, Origin::PlatformDefault), &env).is_err());
}

#[test]
fn init_writes_the_template_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a/b/config.toml");
    assert_eq!(init(&path), Ok(path.clone()));
    assert_eq!(std::fs::read_to_string(&path).expect("written"), TEMPLATE);
    std::fs::write(&path, "theme = \"mine\"\n").expect("write");
    let e = init(&path).expect_err("must not overwrite");
    assert!(
        e.0.contains("already exists") && e.0.contains("config.toml"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("kept"),
        "theme = \"mine\"\n"
    );
}

#[test]
fn tokens_contracts_events_and_views() {
    let c = ok(&format!(
        r#"{WS}tokens = ["0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"]

[[contracts]]
network = "n"
address = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
label = "token"
events = ["Transfer(address indexed from, address indexed to, uint256 value)", "event Transfer(address indexed a, address indexed b, uint256 c)"]
views = [
  {{ call = "totalSupply()(uint256)" }},
  {{ call = "balanceOf(address)(uint256)", args = ["0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"], every = 5 }},
]
"#
    ));
    let n = &c.networks[0];
    assert_eq!(n.tokens.len(), 1, "duplicate tokens (any case) are merged");
    let k = &n.contracts[0];
    assert_eq!(k.label, "token");
    assert_eq!(k.events.len(), 1, "the same event twice is kept once");
    assert_eq!(k.events[0].name, "Transfer");
    assert_eq!(k.views[0].every, 1);
    assert_eq!(k.views[0].calldata.as_ref(), [0x18, 0x16, 0x0d, 0xdd]);
    let v = &k.views[1];
    assert_eq!(v.every, 5);
    assert_eq!(v.calldata.len(), 4 + 32);
    assert_eq!(v.calldata[..4], [0x70, 0xa0, 0x82, 0x31]);
    assert_eq!(
        v.calldata[16..],
        alloy_primitives::hex!("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
    );

    let e = err(&format!(
        "{WS}\n[[contracts]]\nnetwork = \"n\"\naddress = \"0x5fbdb2315678afecb367f032d93f642f64180aa3\"\nlabel = \"t\"\n"
    ));
    assert!(
        e.contains("key `contracts[0]`") && e.contains("`events`, `abi` or `views`"),
        "{e}"
    );
    let e = err(&format!(
        "{WS}\n[[contracts]]\nnetwork = \"n\"\naddress = \"0x5fbdb2315678afecb367f032d93f642f64180aa3\"\nlabel = \"t\"\nviews = [{{ call = \"f(uint8)(uint256)\", args = [\"300\"] }}]\n"
    ));
    assert!(
        e.contains("c.toml:9: key `contracts[0].views[0].args`") && e.contains("uint8"),
        "{e}"
    );
}

#[test]
fn the_dashboard_sinks_and_their_bells() {
    let net = "[[networks]]\nname = \"m\"\nws = \"wss://x.example\"\n";
    // Without tables: the built-in `tui`, silent.
    assert_eq!(ok(net).tui_sinks(), vec![("tui".to_string(), false)]);
    let c = ok(&format!(
        "{net}[[sinks]]\nname = \"tui\"\nkind = \"tui\"\nbell = true\n\
         [[sinks]]\nname = \"quiet\"\nkind = \"tui\"\n\
         [[sinks]]\nname = \"desk\"\nkind = \"desktop\"\n"
    ));
    assert_eq!(
        c.tui_sinks(),
        vec![("tui".to_string(), true), ("quiet".to_string(), false)]
    );
    assert!(c.sinks.iter().any(|s| s.name == "desk"
        && s.kind
            == SinkKind::Desktop {
                timeout: std::time::Duration::from_secs(5)
            }));
}

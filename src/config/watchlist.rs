//! The runtime watch list: addresses added (`a`) or removed (`d`) in the dashboard,
//! kept in `watchlist.toml` in the platform data dir so they survive a restart. The
//! user's own config file is never rewritten; this list is merged over it at startup
//! with [`WatchList::apply`].

use std::path::{Path, PathBuf};

use alloy_primitives::Address;
use serde::Deserialize;

use super::{Config, ConfigError, WatchConfig, data_dir, parse_address};

/// File name of the watch list inside [`data_dir`].
pub const WATCHLIST_FILE: &str = "watchlist.toml";

/// Changes to the configured watch list made at runtime.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchList {
    /// Watched on every network, in the order added.
    pub added: Vec<(Address, String)>,
    /// Hidden even when the config file watches them.
    pub removed: Vec<Address>,
}

impl WatchList {
    /// Record an addition (undoing an earlier removal of the same address).
    pub fn add(&mut self, address: Address, label: impl Into<String>) {
        self.removed.retain(|a| *a != address);
        let label = label.into();
        match self.added.iter_mut().find(|(a, _)| *a == address) {
            Some(entry) => entry.1 = label,
            None => self.added.push((address, label)),
        }
    }

    /// Record a removal.
    pub fn remove(&mut self, address: Address) {
        self.added.retain(|(a, _)| *a != address);
        if !self.removed.contains(&address) {
            self.removed.push(address);
        }
    }

    /// Merge into a loaded config: removed addresses leave `config.watch`, added ones
    /// join it (on every network) unless the config already watches them.
    pub fn apply(&self, config: &mut Config) {
        config.watch.retain(|w| !self.removed.contains(&w.address));
        for (address, label) in &self.added {
            if !config.watch.iter().any(|w| w.address == *address) {
                config.watch.push(WatchConfig {
                    address: *address,
                    label: label.clone(),
                    networks: None,
                });
            }
        }
    }
}

/// Environment variable naming another watch-list file (tests, several profiles).
pub const WATCHLIST_ENV: &str = "CHAINTOP_WATCHLIST";

/// `$CHAINTOP_WATCHLIST`, else `<data dir>/watchlist.toml` if the platform has a
/// data dir.
pub fn watchlist_path() -> Option<PathBuf> {
    std::env::var_os(WATCHLIST_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| data_dir().map(|d| d.join(WATCHLIST_FILE)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    add: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    address: String,
    label: String,
}

/// Read the watch list; a missing file is an empty list.
pub fn load_watchlist(path: &Path) -> Result<WatchList, ConfigError> {
    let fail = |msg: String| ConfigError(format!("{}: {msg}", path.display()));
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WatchList::default()),
        Err(e) => return Err(fail(format!("cannot read the watch list: {e}"))),
    };
    let raw: RawList =
        toml::from_str(&text).map_err(|e| fail(format!("bad watch list: {}", e.message())))?;
    let mut list = WatchList::default();
    for a in &raw.remove {
        let address = parse_address(a).map_err(|m| fail(format!("remove: {m}, found {a:?}")))?;
        list.remove(address);
    }
    for e in &raw.add {
        let address = parse_address(&e.address)
            .map_err(|m| fail(format!("add: {m}, found {:?}", e.address)))?;
        let label = e.label.trim();
        if label.is_empty() || label.chars().any(char::is_control) {
            return Err(fail(format!("add: bad label {:?}", e.label)));
        }
        list.add(address, label);
    }
    Ok(list)
}

/// Write the watch list (creating its directory), replacing the file atomically.
pub fn save_watchlist(path: &Path, list: &WatchList) -> Result<(), ConfigError> {
    let fail = |what: &str, e: std::io::Error| {
        ConfigError(format!(
            "{}: cannot {what} the watch list: {e}",
            path.display()
        ))
    };
    // JSON string escapes are valid TOML basic-string escapes.
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let mut text = String::from(
        "# Written by chaintop: watch addresses added (a) or removed (d) in the dashboard.\n\
         # Merged over the config file at startup; the config file itself is never changed.\n",
    );
    text.push_str("remove = [");
    for (i, a) in list.removed.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(&quote(&a.to_checksum(None)));
    }
    text.push_str("]\n");
    for (a, label) in &list.added {
        text.push_str(&format!(
            "\n[[add]]\naddress = {}\nlabel = {}\n",
            quote(&a.to_checksum(None)),
            quote(label)
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail("create the directory of", e))?;
    }
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(|e| fail("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail("replace", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NetworkConfig;

    #[test]
    fn round_trips_and_merges_over_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join(WATCHLIST_FILE);
        assert_eq!(load_watchlist(&path), Ok(WatchList::default()));
        let (a, b, c) = (
            Address::repeat_byte(0xaa),
            Address::repeat_byte(0xbb),
            Address::repeat_byte(0xcc),
        );
        let mut list = WatchList::default();
        list.add(a, "quote \" and \\ and é");
        list.add(b, "bee");
        list.remove(b);
        list.remove(c);
        save_watchlist(&path, &list).expect("save");
        let back = load_watchlist(&path).expect("load");
        assert_eq!(back, list);
        assert_eq!(back.removed, vec![b, c]);

        let mut config = Config {
            watch: vec![WatchConfig {
                address: c,
                label: "from config".into(),
                networks: None,
            }],
            ..Config::with_networks(vec![NetworkConfig::new(
                "n",
                None,
                Some("http://127.0.0.1:1".into()),
            )])
        };
        back.apply(&mut config);
        let watched: Vec<Address> = config.watch.iter().map(|w| w.address).collect();
        assert_eq!(watched, vec![a], "c removed, a added, b added then removed");
    }

    #[test]
    fn bad_files_are_reported_with_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(WATCHLIST_FILE);
        std::fs::write(&path, "remove = [\"0x12\"]\n").expect("write");
        let e = load_watchlist(&path).expect_err("bad address");
        assert!(e.0.contains(WATCHLIST_FILE) && e.0.contains("0x12"), "{e}");
    }
}

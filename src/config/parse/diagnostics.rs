//! Turning toml/serde errors into `path:line: key `k`: message`, with the key found
//! from the error's position and a "did you mean" for a misspelt key.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use crate::config::ConfigError;

/// 1-based line number of a byte offset (config and theme files alike).
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Builds errors located in one file.
pub(super) struct Ctx<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) secrets: Vec<String>,
}

impl Ctx<'_> {
    pub(super) fn line(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    pub(super) fn err(
        &self,
        span: Range<usize>,
        key: &str,
        msg: impl std::fmt::Display,
    ) -> ConfigError {
        let line = self.line(span.start);
        ConfigError(format!(
            "{}:{line}: key `{key}`: {msg}",
            self.path.display()
        ))
    }
}

pub(super) fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rewrites a toml/serde error as `path:line: key `k`: message`. The key is found from
/// the error's position: the enclosing `[[table]]` and the `key =` it falls under.
pub(super) fn toml_error(cx: &Ctx<'_>, e: &toml::de::Error, prefix: &str) -> ConfigError {
    let offset = e.span().map_or(0, |s| s.start);
    let line = cx.line(offset);
    let msg = e.message().trim();
    let (section, key_on_line, on_header) = locate(cx.text, offset);
    let join = |k: &str| match &section {
        Some(s) => format!("{s}.{k}"),
        None => k.to_string(),
    };
    let (key, what) = if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (field, valid) = rest.split_once('`').unwrap_or((rest, ""));
        let valid: Vec<&str> = valid.split('`').skip(1).step_by(2).collect();
        let hint = closest(field, &valid)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        // On a `[table]` header line the unknown key is that table itself.
        let key = if on_header {
            field.to_string()
        } else {
            join(field)
        };
        (
            Some(key),
            format!("unknown key{hint}; valid keys here: {}", quote_list(&valid)),
        )
    } else if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        (Some(join(field)), "missing required key".to_string())
    } else if let Some(rest) = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))
    {
        let what = match rest.rsplit_once(", expected ") {
            Some((found, expected)) => {
                let article = if found.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                format!("expected {}, found {article} {found}", friendly(expected))
            }
            None => rest.to_string(),
        };
        (key_on_line.map(|k| join(&k)), what)
    } else {
        (key_on_line.map(|k| join(&k)).or(section), msg.to_string())
    };
    let path = cx.path.display();
    match key {
        Some(k) => ConfigError(format!("{path}:{line}: key `{k}`: {prefix}{what}")),
        None => ConfigError(format!("{path}:{line}: {prefix}{what}")),
    }
}

pub(super) fn friendly(expected: &str) -> &str {
    match expected {
        "u64" | "usize" | "u32" | "u16" => "a non-negative integer",
        "a boolean" => "a boolean (true or false)",
        "a sequence" => "an array",
        other => other,
    }
}

/// Section (`networks[1]`; None at top level) and key of the assignment containing
/// `offset`, read from the source lines, and whether `offset` is on a table header.
pub(super) fn locate(text: &str, offset: usize) -> (Option<String>, Option<String>, bool) {
    let mut on_header = false;
    let mut section = None;
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut key = None;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if start > offset {
            break;
        }
        start += line.len();
        let t = line.trim_start();
        on_header = t.starts_with('[');
        if let Some(name) = t
            .strip_prefix("[[")
            .and_then(|r| r.split_once("]]"))
            .map(|(n, _)| n.trim())
        {
            let n = counts.entry(name.to_string()).or_insert(0);
            section = Some(format!("{name}[{n}]"));
            *n += 1;
            key = None;
        } else if let Some(name) = t
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map(|(n, _)| n.trim())
        {
            section = Some(name.to_string());
            key = None;
        } else if let Some((k, _)) = t.split_once('=') {
            let k = k.trim();
            if !k.is_empty()
                && !k.starts_with('#')
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.\"'".contains(c))
            {
                key = Some(k.trim_matches(['"', '\'']).to_string());
            }
        }
    }
    (section, key, on_header)
}

/// The valid key nearest to a misspelt one, if it is close.
pub(super) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

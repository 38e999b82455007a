//! Text hygiene for anything that reaches the terminal, logs or JSON output:
//! `sanitize` escapes control, ANSI/OSC and bidi characters from untrusted text;
//! `Redactor` hides API keys in URLs and messages.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters that must never be interpreted by the terminal.
fn is_dangerous(c: char) -> bool {
    c.is_control()
        // bidirectional overrides, embeddings and isolates, and marks
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
        // zero-width and line/paragraph separators
        || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// Escape untrusted text (from a chain or a node) so it is shown, never interpreted:
/// ESC becomes `\x1b`, other controls `\xNN`, bidi and invisible characters `\u{NNNN}`.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_dangerous) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_dangerous(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

const MASK: &str = "***";

/// Hides secrets in URLs and in free text (error messages that may quote a URL).
///
/// It knows the values substituted for `${VAR}` in the config (all treated as secrets)
/// and, without them, still masks URL userinfo, query values and key-like path segments.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// Mask known secrets anywhere in `text`, then key-like parts of any URL in it.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        // Mask URLs embedded in messages too (reqwest and tungstenite errors quote them).
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(pos) = find_url_start(rest) {
            result.push_str(&rest[..pos]);
            let tail = &rest[pos..];
            let end = tail
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '>' | '<'))
                .unwrap_or(tail.len());
            result.push_str(&redact_url(&tail[..end]));
            rest = &tail[end..];
        }
        result.push_str(rest);
        result
    }

    /// A URL for display: known secrets, userinfo, query values and key-like path segments masked.
    pub fn url(&self, url: &str) -> String {
        self.text(url)
    }
}

fn find_url_start(s: &str) -> Option<usize> {
    ["wss://", "ws://", "https://", "http://"]
        .iter()
        .filter_map(|p| s.find(p))
        .min()
}

/// Does a path segment look like an API key (long, mostly alphanumeric, with digits)?
fn looks_like_key(seg: &str) -> bool {
    let len = seg.len();
    if len < 16 {
        return false;
    }
    let alnum = seg.chars().filter(|c| c.is_ascii_alphanumeric()).count();
    let digits = seg.chars().filter(|c| c.is_ascii_digit()).count();
    alnum * 10 >= len * 9 && digits >= 2
}

/// Redact one URL without knowing any secret.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rfind('@') {
        Some(i) => format!("{MASK}@{}", &authority[i + 1..]),
        None => authority.to_string(),
    };
    let (path, query) = match path.find('?') {
        Some(i) => (&path[..i], Some(&path[i + 1..])),
        None => (path, None),
    };
    let path: Vec<&str> = path
        .split('/')
        .map(|seg| if looks_like_key(seg) { MASK } else { seg })
        .collect();
    let mut out = format!("{scheme}{authority}{}", path.join("/"));
    if let Some(q) = query {
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) => format!("{k}={MASK}"),
                None => kv.to_string(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_ansi_osc_and_bidi() {
        let evil = "USD\x1b[31mC\x1b]8;;http://x\x07link\u{202E}gnp.exe\r\n";
        let s = sanitize(evil);
        assert!(!s.chars().any(is_dangerous), "{s}");
        assert_eq!(
            s,
            "USD\\x1b[31mC\\x1b]8;;http://x\\x07link\\u{202e}gnp.exe\\x0d\\x0a"
        );
        assert!(matches!(sanitize("plain ok ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn redacts_keys_in_urls() {
        assert_eq!(
            redact_url("wss://mainnet.infura.io/ws/v3/9aa3d95b3bc440fa88ea12eaa4456161"),
            "wss://mainnet.infura.io/ws/v3/***"
        );
        assert_eq!(
            redact_url("https://user:pass@host.example/rpc?apikey=abc&x=1"),
            "https://***@host.example/rpc?apikey=***&x=***"
        );
        assert_eq!(redact_url("ws://127.0.0.1:8545"), "ws://127.0.0.1:8545");
        assert_eq!(
            redact_url("https://eth.llamarpc.com"),
            "https://eth.llamarpc.com"
        );
    }

    #[test]
    fn redacts_known_secrets_in_messages() {
        let r = Redactor::new(vec!["s3cr3t-Key".to_string()]);
        let msg = "error sending request for url (wss://p.example/ws/s3cr3t-Key): refused";
        let out = r.text(msg);
        assert!(!out.contains("s3cr3t"), "{out}");
        assert!(out.contains("wss://p.example/ws/***"), "{out}");
    }
}

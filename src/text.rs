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

/// Hides secrets in URLs and in free text.
///
/// An endpoint is shown as `scheme://host[:port]`, its path and query as `/…`:
/// providers put keys there in too many shapes for any "looks like a key" rule to
/// be safe. Free text (errors, close reasons, server answers, log lines) has every
/// known secret masked: the values substituted for `${VAR}`, and the path, path
/// segments, query values and userinfo of every configured URL; URLs inside it are
/// shown like endpoints.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Values substituted for `${VAR}`: masked everywhere, always.
    vars: Vec<String>,
    /// Those and the key-holding parts of configured URLs: masked in free text.
    all: Vec<String>,
}

/// Secrets worth masking, longest first (so one containing another is masked
/// whole); shorter than 4 characters are left: masking them would mangle ordinary
/// words and numbers.
fn secret_list(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = values.into_iter().filter(|s| s.len() >= 4).collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v.dedup();
    v
}

fn mask_all(mut text: String, secrets: &[String]) -> String {
    for s in secrets {
        if text.contains(s.as_str()) {
            text = text.replace(s.as_str(), MASK);
        }
    }
    text
}

impl Redactor {
    /// A redactor for these `${VAR}` values.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Self::with_urls(secrets, [])
    }

    /// A redactor for these `${VAR}` values and the secret parts of these URLs.
    pub fn with_urls<'a>(
        secrets: impl IntoIterator<Item = String>,
        urls: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let vars = secret_list(secrets);
        let all = secret_list(
            vars.iter()
                .cloned()
                .chain(urls.into_iter().flat_map(url_secrets)),
        );
        Self { vars, all }
    }

    /// Mask known secrets anywhere in `text`, and show URLs in it like endpoints.
    pub fn text(&self, text: &str) -> String {
        let out = mask_all(text.to_string(), &self.all);
        // URLs embedded in messages too (reqwest and tungstenite errors quote them).
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

    /// An endpoint for display: `scheme://host[:port]`, with `/…` for whatever follows.
    pub fn url(&self, url: &str) -> String {
        redact_url(url)
    }

    /// An endpoint with its path, for a network that asked for it
    /// (`show_url_path = true`): known secrets, userinfo and query values are still
    /// masked, but a key written literally in the path is shown.
    pub fn url_with_path(&self, url: &str) -> String {
        mask_userinfo_and_query(&mask_all(url.to_string(), &self.vars))
    }
}

fn find_url_start(s: &str) -> Option<usize> {
    ["wss://", "ws://", "https://", "http://"]
        .iter()
        .filter_map(|p| s.find(p))
        .min()
}

/// (scheme://, authority, the rest after the authority).
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let scheme_end = url.find("://")?;
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    Some((scheme, authority, tail))
}

/// The parts of a URL that can hold a key: userinfo, the path, its segments, query
/// values. Path segments that are ordinary words (short, letters only) are left out
/// of free-text masking; the whole path is always in.
pub fn url_secrets(url: &str) -> Vec<String> {
    let Some((_, authority, tail)) = split_url(url) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        out.push(userinfo.to_string());
        out.extend(userinfo.split(':').map(str::to_string));
    }
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let path = path.split('#').next().unwrap_or("");
    if path.len() > 1 {
        out.push(path.to_string());
        out.push(path.trim_matches('/').to_string());
    }
    for seg in path.split('/') {
        let wordlike = seg.len() < 8 && seg.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        if seg.len() >= 4 && !wordlike {
            out.push(seg.to_string());
        }
    }
    for kv in query.unwrap_or("").split('&') {
        if let Some((_, v)) = kv.split_once('=') {
            out.push(v.split('#').next().unwrap_or("").to_string());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn mask_userinfo_and_query(url: &str) -> String {
    let Some((scheme, authority, tail)) = split_url(url) else {
        return url.to_string();
    };
    let authority = match authority.rfind('@') {
        Some(i) => format!("{MASK}@{}", &authority[i + 1..]),
        None => authority.to_string(),
    };
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let mut out = format!("{scheme}{authority}{path}");
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

/// An endpoint for display without knowing any secret: `scheme://host[:port]`, and
/// `/…` when a path or query follows. Userinfo (`user:key@`) is masked.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, authority, tail)) = split_url(url) else {
        return url.to_string();
    };
    let host = match authority.rfind('@') {
        Some(i) => format!("{MASK}@{}", &authority[i + 1..]),
        None => authority.to_string(),
    };
    let more = if tail.is_empty() || tail == "/" {
        ""
    } else {
        "/…"
    };
    format!("{scheme}{host}{more}")
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
    fn endpoints_show_scheme_host_and_port_only() {
        for (url, shown) in [
            (
                "wss://mainnet.infura.io/ws/v3/9aa3d95b3bc440fa88ea12eaa4456161",
                "wss://mainnet.infura.io/…",
            ),
            (
                "wss://x.example/v3/7a3e9c1d-0f2b-4c1e-9d3a-1b2c3d4e5f60",
                "wss://x.example/…",
            ),
            ("https://rpc.example/abc12/", "https://rpc.example/…"),
            (
                "https://node.example/?apikey=short",
                "https://node.example/…",
            ),
            (
                "https://user:pass@host.example:8443/rpc?apikey=abc&x=1",
                "https://***@host.example:8443/…",
            ),
            ("ws://127.0.0.1:8545", "ws://127.0.0.1:8545"),
            ("https://eth.llamarpc.com/", "https://eth.llamarpc.com"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn server_text_loses_every_part_of_a_configured_url_that_can_hold_a_key() {
        let uuid = "7a3e9c1d-0f2b-4c1e-9d3a-1b2c3d4e5f60";
        let r = Redactor::with_urls(
            vec!["s3cr3t-Key".to_string()],
            [
                format!("wss://x.example/v3/{uuid}").as_str(),
                "https://bob:hunter22@y.example/rpc/k3y9?apikey=tiny1",
                "wss://z.example/mainnet/ws",
            ],
        );
        let echoed = format!(
            "invalid project id {uuid}; user bob pw hunter22 key k3y9 apikey tiny1, s3cr3t-Key on mainnet"
        );
        let out = r.text(&echoed);
        for leak in [uuid, "hunter22", "k3y9", "tiny1", "s3cr3t"] {
            assert!(!out.contains(leak), "{leak} in {out}");
        }
        assert!(out.contains("on mainnet"), "ordinary words stay: {out}");
        let out = r.text("error sending request for url (wss://p.example/ws/zzzz): refused");
        assert!(out.contains("(wss://p.example/…)"), "{out}");
        // Asked for, the path is shown; still no userinfo or query values.
        assert_eq!(
            r.url_with_path("https://bob:hunter22@y.example/rpc/k3y9?apikey=tiny1"),
            "https://***@y.example/rpc/k3y9?apikey=***"
        );
    }
}

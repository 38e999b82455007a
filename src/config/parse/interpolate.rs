//! `${VAR}` interpolation, which remembers every substituted value as a secret to
//! redact.

use toml::Spanned;

use super::diagnostics::Ctx;
use crate::config::ConfigError;

impl Ctx<'_> {
    /// Substitutes `${VAR}`s in a string value; `$${` is a literal `${`.
    pub(super) fn interpolate(
        &mut self,
        s: &Spanned<String>,
        key: &str,
    ) -> Result<String, ConfigError> {
        let raw = s.get_ref();
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw.as_str();
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let Some(end) = after.find('}') else {
                    return Err(self.err(
                        s.span(),
                        key,
                        "unterminated `${` (write `$${` for a literal `${`)",
                    ));
                };
                let name = &after[..end];
                if !is_var_name(name) {
                    return Err(self.err(
                        s.span(),
                        key,
                        format_args!(
                            "`${{{name}}}`: expected an environment variable name \
                             (letters, digits, `_`)"
                        ),
                    ));
                }
                match (self.env)(name) {
                    None => {
                        return Err(self.err(
                            s.span(),
                            key,
                            format_args!(
                                "environment variable `{name}` (from `${{{name}}}`) is not set"
                            ),
                        ));
                    }
                    Some(v) if v.is_empty() => {
                        return Err(self.err(
                            s.span(),
                            key,
                            format_args!(
                                "environment variable `{name}` (from `${{{name}}}`) is empty"
                            ),
                        ));
                    }
                    Some(v) => {
                        out.push_str(&v);
                        if !self.secrets.contains(&v) {
                            self.secrets.push(v);
                        }
                    }
                }
                rest = &after[end + 1..];
            } else {
                out.push('$');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

pub(super) fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

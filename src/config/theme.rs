//! Theme files: flat `key = "#rrggbb"` TOML, built in (`themes/*.toml`) or in the
//! user's themes directory. This reads and checks them; `ui::Theme` turns the
//! colours into styles.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::parse::line_of;

const BUILTINS: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
];

/// Every key a theme file must define, in the order of `themes/dark.toml`.
pub const KEYS: &[&str] = &[
    "text",
    "dim",
    "border",
    "border_selected",
    "border_focused",
    "title",
    "title_focused",
    "title_bar",
    "key",
    "selected_fg",
    "selected_bg",
    "up",
    "down",
    "warn",
    "error",
    "sparkline",
    "live",
    "connecting",
    "reconnecting",
    "stalled",
    "polling",
    "failed",
];

/// A colour of a theme file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// A checked theme file: a colour for every key of [`KEYS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeFile {
    colors: BTreeMap<&'static str, Rgb>,
}

impl ThemeFile {
    /// The colour of `key` (one of [`KEYS`]; black for any other).
    pub fn color(&self, key: &str) -> Rgb {
        self.colors.get(key).copied().unwrap_or(Rgb(0, 0, 0))
    }
}

/// Why a theme cannot be used. The texts name the file, the line and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThemeError {
    /// A name that would leave the themes directory.
    InvalidName {
        name: String,
    },
    /// Not built in, and there is no themes directory to look in.
    Unknown {
        name: String,
    },
    Unreadable {
        name: String,
        path: PathBuf,
        error: String,
    },
    /// Not TOML (`line` when TOML says where).
    Syntax {
        origin: String,
        line: Option<usize>,
        message: String,
    },
    UnknownKey {
        origin: String,
        line: usize,
        key: String,
    },
    BadColor {
        origin: String,
        line: usize,
        key: String,
    },
    MissingKey {
        origin: String,
        key: &'static str,
    },
}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let builtins = builtin_names().join(", ");
        match self {
            Self::InvalidName { name } => {
                write!(
                    f,
                    "invalid theme name {name:?} (built-in themes: {builtins})"
                )
            }
            Self::Unknown { name } => {
                write!(f, "unknown theme {name:?} (built-in themes: {builtins})")
            }
            Self::Unreadable { name, path, error } => write!(
                f,
                "theme {name:?}: cannot read {}: {error} (built-in themes: {builtins})",
                path.display()
            ),
            Self::Syntax {
                origin,
                line: Some(line),
                message,
            } => write!(f, "{origin}:{line}: {message}"),
            Self::Syntax {
                origin,
                line: None,
                message,
            } => write!(f, "{origin}: {message}"),
            Self::UnknownKey { origin, line, key } => write!(
                f,
                "{origin}:{line}: unknown key `{key}` (known keys: {})",
                KEYS.join(", ")
            ),
            Self::BadColor { origin, line, key } => write!(
                f,
                "{origin}:{line}: key `{key}`: expected a colour like \"#rrggbb\""
            ),
            Self::MissingKey { origin, key } => write!(f, "{origin}: missing key `{key}`"),
        }
    }
}

impl std::error::Error for ThemeError {}

/// Names of the themes compiled into the binary.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(name, _)| *name).collect()
}

/// A theme compiled into the binary (`dark`, `light`).
pub fn builtin(name: &str) -> Option<ThemeFile> {
    let (_, text) = BUILTINS.iter().find(|(n, _)| *n == name)?;
    // Built-ins are checked by a unit test, so this cannot fail at run time.
    parse(text, &format!("themes/{name}.toml")).ok()
}

/// A built-in theme by name, else `<user_dir>/<name>.toml` (so a user file cannot
/// shadow a built-in; pick another name).
pub fn load(name: &str, user_dir: Option<&Path>) -> Result<ThemeFile, ThemeError> {
    if let Some(theme) = builtin(name) {
        return Ok(theme);
    }
    // The name comes from the config file; keep it from escaping the themes directory.
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
        return Err(ThemeError::InvalidName { name: name.into() });
    }
    let Some(dir) = user_dir else {
        return Err(ThemeError::Unknown { name: name.into() });
    };
    let path = dir.join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).map_err(|e| ThemeError::Unreadable {
        name: name.into(),
        path: path.clone(),
        error: e.to_string(),
    })?;
    parse(&text, &path.display().to_string())
}

/// Parse a flat theme file. `origin` names the file in error messages
/// (`origin:line: key \`name\`: problem`).
pub fn parse(text: &str, origin: &str) -> Result<ThemeFile, ThemeError> {
    let map: BTreeMap<Spanned<String>, Spanned<toml::Value>> =
        toml::from_str(text).map_err(|e| ThemeError::Syntax {
            origin: origin.into(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().into(),
        })?;
    let mut colors = BTreeMap::new();
    for (key, value) in &map {
        let line = line_of(text, key.span().start);
        let key_name = key.get_ref().as_str();
        let Some(known) = KEYS.iter().find(|k| **k == key_name) else {
            return Err(ThemeError::UnknownKey {
                origin: origin.into(),
                line,
                key: key_name.into(),
            });
        };
        let color = value
            .get_ref()
            .as_str()
            .and_then(parse_hex)
            .ok_or_else(|| ThemeError::BadColor {
                origin: origin.into(),
                line,
                key: key_name.into(),
            })?;
        colors.insert(*known, color);
    }
    if let Some(missing) = KEYS.iter().find(|k| !colors.contains_key(**k)) {
        return Err(ThemeError::MissingKey {
            origin: origin.into(),
            key: missing,
        });
    }
    Ok(ThemeFile { colors })
}

fn parse_hex(s: &str) -> Option<Rgb> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = u32::from_str_radix(hex, 16).ok()?;
    Some(Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_differ() {
        assert_eq!(builtin_names(), vec!["dark", "light"]);
        for (name, text) in BUILTINS {
            parse(text, name).unwrap();
        }
        assert_ne!(builtin("dark"), builtin("light"));
        assert!(builtin("nope").is_none());
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let dark = BUILTINS[0].1;
        let bad_value = dark.replace("up = \"#87d787\"", "up = \"green\"");
        let line = bad_value
            .lines()
            .position(|l| l.starts_with("up ="))
            .unwrap()
            + 1;
        assert_eq!(
            parse(&bad_value, "my.toml").unwrap_err().to_string(),
            format!("my.toml:{line}: key `up`: expected a colour like \"#rrggbb\"")
        );

        let unknown = format!("{dark}\nbackground = \"#000000\"\n");
        let err = parse(&unknown, "my.toml").unwrap_err().to_string();
        let line = unknown.lines().count();
        assert!(
            err.starts_with(&format!("my.toml:{line}: unknown key `background`")),
            "{err}"
        );

        let missing = dark.replace("sparkline = \"#5fafd7\"", "");
        assert_eq!(
            parse(&missing, "my.toml").unwrap_err().to_string(),
            "my.toml: missing key `sparkline`"
        );

        let syntax = "text = \"#ffffff\"\ndim = \n";
        let err = parse(syntax, "my.toml").unwrap_err().to_string();
        assert!(err.starts_with("my.toml:2: "), "{err}");
    }

    #[test]
    fn load_reads_user_dir_and_rejects_traversal() {
        let dir = tempfile::tempdir().unwrap();
        let light = BUILTINS[1].1;
        std::fs::write(dir.path().join("mine.toml"), light).unwrap();
        assert_eq!(
            load("mine", Some(dir.path())),
            Ok(builtin("light").unwrap())
        );
        assert_eq!(load("dark", None), Ok(builtin("dark").unwrap()));
        let err = load("absent", Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("absent.toml"), "{err}");
        assert!(matches!(
            load("../mine", Some(dir.path())),
            Err(ThemeError::InvalidName { .. })
        ));
        assert!(
            load("absent", None)
                .unwrap_err()
                .to_string()
                .contains("unknown theme")
        );
    }
}

//! Semantic styles for the panes, built from flat `key = "#rrggbb"` theme files.
//!
//! Panes ask for meanings (`block(focused)`, `up()`, `state(&conn)`), never colours,
//! so a theme file or `NO_COLOR` changes every pane consistently.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use toml::Spanned;

use crate::event::ConnState;

const BUILTINS: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
];

/// Every key a theme file must define, in the order of `themes/dark.toml`.
const KEYS: &[&str] = &[
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

/// Styles by meaning. Build with [`Theme::builtin`], [`Theme::load`] or [`Theme::no_color`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    text: Style,
    dim: Style,
    border: Style,
    border_selected: Style,
    border_focused: Style,
    title: Style,
    title_focused: Style,
    title_bar: Style,
    key: Style,
    selected: Style,
    up: Style,
    down: Style,
    warn: Style,
    error: Style,
    sparkline: Style,
    live: Style,
    connecting: Style,
    reconnecting: Style,
    stalled: Style,
    polling: Style,
    failed: Style,
}

impl Theme {
    /// Names of the themes compiled into the binary.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTINS.iter().map(|(name, _)| *name).collect()
    }

    /// A theme compiled into the binary (`dark`, `light`).
    pub fn builtin(name: &str) -> Option<Theme> {
        let (_, text) = BUILTINS.iter().find(|(n, _)| *n == name)?;
        // Built-ins are checked by a unit test, so this cannot fail at run time.
        Self::from_toml(text, &format!("themes/{name}.toml")).ok()
    }

    /// A built-in theme by name, else `<user_dir>/<name>.toml` (so a user file cannot
    /// shadow a built-in; pick another name).
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Theme, String> {
        if let Some(theme) = Self::builtin(name) {
            return Ok(theme);
        }
        let builtins = Self::builtin_names().join(", ");
        // The name comes from the config file; keep it from escaping the themes directory.
        if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
            return Err(format!(
                "invalid theme name {name:?} (built-in themes: {builtins})"
            ));
        }
        let Some(dir) = user_dir else {
            return Err(format!(
                "unknown theme {name:?} (built-in themes: {builtins})"
            ));
        };
        let path = dir.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "theme {name:?}: cannot read {}: {e} (built-in themes: {builtins})",
                path.display()
            )
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parse a flat theme file. `origin` names the file in error messages
    /// (`origin:line: key \`name\`: problem`).
    pub fn from_toml(text: &str, origin: &str) -> Result<Theme, String> {
        let map: BTreeMap<Spanned<String>, Spanned<toml::Value>> =
            toml::from_str(text).map_err(|e| match e.span() {
                Some(span) => {
                    format!(
                        "{origin}:{}: {}",
                        line_of(text, span.start),
                        e.message().trim()
                    )
                }
                None => format!("{origin}: {}", e.message().trim()),
            })?;
        let mut colors: BTreeMap<&str, Color> = BTreeMap::new();
        for (key, value) in &map {
            let line = line_of(text, key.span().start);
            let key_name = key.get_ref().as_str();
            let Some(known) = KEYS.iter().find(|k| **k == key_name) else {
                return Err(format!(
                    "{origin}:{line}: unknown key `{key_name}` (known keys: {})",
                    KEYS.join(", ")
                ));
            };
            let color = value
                .get_ref()
                .as_str()
                .and_then(parse_hex)
                .ok_or_else(|| {
                    format!("{origin}:{line}: key `{key_name}`: expected a colour like \"#rrggbb\"")
                })?;
            colors.insert(known, color);
        }
        if let Some(missing) = KEYS.iter().find(|k| !colors.contains_key(**k)) {
            return Err(format!("{origin}: missing key `{missing}`"));
        }
        let c = |k: &str| colors.get(k).copied().unwrap_or(Color::Reset);
        let fg = |k: &str| Style::new().fg(c(k));
        Ok(Theme {
            text: fg("text"),
            dim: fg("dim"),
            border: fg("border"),
            border_selected: fg("border_selected"),
            border_focused: fg("border_focused").add_modifier(Modifier::BOLD),
            title: fg("title"),
            title_focused: fg("title_focused").add_modifier(Modifier::BOLD),
            title_bar: fg("title_bar").add_modifier(Modifier::BOLD),
            key: fg("key").add_modifier(Modifier::BOLD),
            selected: Style::new().fg(c("selected_fg")).bg(c("selected_bg")),
            up: fg("up"),
            down: fg("down"),
            warn: fg("warn"),
            error: fg("error").add_modifier(Modifier::BOLD),
            sparkline: fg("sparkline"),
            live: fg("live"),
            connecting: fg("connecting"),
            reconnecting: fg("reconnecting"),
            stalled: fg("stalled"),
            polling: fg("polling"),
            failed: fg("failed").add_modifier(Modifier::BOLD),
        })
    }

    /// Modifiers only (bold, reversed, dim), no colours: for `NO_COLOR`.
    pub fn no_color() -> Theme {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let dim = Style::new().add_modifier(Modifier::DIM);
        let reversed = Style::new().add_modifier(Modifier::REVERSED);
        Theme {
            text: plain,
            dim,
            border: dim,
            border_selected: plain,
            border_focused: bold,
            title: plain,
            title_focused: bold.add_modifier(Modifier::REVERSED),
            title_bar: bold,
            key: bold,
            selected: reversed,
            up: bold,
            down: bold,
            warn: bold,
            error: bold.add_modifier(Modifier::REVERSED),
            sparkline: plain,
            live: bold,
            connecting: plain,
            reconnecting: bold,
            stalled: bold,
            polling: plain,
            failed: bold.add_modifier(Modifier::REVERSED),
        }
    }

    /// Border of a pane.
    pub fn block(&self, focused: bool) -> Style {
        if focused {
            self.border_focused
        } else {
            self.border
        }
    }

    /// Border of the selected network's column (focused: the network row has focus).
    pub fn block_selected(&self, focused: bool) -> Style {
        if focused {
            self.border_focused
        } else {
            self.border_selected
        }
    }

    pub fn title(&self, focused: bool) -> Style {
        if focused {
            self.title_focused
        } else {
            self.title
        }
    }

    pub fn title_bar(&self) -> Style {
        self.title_bar
    }

    pub fn key(&self) -> Style {
        self.key
    }

    pub fn text(&self) -> Style {
        self.text
    }

    pub fn dim(&self) -> Style {
        self.dim
    }

    pub fn up(&self) -> Style {
        self.up
    }

    pub fn down(&self) -> Style {
        self.down
    }

    pub fn warn(&self) -> Style {
        self.warn
    }

    pub fn error(&self) -> Style {
        self.error
    }

    /// The highlighted row of a focused list.
    pub fn selected(&self) -> Style {
        self.selected
    }

    pub fn sparkline(&self) -> Style {
        self.sparkline
    }

    /// Colour of a connection state's dot and word.
    pub fn state(&self, state: &ConnState) -> Style {
        match state {
            ConnState::Live { .. } => self.live,
            ConnState::Connecting { .. } => self.connecting,
            ConnState::BackingOff { .. } => self.reconnecting,
            ConnState::Stalled { .. } => self.stalled,
            ConnState::Polling { .. } => self.polling,
            ConnState::Failed { .. } => self.failed,
        }
    }
}

fn parse_hex(s: &str) -> Option<Color> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = u32::from_str_radix(hex, 16).ok()?;
    Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8))
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_differ() {
        assert_eq!(Theme::builtin_names(), vec!["dark", "light"]);
        for name in Theme::builtin_names() {
            let (_, text) = BUILTINS.iter().find(|(n, _)| *n == name).unwrap();
            Theme::from_toml(text, name).unwrap();
        }
        assert_ne!(Theme::builtin("dark"), Theme::builtin("light"));
        assert!(Theme::builtin("nope").is_none());
    }

    #[test]
    fn no_color_uses_no_colours() {
        let t = Theme::no_color();
        let states = [
            ConnState::Live {
                endpoint: String::new(),
            },
            ConnState::Failed {
                reason: String::new(),
                until: std::time::Instant::now(),
            },
        ];
        let styles = [
            t.text(),
            t.dim(),
            t.block(true),
            t.block(false),
            t.selected(),
            t.up(),
        ]
        .into_iter()
        .chain(states.iter().map(|s| t.state(s)));
        for s in styles {
            assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
        }
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
            Theme::from_toml(&bad_value, "my.toml").unwrap_err(),
            format!("my.toml:{line}: key `up`: expected a colour like \"#rrggbb\"")
        );

        let unknown = format!("{dark}\nbackground = \"#000000\"\n");
        let err = Theme::from_toml(&unknown, "my.toml").unwrap_err();
        let line = unknown.lines().count();
        assert!(
            err.starts_with(&format!("my.toml:{line}: unknown key `background`")),
            "{err}"
        );

        let missing = dark.replace("sparkline = \"#5fafd7\"", "");
        assert_eq!(
            Theme::from_toml(&missing, "my.toml").unwrap_err(),
            "my.toml: missing key `sparkline`"
        );

        let syntax = "text = \"#ffffff\"\ndim = \n";
        let err = Theme::from_toml(syntax, "my.toml").unwrap_err();
        assert!(err.starts_with("my.toml:2: "), "{err}");
    }

    #[test]
    fn load_reads_user_dir_and_rejects_traversal() {
        let dir = tempfile::tempdir().unwrap();
        let light = BUILTINS[1].1;
        std::fs::write(dir.path().join("mine.toml"), light).unwrap();
        assert_eq!(
            Theme::load("mine", Some(dir.path())),
            Ok(Theme::builtin("light").unwrap())
        );
        assert_eq!(
            Theme::load("dark", None),
            Ok(Theme::builtin("dark").unwrap())
        );
        let err = Theme::load("absent", Some(dir.path())).unwrap_err();
        assert!(err.contains("absent.toml"), "{err}");
        assert!(
            Theme::load("../mine", Some(dir.path()))
                .unwrap_err()
                .contains("invalid theme")
        );
        assert!(
            Theme::load("absent", None)
                .unwrap_err()
                .contains("unknown theme")
        );
    }
}

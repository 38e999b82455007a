//! Semantic styles for the panes, built from theme files (`config::theme` reads and
//! checks them).
//!
//! Panes ask for meanings (`block(focused)`, `up()`, `state(&conn)`), never colours,
//! so a theme file or `NO_COLOR` changes every pane consistently.

use std::path::Path;

use ratatui::style::{Color, Modifier, Style};

use crate::config::theme::{self, ThemeError, ThemeFile};
use crate::event::ConnState;

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
        theme::builtin_names()
    }

    /// A theme compiled into the binary (`dark`, `light`).
    pub fn builtin(name: &str) -> Option<Theme> {
        theme::builtin(name).map(|f| Self::from_file(&f))
    }

    /// A built-in theme by name, else `<user_dir>/<name>.toml` (see `config::theme::load`).
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        theme::load(name, user_dir).map(|f| Self::from_file(&f))
    }

    /// Styles from a checked theme file.
    pub fn from_file(file: &ThemeFile) -> Theme {
        let c = |k: &str| {
            let theme::Rgb(r, g, b) = file.color(k);
            Color::Rgb(r, g, b)
        };
        let fg = |k: &str| Style::new().fg(c(k));
        Theme {
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
        }
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

    /// A row (or a network's title) that an alert is about, while it flashes.
    pub fn flash(&self) -> Style {
        self.warn.add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    /// The highlighted row of a focused list.
    pub fn selected(&self) -> Style {
        self.selected
    }

    pub fn sparkline(&self) -> Style {
        self.sparkline
    }

    /// The `i`th series of a chart with several (they take turns at the colours).
    pub fn series(&self, i: usize) -> Style {
        let all = [
            self.sparkline,
            self.up,
            self.warn,
            self.key,
            self.down,
            self.polling,
        ];
        all[i % all.len()]
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

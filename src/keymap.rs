//! Every key chaintop answers to, in one table: which keys, the `Action` each
//! gives, and the words the help popup and the footer show for them. The app
//! loop, the help popup and the footer all read this table, so they cannot drift
//! apart (they did once, when each kept its own list).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::event::{Action, Mouse, MouseKind};

/// A key a binding answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character without Ctrl.
    Char(char),
    /// Ctrl and a character.
    Ctrl(char),
    Tab,
    BackTab,
    Left,
    Right,
    Up,
    Down,
    Esc,
    Enter,
    PageUp,
    PageDown,
    Home,
    End,
    Backspace,
    /// `1` to `9`: `SelectNetwork(digit - 1)`.
    Digit,
    /// Any other character without Ctrl: `InputChar(c)` (while typing).
    Typed,
    /// The mouse (`mouse_for` reads its events; no key press gives it).
    Mouse,
}

impl Key {
    /// The action this key gives for `code`, if it matches.
    fn action(self, code: KeyCode, ctrl: bool, bound: &Action) -> Option<Action> {
        let hit = match (self, code) {
            (Key::Char(k), KeyCode::Char(c)) => !ctrl && k == c,
            (Key::Ctrl(k), KeyCode::Char(c)) => ctrl && k == c,
            (Key::Tab, KeyCode::Tab)
            | (Key::BackTab, KeyCode::BackTab)
            | (Key::Left, KeyCode::Left)
            | (Key::Right, KeyCode::Right)
            | (Key::Up, KeyCode::Up)
            | (Key::Down, KeyCode::Down)
            | (Key::Esc, KeyCode::Esc)
            | (Key::Enter, KeyCode::Enter)
            | (Key::PageUp, KeyCode::PageUp)
            | (Key::PageDown, KeyCode::PageDown)
            | (Key::Home, KeyCode::Home)
            | (Key::End, KeyCode::End)
            | (Key::Backspace, KeyCode::Backspace) => true,
            (Key::Digit, KeyCode::Char(c @ '1'..='9')) if !ctrl => {
                return Some(Action::SelectNetwork(c as usize - '1' as usize));
            }
            (Key::Typed, KeyCode::Char(c)) if !ctrl => return Some(Action::InputChar(c)),
            _ => false,
        };
        hit.then_some(*bound)
    }
}

/// One row of the table: keys, the action each gives, and how people read it.
#[derive(Debug)]
pub struct Binding {
    /// Keys and their actions. `Digit` and `Typed` give their own action (the
    /// one written here is the example the help describes).
    pub keys: &'static [(Key, Action)],
    /// The key column of the help popup, e.g. `← →  h l`.
    pub shown: &'static str,
    /// What the keys do, for the help popup.
    pub help: &'static str,
    /// The footer's short form (key, word), if the footer shows this row.
    pub hint: Option<(&'static str, &'static str)>,
}

/// The mouse row's example action.
const MOUSE_EXAMPLE: Action = Action::Mouse(Mouse {
    kind: MouseKind::Click,
    x: 0,
    y: 0,
});

/// Keys while no input is open, in the order help shows them.
pub const NORMAL: &[Binding] = &[
    Binding {
        keys: &[
            (Key::Char('q'), Action::Quit),
            (Key::Ctrl('c'), Action::Quit),
        ],
        shown: "q  Ctrl-c",
        help: "quit",
        hint: Some(("q", "quit")),
    },
    Binding {
        keys: &[
            (Key::Char('?'), Action::ToggleHelp),
            (Key::Char('!'), Action::ToggleAlerts),
        ],
        shown: "?  !",
        help: "show / hide this help / the alerts",
        hint: Some(("?", "help")),
    },
    Binding {
        keys: &[(Key::Enter, Action::Open)],
        shown: "Enter",
        help: "open what is selected",
        hint: Some(("Enter", "open")),
    },
    Binding {
        keys: &[(Key::Esc, Action::Escape)],
        shown: "Esc",
        help: "close a popup, or go back",
        hint: None,
    },
    Binding {
        keys: &[
            (Key::Tab, Action::FocusNext),
            (Key::BackTab, Action::FocusPrev),
        ],
        shown: "Tab  Shift-Tab",
        help: "focus next / previous pane",
        hint: Some(("Tab", "focus")),
    },
    Binding {
        keys: &[
            (Key::Left, Action::Left),
            (Key::Right, Action::Right),
            (Key::Char('h'), Action::Left),
            (Key::Char('l'), Action::Right),
        ],
        shown: "← →  h l",
        help: "previous / next network",
        hint: Some(("←→/hl", "network")),
    },
    Binding {
        keys: &[
            (Key::Up, Action::Up),
            (Key::Down, Action::Down),
            (Key::Char('k'), Action::Up),
            (Key::Char('j'), Action::Down),
        ],
        shown: "↑ ↓  j k",
        help: "scroll the focused list",
        hint: Some(("↑↓/jk", "scroll")),
    },
    Binding {
        keys: &[
            (Key::PageUp, Action::PageUp),
            (Key::PageDown, Action::PageDown),
            (Key::Home, Action::Top),
            (Key::End, Action::Bottom),
            (Key::Char('g'), Action::Top),
            (Key::Char('G'), Action::Bottom),
        ],
        shown: "PgUp PgDn  g G",
        help: "page; first / last (Home End)",
        hint: None,
    },
    Binding {
        keys: &[(Key::Char('y'), Action::Copy)],
        shown: "y",
        help: "copy the selected hash or address",
        hint: None,
    },
    Binding {
        keys: &[
            (Key::Char('s'), Action::Sort),
            (Key::Char('c'), Action::Chart),
        ],
        shown: "s  c",
        help: "sort the list / chart next metric",
        hint: None,
    },
    Binding {
        keys: &[(Key::Char('f'), Action::Freeze)],
        shown: "f",
        help: "freeze the lists / follow again",
        hint: Some(("f", "freeze")),
    },
    Binding {
        keys: &[(Key::Char('/'), Action::Filter)],
        shown: "/",
        help: "filter the focused list",
        hint: Some(("/", "filter")),
    },
    Binding {
        keys: &[(Key::Digit, Action::SelectNetwork(0))],
        shown: "1-9",
        help: "select network 1-9",
        hint: Some(("1-9", "select")),
    },
    Binding {
        keys: &[
            (Key::Char('p'), Action::Mempool),
            (Key::Char('v'), Action::Race),
        ],
        shown: "p v",
        help: "watches' mempool / endpoint race",
        hint: None,
    },
    Binding {
        keys: &[(Key::Char('n'), Action::PickNetwork)],
        shown: "n",
        help: "pick a network by name",
        hint: None,
    },
    Binding {
        keys: &[(Key::Mouse, MOUSE_EXAMPLE)],
        shown: "wheel click",
        help: "scroll / select (twice: open)",
        hint: None,
    },
    Binding {
        keys: &[(Key::Char('m'), Action::ToggleMouse)],
        shown: "m",
        help: "mouse off (select text) / on",
        hint: None,
    },
    Binding {
        keys: &[(Key::Char('r'), Action::Reconnect)],
        shown: "r",
        help: "reconnect the selected network",
        hint: Some(("r", "reconnect")),
    },
    Binding {
        keys: &[
            (Key::Char('a'), Action::AddWatch),
            (Key::Char('d'), Action::RemoveWatch),
            (Key::Char('u'), Action::Undo),
        ],
        shown: "a  d  u",
        help: "add a watch / remove it / undo",
        hint: Some(("a/d", "add/remove watch")),
    },
    Binding {
        keys: &[(Key::Ctrl('z'), Action::Suspend)],
        shown: "Ctrl-z",
        help: "suspend (fg brings it back)",
        hint: None,
    },
];

/// Keys while the add-watch input is open: characters are typed into it.
pub const EDITING: &[Binding] = &[
    Binding {
        keys: &[(Key::Ctrl('c'), Action::Quit)],
        shown: "Ctrl-c",
        help: "quit",
        hint: None,
    },
    Binding {
        keys: &[(Key::Ctrl('z'), Action::Suspend)],
        shown: "Ctrl-z",
        help: "suspend (fg brings it back)",
        hint: None,
    },
    Binding {
        keys: &[(Key::Typed, Action::InputChar('x'))],
        shown: "any character",
        help: "type into the field",
        hint: None,
    },
    Binding {
        keys: &[(Key::Up, Action::Up), (Key::Down, Action::Down)],
        shown: "↑ ↓",
        help: "move in the network picker's list",
        hint: None,
    },
    Binding {
        keys: &[(Key::Backspace, Action::InputBackspace)],
        shown: "Backspace",
        help: "delete the last character",
        hint: None,
    },
    Binding {
        keys: &[(Key::Enter, Action::InputSubmit)],
        shown: "Enter",
        help: "next field, then add",
        hint: None,
    },
    Binding {
        keys: &[(Key::Esc, Action::Escape)],
        shown: "Esc",
        help: "cancel",
        hint: None,
    },
];

/// The action a key press gives, if any. While the add-watch input is open
/// (`editing`), keys edit it.
pub fn action_for(key: KeyEvent, editing: bool) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let table = if editing { EDITING } else { NORMAL };
    table
        .iter()
        .flat_map(|b| b.keys)
        .find_map(|(k, a)| k.action(key.code, ctrl, a))
}

/// The action a mouse event gives: the left button, the wheel.
pub fn mouse_for(ev: crossterm::event::MouseEvent) -> Option<Action> {
    use crossterm::event::{MouseButton, MouseEventKind};
    let kind = match ev.kind {
        MouseEventKind::Down(MouseButton::Left) => MouseKind::Click,
        MouseEventKind::ScrollUp => MouseKind::WheelUp,
        MouseEventKind::ScrollDown => MouseKind::WheelDown,
        _ => return None,
    };
    Some(Action::Mouse(Mouse {
        kind,
        x: ev.column,
        y: ev.row,
    }))
}

/// The README's key table: every key of the dashboard, with the help popup's words.
pub fn markdown() -> String {
    let mut out = String::from("| key | what it does |\n|---|---|\n");
    for b in NORMAL {
        let keys: Vec<String> = b
            .shown
            .split_whitespace()
            .map(|k| format!("`{k}`"))
            .collect();
        out.push_str(&format!("| {} | {} |\n", keys.join(" "), b.help));
    }
    out
}

/// The footer: (key, word) of every row that has a hint.
pub fn hints() -> impl Iterator<Item = (&'static str, &'static str)> {
    NORMAL.iter().filter_map(|b| b.hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    /// Every action, one example each. The match below has no wildcard, so a new
    /// action does not compile until it is listed here (and then it must have a
    /// key and a description, or `every_action_has_a_key_and_a_description` fails).
    fn every_action() -> Vec<Action> {
        let all = vec![
            Action::Quit,
            Action::Suspend,
            Action::ToggleHelp,
            Action::FocusNext,
            Action::FocusPrev,
            Action::Left,
            Action::Right,
            Action::Up,
            Action::Down,
            Action::SelectNetwork(0),
            Action::Reconnect,
            Action::ToggleAlerts,
            Action::Open,
            Action::Freeze,
            Action::Copy,
            Action::Chart,
            Action::Sort,
            Action::PickNetwork,
            Action::Undo,
            Action::Filter,
            Action::PageUp,
            Action::PageDown,
            Action::Top,
            Action::Bottom,
            Action::Escape,
            Action::AddWatch,
            Action::RemoveWatch,
            Action::InputChar('x'),
            Action::InputBackspace,
            Action::InputSubmit,
            Action::ToggleMouse,
            Action::Mempool,
            Action::Race,
            MOUSE_EXAMPLE,
        ];
        for a in &all {
            match a {
                Action::Quit
                | Action::Suspend
                | Action::ToggleHelp
                | Action::ToggleAlerts
                | Action::Open
                | Action::Freeze
                | Action::Copy
                | Action::Chart
                | Action::Sort
                | Action::PickNetwork
                | Action::Race
                | Action::Undo
                | Action::Filter
                | Action::PageUp
                | Action::PageDown
                | Action::Top
                | Action::Bottom
                | Action::FocusNext
                | Action::FocusPrev
                | Action::Left
                | Action::Right
                | Action::Up
                | Action::Down
                | Action::SelectNetwork(_)
                | Action::Reconnect
                | Action::Escape
                | Action::AddWatch
                | Action::RemoveWatch
                | Action::InputChar(_)
                | Action::InputBackspace
                | Action::InputSubmit
                | Action::ToggleMouse
                | Action::Mempool
                | Action::Mouse(_) => {}
            }
        }
        all
    }

    /// The README's table is the keymap's: a key added here and not there fails.
    #[test]
    fn the_readme_key_table_is_the_keymap() {
        let readme = include_str!("../README.md");
        let start = "<!-- keys: generated from src/keymap.rs; the test prints it -->\n";
        let table = readme
            .split_once(start)
            .and_then(|(_, rest)| rest.split_once("<!-- /keys -->"))
            .map(|(t, _)| t);
        assert_eq!(
            table,
            Some(markdown().as_str()),
            "the README's key table, between its markers, should be:\n{}",
            markdown()
        );
    }

    fn same_kind(a: &Action, b: &Action) -> bool {
        std::mem::discriminant(a) == std::mem::discriminant(b)
    }

    #[test]
    fn every_action_has_a_key_and_a_description() {
        for action in every_action() {
            let rows: Vec<&Binding> = NORMAL
                .iter()
                .chain(EDITING)
                .filter(|b| b.keys.iter().any(|(_, a)| same_kind(a, &action)))
                .collect();
            assert!(!rows.is_empty(), "{action:?} has no key");
            for b in rows {
                assert!(!b.help.is_empty(), "{action:?}: no description");
                assert!(!b.shown.is_empty(), "{action:?}: no key shown");
            }
        }
    }

    #[test]
    fn each_key_of_the_table_gives_its_action() {
        for (table, editing) in [(NORMAL, false), (EDITING, true)] {
            for (key, action) in table.iter().flat_map(|b| b.keys) {
                let (code, mods) = match *key {
                    Key::Char(c) => (KeyCode::Char(c), KeyModifiers::NONE),
                    Key::Ctrl(c) => (KeyCode::Char(c), KeyModifiers::CONTROL),
                    Key::Tab => (KeyCode::Tab, KeyModifiers::NONE),
                    Key::BackTab => (KeyCode::BackTab, KeyModifiers::SHIFT),
                    Key::Left => (KeyCode::Left, KeyModifiers::NONE),
                    Key::Right => (KeyCode::Right, KeyModifiers::NONE),
                    Key::Up => (KeyCode::Up, KeyModifiers::NONE),
                    Key::Down => (KeyCode::Down, KeyModifiers::NONE),
                    Key::Esc => (KeyCode::Esc, KeyModifiers::NONE),
                    Key::Enter => (KeyCode::Enter, KeyModifiers::NONE),
                    Key::PageUp => (KeyCode::PageUp, KeyModifiers::NONE),
                    Key::PageDown => (KeyCode::PageDown, KeyModifiers::NONE),
                    Key::Home => (KeyCode::Home, KeyModifiers::NONE),
                    Key::End => (KeyCode::End, KeyModifiers::NONE),
                    Key::Backspace => (KeyCode::Backspace, KeyModifiers::NONE),
                    Key::Digit => (KeyCode::Char('1'), KeyModifiers::NONE),
                    Key::Typed => (KeyCode::Char('x'), KeyModifiers::NONE),
                    // Not a key: `mouse_for` is tested on its own.
                    Key::Mouse => continue,
                };
                assert_eq!(
                    action_for(press(code, mods), editing).as_ref(),
                    Some(action),
                    "{key:?} (editing: {editing})"
                );
            }
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_one_mode() {
        for table in [NORMAL, EDITING] {
            let keys: Vec<Key> = table.iter().flat_map(|b| b.keys).map(|(k, _)| *k).collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{k:?} bound twice");
            }
        }
    }

    #[test]
    fn the_left_button_and_the_wheel_are_read() {
        use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
        let ev = |kind| MouseEvent {
            kind,
            column: 7,
            row: 3,
            modifiers: KeyModifiers::NONE,
        };
        let at = |kind| Some(Action::Mouse(Mouse { kind, x: 7, y: 3 }));
        assert_eq!(
            mouse_for(ev(MouseEventKind::Down(MouseButton::Left))),
            at(MouseKind::Click)
        );
        assert_eq!(
            mouse_for(ev(MouseEventKind::ScrollUp)),
            at(MouseKind::WheelUp)
        );
        assert_eq!(
            mouse_for(ev(MouseEventKind::ScrollDown)),
            at(MouseKind::WheelDown)
        );
        assert_eq!(
            mouse_for(ev(MouseEventKind::Down(MouseButton::Right))),
            None
        );
        assert_eq!(mouse_for(ev(MouseEventKind::Moved)), None);
    }

    #[test]
    fn typing_and_digits_carry_the_key() {
        let plain = KeyModifiers::NONE;
        assert_eq!(
            action_for(press(KeyCode::Char('7'), plain), false),
            Some(Action::SelectNetwork(6))
        );
        assert_eq!(
            action_for(press(KeyCode::Char('q'), plain), true),
            Some(Action::InputChar('q'))
        );
        // Ctrl-c quits even while typing; an unbound key does nothing.
        assert_eq!(
            action_for(press(KeyCode::Char('c'), KeyModifiers::CONTROL), true),
            Some(Action::Quit)
        );
        assert_eq!(action_for(press(KeyCode::Char('x'), plain), false), None);
        let mut release = press(KeyCode::Char('q'), plain);
        release.kind = KeyEventKind::Release;
        assert_eq!(action_for(release, false), None);
    }
}

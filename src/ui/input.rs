//! The centred "add watch address" popup: address and label fields, the active one
//! marked, the address validated as typed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Theme;
use crate::state::{InputField, InputState};
use crate::text::sanitize;

/// `0x` and 40 digits, the cursor, the field name and the marks around it.
const WANT_WIDTH: u16 = 2 + 12 + 42 + 2 + 2;
const CURSOR: &str = "█";

pub(super) fn draw(frame: &mut Frame, area: Rect, input: &InputState, theme: &Theme) {
    let on_address = input.field == InputField::Address;
    let width = WANT_WIDTH.min(area.width);
    // Room for the value after the field name (and the cursor).
    let room = usize::from(width.saturating_sub(2 + 12 + 1));
    let field = |name: &'static str, value: &str, active: bool| -> Line<'static> {
        let (mark, name_style) = if active {
            ("▸ ", theme.key())
        } else {
            ("  ", theme.dim())
        };
        // Show the end of a value too long for the popup: that is where one types.
        let chars = value.chars().count();
        let shown: String = value.chars().skip(chars.saturating_sub(room)).collect();
        let mut spans = vec![
            Span::styled(mark, theme.key()),
            Span::styled(format!("{name:<10}"), name_style),
            Span::styled(shown, theme.text()),
        ];
        if active {
            spans.push(Span::styled(CURSOR, theme.key()));
        }
        Line::from(spans)
    };
    let label = sanitize(&input.label);
    let check = match input.parsed() {
        Ok(address) => Line::styled(format!("  ✓ {}", address.to_checksum(None)), theme.up()),
        Err(message) => Line::styled(format!("  ✗ {}", sanitize(&message)), theme.warn()),
    };
    let enter = if on_address {
        " next field  "
    } else {
        " add (empty label: short address)  "
    };
    let lines = vec![
        field("address", &input.address, on_address),
        field("label", &label, !on_address),
        check,
        Line::styled("  watched on every network", theme.dim()),
        Line::from(vec![
            Span::styled("  Enter", theme.key()),
            Span::styled(enter, theme.dim()),
            Span::styled("Esc", theme.key()),
            Span::styled(" cancel", theme.dim()),
        ]),
    ];

    let height = lines.len() as u16 + 2;
    super::draw_popup(
        frame,
        area,
        (width, height),
        " add watch address ",
        lines,
        theme,
    );
}

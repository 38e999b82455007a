//! The alerts popup (`!`): the sinks that failed, then what fired and resolved,
//! newest first, on every network.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Theme;
use crate::event::AlertState;
use crate::event::SinkFailure;
use crate::state::AppState;
use crate::text::sanitize;

/// Alerts listed at most.
const SHOWN: usize = 30;

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let mut all: Vec<&crate::event::AlertNotice> = state
        .networks
        .iter()
        .flat_map(|n| n.alerts.iter())
        .collect();
    all.sort_by_key(|a| std::cmp::Reverse(a.at));
    let mut lines: Vec<Line> = all
        .iter()
        .take(SHOWN)
        .map(|a| {
            let ts = crate::fmt::rfc3339_ms(a.at);
            let (word, style) = match a.state {
                AlertState::Fired => ("fired   ", theme.warn()),
                AlertState::Resolved => ("resolved", theme.dim()),
            };
            let held = if a.repeats > 0 {
                format!(" (+{} held)", a.repeats)
            } else {
                String::new()
            };
            Line::from(vec![
                Span::styled(
                    format!(" {} ", ts.get(11..19).unwrap_or_default()),
                    theme.dim(),
                ),
                Span::styled(word, style),
                Span::styled(format!(" {} ", sanitize(&a.network)), theme.text()),
                Span::styled(sanitize(&a.rule).into_owned(), theme.key()),
                Span::styled(format!(": {}{held}", sanitize(&a.message)), theme.text()),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(
            " no alerts yet (rules go in [[alerts]] of the config)",
            theme.dim(),
        ));
    }
    // What the sinks could not deliver, above the alerts.
    let mut failed: Vec<&SinkFailure> = state
        .networks
        .iter()
        .flat_map(|n| n.sink_failures.iter())
        .collect();
    // The newest of each sink (each network keeps its own).
    failed.sort_by_key(|f| std::cmp::Reverse(f.at));
    let mut seen = std::collections::HashSet::new();
    failed.retain(|f| seen.insert(f.sink.as_str()));
    if !failed.is_empty() {
        lines.insert(0, Line::default());
    }
    for f in failed.iter().rev() {
        let ts = crate::fmt::rfc3339_ms(f.at);
        let what = if f.off {
            "is off, not retried"
        } else {
            "failed"
        };
        lines.insert(
            0,
            Line::from(vec![
                Span::styled(
                    format!(" {} ", ts.get(11..19).unwrap_or_default()),
                    theme.dim(),
                ),
                Span::styled(format!("sink {} {what}", sanitize(&f.sink)), theme.error()),
                Span::styled(
                    format!(": {} ({})", sanitize(&f.reason), sanitize(&f.alert)),
                    theme.text(),
                ),
            ]),
        );
    }
    lines.push(Line::default());
    lines.push(Line::styled(" times in UTC · Esc or ! closes", theme.dim()));
    let want_w = area.width.saturating_sub(4).min(110);
    let want_h = lines.len() as u16 + 2;
    super::draw_popup(frame, area, (want_w, want_h), " alerts ", lines, theme);
}

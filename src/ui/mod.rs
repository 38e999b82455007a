//! Drawing: `draw(frame, &AppState, &Theme)`.

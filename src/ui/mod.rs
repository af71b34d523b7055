//! ratatui views. Draws AppState; mutates nothing.

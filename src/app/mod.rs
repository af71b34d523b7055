//! The reducer: AppState, Msg, Effect, update().

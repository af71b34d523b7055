//! Settings: embedded defaults < config file < GOOFISH_* env < flags; XDG paths.

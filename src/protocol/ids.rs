//! Identifier newtypes. Each knows its bare form (digits) and its IM form (`…@goofish`).
//! Ids are short: kept inline (no heap allocation) up to 24 bytes, which matters when a
//! client holds hundreds of thousands of messages.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

const IM_SUFFIX: &str = "@goofish";

fn strip_suffix(s: &str) -> &str {
    // Ids come clean; only look for whitespace when an end shows some (`trim` decodes chars).
    let clean = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
    let s = if clean(s.as_bytes().first()) && clean(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    };
    s.strip_suffix(IM_SUFFIX).unwrap_or(s)
}

macro_rules! goofish_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(CompactString);

        impl $name {
            /// Accepts either the bare digits or the `@goofish` form.
            pub fn new(s: impl AsRef<str>) -> Self {
                Self(CompactString::from(strip_suffix(s.as_ref())))
            }
            /// The bare form, without `@goofish`.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The IM form, `<digits>@goofish`.
            pub fn im(&self) -> String {
                format!("{}{}", self.0, IM_SUFFIX)
            }
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }
    };
}

goofish_id!(
    /// A user id (`unb` for self). Digits; IM form `<uid>@goofish`.
    Uid
);
goofish_id!(
    /// A conversation id. Digits (the `sid`/`sessionId`); IM form `<digits>@goofish`.
    Cid
);

/// An IM message id, `<digits>.PNM`: the dedupe key and the id used by read/recall.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct MessageId(CompactString);

impl MessageId {
    pub fn new(s: impl AsRef<str>) -> Self {
        Self(CompactString::from(s.as_ref()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The numeric part before `.PNM`, when there is one.
    pub fn number(&self) -> Option<u64> {
        self.0.strip_suffix(".PNM").unwrap_or(&self.0).parse().ok()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0)
    }
}

/// The client's own id for a message it sends (the `uuid` of §6.8). Ties a send request
/// to its result and to the server's echo.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct ClientId(CompactString);

impl ClientId {
    pub fn new(s: impl AsRef<str>) -> Self {
        Self(CompactString::from(s.as_ref()))
    }
    /// A fresh id in the `-<ms><random digits>` form the web client uses, of the time now and
    /// a random number (only its remainder by 1000 is used).
    pub fn generate(now_ms: i64, random: u32) -> Self {
        Self(compact_str::format_compact!("-{now_ms}{}", random % 1000))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_is_made_of_the_time_and_a_random_number_given() {
        assert_eq!(
            ClientId::generate(1_742_458_877_389, 7_042).as_str(),
            "-174245887738942"
        );
    }

    #[test]
    fn ids_accept_both_forms() {
        let a = Cid::new("40000000201@goofish");
        let b = Cid::new("40000000201");
        assert_eq!(a, b);
        assert_eq!(a.im(), "40000000201@goofish");
        assert_eq!(Uid::new(" 1000000101@goofish ").as_str(), "1000000101");
        assert_eq!(
            MessageId::new("3400000000301.PNM").number(),
            Some(3400000000301)
        );
    }
}

//! How a message is kept: a type of the store's own, versioned, so that the protocol's model
//! can change without making kept history unreadable, and compact (MessagePack), so that a
//! row costs little to write. The id, conversation, time, sender and search text are columns
//! of their own; the rest is this row, its first byte the version.

use crate::protocol::model::TradeCard;
use crate::protocol::{Cid, Content, Message, MessageId, Uid};
use serde::{Deserialize, Serialize};

/// The version written now. Older versions stay readable; a newer one is refused by the
/// schema version before any row is read.
pub const VERSION: u8 = 1;

/// The columns a message is read from, in this order (see `read`).
pub const COLUMNS: &str = "id, cid, time, sender, row";

#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("empty row")]
    Empty,
    #[error("row version {0} is not known")]
    UnknownVersion(u8),
    #[error("row not readable: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
}

/// Version 1: what a message is beyond its columns.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(super) struct RowV1 {
    is_self: bool,
    content: ContentV1,
    item_id: Option<String>,
    sender_nick: Option<String>,
    session_type: Option<i64>,
    need_push: bool,
    red_reminder: Option<String>,
    client_id: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
enum ContentV1 {
    Text(String),
    Image(Vec<String>),
    TradeCard {
        title: String,
        desc: Option<String>,
        order_id: Option<String>,
    },
    Notice(String),
    Unknown {
        content_type: i64,
        summary: String,
    },
}

/// `RowV1` as written: the same fields and variants, borrowed from the message rather
/// than copied out of it (a row is written for every message received).
#[derive(Serialize)]
pub(super) struct RowV1Out<'a> {
    is_self: bool,
    content: ContentV1Out<'a>,
    item_id: Option<&'a str>,
    sender_nick: Option<&'a str>,
    session_type: Option<i64>,
    need_push: bool,
    red_reminder: Option<&'a str>,
    client_id: Option<&'a str>,
}

#[derive(Serialize)]
enum ContentV1Out<'a> {
    Text(&'a str),
    Image(&'a [String]),
    TradeCard {
        title: &'a str,
        desc: Option<&'a str>,
        order_id: Option<&'a str>,
    },
    Notice(&'a str),
    Unknown {
        content_type: i64,
        summary: &'a str,
    },
}

/// The row of `m` (version byte first).
pub fn encode(m: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(VERSION);
    // Writing plain data into a Vec cannot fail.
    let _ = rmp_serde::encode::write(&mut out, &fields_of(m));
    out
}

/// What of `m` a row keeps beyond its columns, borrowed.
pub(super) fn fields_of(m: &Message) -> RowV1Out<'_> {
    let content = match &m.content {
        Content::Text { text } => ContentV1Out::Text(text),
        Content::Image { urls } => ContentV1Out::Image(urls),
        Content::TradeCard(card) => ContentV1Out::TradeCard {
            title: &card.title,
            desc: card.desc.as_deref(),
            order_id: card.order_id.as_deref(),
        },
        Content::Notice { text } => ContentV1Out::Notice(text),
        Content::Unknown {
            content_type,
            summary,
        } => ContentV1Out::Unknown {
            content_type: *content_type,
            summary,
        },
    };
    RowV1Out {
        is_self: m.is_self,
        content,
        item_id: m.item_id.as_deref(),
        sender_nick: m.sender_nick.as_deref(),
        session_type: m.session_type,
        need_push: m.need_push,
        red_reminder: m.red_reminder.as_deref(),
        client_id: m.client_id.as_deref(),
    }
}

/// The message of a row and its columns.
pub fn decode(
    id: String,
    cid: String,
    time: i64,
    sender: String,
    row: &[u8],
) -> Result<Message, RowError> {
    let (&version, rest) = row.split_first().ok_or(RowError::Empty)?;
    if version != VERSION {
        return Err(RowError::UnknownVersion(version));
    }
    let r: RowV1 = rmp_serde::from_slice(rest)?;
    Ok(message_of(id, Cid::new(cid), time, sender, r))
}

/// The message that `r` and the columns beside it describe.
pub(super) fn message_of(id: String, cid: Cid, time: i64, sender: String, r: RowV1) -> Message {
    let content = match r.content {
        ContentV1::Text(text) => Content::Text { text: text.into() },
        ContentV1::Image(urls) => Content::Image { urls },
        ContentV1::TradeCard {
            title,
            desc,
            order_id,
        } => Content::TradeCard(Box::new(TradeCard {
            title,
            desc,
            order_id,
        })),
        ContentV1::Notice(text) => Content::Notice { text },
        ContentV1::Unknown {
            content_type,
            summary,
        } => Content::Unknown {
            content_type,
            summary,
        },
    };
    Message {
        id: MessageId::new(id),
        cid,
        sender: Uid::new(sender),
        is_self: r.is_self,
        time,
        content,
        item_id: r.item_id.map(Into::into),
        sender_nick: r.sender_nick.map(Into::into),
        session_type: r.session_type,
        need_push: r.need_push,
        red_reminder: r.red_reminder,
        client_id: r.client_id,
    }
}

/// Reads the message of `COLUMNS` starting at column `at`; a row this version cannot read
/// is logged and skipped (None), never an error that hides the others.
pub fn read(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<Message>> {
    let row: Vec<u8> = r.get(at + 4)?;
    let id: String = r.get(at)?;
    match decode(
        id.clone(),
        r.get(at + 1)?,
        r.get(at + 2)?,
        r.get(at + 3)?,
        &row,
    ) {
        Ok(m) => Ok(Some(m)),
        Err(e) => {
            tracing::warn!(%id, error = %e, "stored message not readable");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(content: Content) -> Message {
        Message {
            id: MessageId::new("3400000000304.PNM"),
            cid: Cid::new("40000000201"),
            sender: Uid::new("1000000101"),
            is_self: false,
            time: 1_742_458_937_389,
            content,
            item_id: Some("900000000601".into()),
            sender_nick: Some("买家小明😀".into()),
            session_type: Some(1),
            need_push: true,
            red_reminder: Some("等待卖家发货".into()),
            client_id: Some("-17424589073891".into()),
        }
    }

    #[test]
    fn every_kind_of_message_comes_back_as_it_went_in() {
        for content in [
            Content::Text {
                text: "能便宜点吗？包邮吗 🙏".into(),
            },
            Content::Image {
                urls: vec!["https://img.alicdn.com/a.jpg".into()],
            },
            Content::trade_card(
                "我已付款".into(),
                Some("等待你发货".into()),
                Some("1".into()),
            ),
            Content::Notice {
                text: "你有一条新的交易评价".into(),
            },
            Content::Unknown {
                content_type: 99,
                summary: "[语音]".into(),
            },
        ] {
            let m = message(content);
            let row = encode(&m);
            assert_eq!(row.first(), Some(&VERSION));
            let back = decode(
                m.id.as_str().into(),
                m.cid.as_str().into(),
                m.time,
                m.sender.as_str().into(),
                &row,
            )
            .unwrap();
            assert_eq!(back, m);
        }
    }

    /// The borrowed form writes the bytes of `RowV1` itself, so rows stay readable as
    /// version 1 by `decode` and by every binary that reads version 1.
    #[test]
    fn a_row_is_written_as_version_1_says() {
        let m = message(Content::trade_card(
            "我已付款".into(),
            None,
            Some("1".into()),
        ));
        let owned = RowV1 {
            is_self: m.is_self,
            content: ContentV1::TradeCard {
                title: "我已付款".into(),
                desc: None,
                order_id: Some("1".into()),
            },
            item_id: m.item_id.as_deref().map(str::to_string),
            sender_nick: m.sender_nick.as_deref().map(str::to_string),
            session_type: m.session_type,
            need_push: m.need_push,
            red_reminder: m.red_reminder.clone(),
            client_id: m.client_id.clone(),
        };
        let mut expected = vec![VERSION];
        rmp_serde::encode::write(&mut expected, &owned).unwrap();
        assert_eq!(encode(&m), expected);
    }

    #[test]
    fn an_unknown_version_or_a_broken_row_is_an_error_not_a_panic() {
        let call = |row: &[u8]| decode("1".into(), "2".into(), 3, "4".into(), row);
        assert!(matches!(call(&[]), Err(RowError::Empty)));
        assert!(matches!(call(&[9, 1, 2]), Err(RowError::UnknownVersion(9))));
        assert!(matches!(call(&[VERSION, 0xc1]), Err(RowError::Decode(_))));
        let good = encode(&message(Content::Text { text: "x".into() }));
        for cut in 0..good.len() {
            let _ = call(&good[..cut]);
        }
    }
}

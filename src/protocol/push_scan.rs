//! A sync push read by finding where each value ends rather than by reading all of it: the
//! items' `data` (base64, nearly every byte of a push) is passed over once with `memchr` and
//! taken as it stands, where a general JSON reader looks at each of its bytes in turn.
//!
//! Every other value is handed to serde_json as its own short text, so what is accepted and
//! what each value means stay serde_json's. A frame of another shape (a `code`, no headers, a
//! path other than a sync push, a field twice, an item that is not an object) gives `None`,
//! and `Frame::parse_push` reads it the general way, with the same result it always had.
//! One difference, on purpose: a raw control character inside an item's `data` (which JSON
//! does not allow) no longer refuses the whole push; that item alone fails to decode.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde_json::Value;

use super::lwp::{Frame, path};
use super::push_body::{BodyParts, PushItem, item_biz};

/// `text` as a sync push frame, when it has the usual shape of one.
pub fn sync_frame(text: &str) -> Option<Frame> {
    let mut c = Cursor { text, at: 0 };
    let mut lwp: Option<Value> = None;
    let mut headers: Option<Value> = None;
    let mut body: Option<Body<'_>> = None;
    c.object(|c, key| match key {
        "lwp" => {
            let v = c.value()?;
            // Anything but a sync push is read the general way: give up before its body.
            is_sync(&v).then_some(())?;
            once(&mut lwp, v)
        }
        "headers" => once(&mut headers, c.value()?),
        // Read at once when the path is known to be a sync push, else kept for later.
        "body" => {
            let b = match lwp {
                Some(_) => Body::Read(c.body()?),
                None => Body::Later(c.skip()?),
            };
            once(&mut body, b)
        }
        // A response (or an ACK): not a push.
        "code" => None,
        _ => c.ignore(),
    })?;
    c.end()?;
    let Some(Value::String(lwp)) = lwp else {
        return None;
    };
    let Some(Value::Object(headers)) = headers else {
        return None;
    };
    let body = match body? {
        Body::Read(parts) => parts,
        Body::Later(raw) => {
            let mut b = Cursor { text: raw, at: 0 };
            let parts = b.body()?;
            b.end()?;
            parts
        }
    };
    Some(Frame {
        lwp: Some(lwp),
        code: None,
        headers,
        body: None,
        sync: Some(body.into_sync()),
    })
}

/// A frame's body: read, or (when it came before the path) its text, read once the path is
/// known to be a sync push's.
enum Body<'a> {
    Read(BodyParts),
    Later(&'a str),
}

fn is_sync(lwp: &Value) -> bool {
    matches!(
        lwp.as_str(),
        Some(path::PUSH_SYNC | path::PUSH_SYNC_FAILOVER | path::PUSH_PARA)
    )
}

/// Sets `slot` to `v` unless it is set already (a field twice: serde refuses the frame).
fn once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(v);
    Some(())
}

/// Whether `b` can stand in a JSON string as it is: no byte below 0x20, no quote and no
/// backslash. Eight bytes at a time: `v - n·0x01… & !v & 0x80…` is non-zero exactly when a
/// byte of `v` is below `n` (for `n` ≤ 0x80), and a byte equal to `c` is one below 1 in
/// `v ^ c·0x01…`.
pub fn plain_in_json_string(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH;
    let bad = |v: u64| below(v, 0x20) | below(v ^ (ONES * 0x22), 1) | below(v ^ (ONES * 0x5c), 1);
    let (words, tail) = b.as_chunks::<8>();
    let found = words
        .iter()
        .fold(0, |found, w| found | bad(u64::from_le_bytes(*w)));
    found == 0 && tail.iter().all(|&x| x >= 0x20 && x != b'"' && x != b'\\')
}

/// Digits without a leading zero that fit in a `u64` (JSON's form of a plain integer).
fn plain_integer(raw: &str) -> Option<u64> {
    let digits = raw.as_bytes();
    let plain = (1..=19).contains(&digits.len())
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits.first() != Some(&b'0'));
    plain.then(|| raw.parse().ok()).flatten()
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn ws(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        self.ws();
        (self.byte() == Some(want)).then(|| self.at += 1)
    }

    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.at == self.text.len()).then_some(())
    }

    /// A `null` here, taken.
    fn null(&mut self) -> bool {
        self.ws();
        let found = self
            .text
            .as_bytes()
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(b"null"));
        if found {
            self.at += 4;
        }
        found
    }

    /// Past the string that starts here; whether it holds an escape.
    fn pass_string(&mut self) -> Option<bool> {
        let bytes = self.text.as_bytes();
        (bytes.get(self.at) == Some(&b'"')).then_some(())?;
        let mut i = self.at + 1;
        let mut escaped = false;
        loop {
            let j = i + memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
            if bytes.get(j) == Some(&b'"') {
                self.at = j + 1;
                return Some(escaped);
            }
            // The escaped character is passed over; the digits of a \u escape are plain.
            escaped = true;
            i = j + 2;
        }
    }

    /// The string here, unescaped (by serde) only when it has escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.quoted(true)
    }

    /// An item's `data`: the string as it stands. A control character in it is left for the
    /// base64 decoder to refuse, so that one bad item costs that item, not the whole push.
    fn data(&mut self) -> Option<Cow<'a, str>> {
        self.quoted(false)
    }

    /// The string here; with `strict`, refused when it holds a control character, as JSON
    /// (and serde) would refuse it.
    fn quoted(&mut self, strict: bool) -> Option<Cow<'a, str>> {
        self.ws();
        let start = self.at;
        let escaped = self.pass_string()?;
        let quoted = self.text.get(start..self.at)?;
        if escaped {
            return serde_json::from_str::<String>(quoted).ok().map(Cow::Owned);
        }
        let inner = quoted.get(1..quoted.len().saturating_sub(1))?;
        (!strict || plain_in_json_string(inner.as_bytes())).then_some(Cow::Borrowed(inner))
    }

    /// The text of the value here, passed over without being read; serde reads it later.
    fn skip(&mut self) -> Option<&'a str> {
        self.ws();
        let start = self.at;
        match self.byte()? {
            b'"' => {
                self.pass_string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.byte()? {
                        b'"' => {
                            self.pass_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                self.at += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while !matches!(
                    self.byte(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.at += 1;
                }
            }
        }
        self.text.get(start..self.at)
    }

    fn value(&mut self) -> Option<Value> {
        let raw = self.skip()?;
        // A plain integer (a `bizType`) is the number serde would make, without a parser.
        if let Some(n) = plain_integer(raw) {
            return Some(Value::from(n));
        }
        serde_json::from_str(raw).ok()
    }

    /// A value nobody reads, checked to be JSON as serde would check it.
    fn ignore(&mut self) -> Option<()> {
        self.ws();
        if self.byte() == Some(b'"') {
            return self.string().map(drop);
        }
        serde_json::from_str::<IgnoredAny>(self.skip()?)
            .ok()
            .map(drop)
    }

    /// A list between `open` and `close`, its elements separated by commas and each read by
    /// `element`.
    fn list(
        &mut self,
        open: u8,
        close: u8,
        mut element: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        self.ws();
        if self.byte() == Some(close) {
            self.at += 1;
            return Some(());
        }
        loop {
            element(self)?;
            self.ws();
            match self.byte()? {
                b',' => self.at += 1,
                b if b == close => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An object here, each member's value read by `member` (given the key).
    fn object(&mut self, mut member: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        self.list(b'{', b'}', |c| {
            let key = c.string()?;
            c.eat(b':')?;
            member(c, &key)
        })
    }

    /// A push body: its package typed, every other member as JSON (as `BodyParts` reads it).
    fn body(&mut self) -> Option<BodyParts> {
        let mut parts = BodyParts::default();
        self.object(|c, key| {
            if key == "syncPushPackage" {
                parts.package = Some(c.package()?);
            } else {
                parts.rest.insert(key.to_owned(), c.value()?);
            }
            Some(())
        })?;
        Some(parts)
    }

    /// `syncPushPackage`: its `data` items; none when it or they are null.
    fn package(&mut self) -> Option<Vec<PushItem>> {
        if self.null() {
            return Some(Vec::new());
        }
        let mut data: Option<Option<Vec<PushItem>>> = None;
        self.object(|c, key| match key {
            "data" => {
                let items = if c.null() { None } else { Some(c.items()?) };
                once(&mut data, items)
            }
            _ => c.ignore(),
        })?;
        Some(data.flatten().unwrap_or_default())
    }

    fn items(&mut self) -> Option<Vec<PushItem>> {
        let mut items = Vec::new();
        self.list(b'[', b']', |c| {
            items.push(c.item()?);
            Some(())
        })?;
        Some(items)
    }

    fn item(&mut self) -> Option<PushItem> {
        let mut biz_type: Option<Value> = None;
        let mut object_type: Option<Value> = None;
        let mut data: Option<Cow<'a, str>> = None;
        self.object(|c, key| match key {
            "bizType" => once(&mut biz_type, c.value()?),
            "objectType" => once(&mut object_type, c.value()?),
            "data" => once(&mut data, c.data()?),
            _ => c.ignore(),
        })?;
        Some(PushItem {
            biz: item_biz(biz_type.as_ref(), object_type.as_ref()),
            data: data?.into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the general reader makes of `text`, the way it did before this reader existed.
    fn general(text: &str) -> Option<Frame> {
        Frame::parse_general(text).ok()
    }

    #[test]
    fn a_sync_push_reads_as_the_general_reader_reads_it() {
        let frames = [
            r#"{"headers":{"mid":"1 0","sid":"s"},"lwp":"/s/sync","body":{"syncPushPackage":{"data":[{"bizType":40,"data":"gqF/wA==","streamId":"x"},{"objectType":"40006","data":"AA=="}],"more":[1,{"a":"}"}]},"syncExtraType":{"type":2}}}"#,
            // Body before the path, whitespace everywhere, an escaped slash in a data.
            " { \"body\" : { \"syncPushPackage\" : { \"data\" : [ { \"data\" : \"gq\\/F\" , \"bizType\" : \"40\" } ] } } , \"lwp\" : \"/s/sync_failover\" , \"headers\" : { } } ",
            r#"{"lwp":"/s/para","headers":{},"body":{"syncPushPackage":null}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":null}}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":[]},"x":{}}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"other":1}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{},"extra":[true,null,-1.5e3]}"#,
            // Keys spelled with escapes mean what they spell.
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"\u0064ata":[{"data":"QQ=="}]}}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":[{"data":"QQ==","bizType":null,"objectType":7}]}}}"#,
        ];
        for text in frames {
            let fast = sync_frame(text).unwrap_or_else(|| panic!("not read: {text}"));
            assert_eq!(Some(fast), general(text), "{text}");
        }
    }

    /// Every WebSocket frame of the samples reads the same both ways, and the sync pushes
    /// among them take this reader.
    #[test]
    fn the_sample_frames_read_as_the_general_reader_reads_them() {
        let Some(dir) = crate::test_samples::dir() else {
            return;
        };
        let mut pushes = 0;
        for sub in ["constructed", "real"] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !(name.starts_with("ws-") && name.ends_with(".json")) {
                    continue;
                }
                let text = std::fs::read_to_string(entry.path()).expect("readable sample");
                let general = general(&text);
                let fast = sync_frame(&text);
                if name.starts_with("ws-push-sync") {
                    assert!(fast.is_some(), "{name} not read by the scan");
                    pushes += 1;
                }
                if let Some(fast) = fast {
                    assert_eq!(Some(fast), general, "{name}");
                }
                assert_eq!(Frame::parse_push(&text).ok(), general, "{name}");
            }
        }
        assert!(pushes >= 2, "sync push samples: {pushes}");
    }

    #[test]
    fn other_shapes_are_left_to_the_general_reader() {
        let frames = [
            // Not a sync push.
            r#"{"code":200,"headers":{"mid":"1"},"body":{"a":1}}"#,
            r#"{"lwp":"/s/vulcan","headers":{},"body":{}}"#,
            r#"{"lwp":"/s/sync","body":{}}"#,
            r#"{"lwp":"/s/sync","headers":[],"body":{}}"#,
            r#"{"lwp":"/s/sync","headers":{}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":[]}"#,
            // Fields twice, items of other shapes.
            r#"{"lwp":"/s/sync","lwp":"/s/sync","headers":{},"body":{}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{},"body":{}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":[{"data":"A","data":"B"}]}}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":[["A"]]}}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":[{"bizType":1}]}}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":[{"data":5}]}}}"#,
            // Not JSON at all, or not quite.
            "",
            "{",
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":[{"data":"A"}]}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{}} x"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{},}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"x":tru}}"#,
            "{\"lwp\":\"/s/sync\",\"headers\":{},\"body\":{\"x\":\"A\tB\"}}",
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":[{"bizType":01,"data":"A"}]}}}"#,
            r#"{"lwp":"/s/sync","headers":{},"body":{"syncPushPackage":{"data":[{"data":"AB\"#,
        ];
        for text in frames {
            assert_eq!(sync_frame(text), None, "{text}");
        }
    }

    #[test]
    fn a_control_character_in_one_data_costs_that_item_alone() {
        let text = "{\"lwp\":\"/s/sync\",\"headers\":{},\"body\":{\"syncPushPackage\":{\"data\":[{\"bizType\":40,\"data\":\"A\tB\"},{\"bizType\":40,\"data\":\"QQ==\"}]}}}";
        let sync = sync_frame(text).and_then(|f| f.sync).expect("read");
        let data: Vec<&str> = sync.items.iter().map(|i| i.data.as_str()).collect();
        assert_eq!(data, ["A\tB", "QQ=="]);
        let uid = crate::protocol::Uid::new("1");
        assert!(matches!(
            crate::protocol::sync::decode_item(&sync.items[0].data, Some(40), &uid),
            crate::protocol::SyncEvent::Undecodable { .. }
        ));
    }

    #[test]
    fn plain_integers_are_read_as_serde_reads_them() {
        for raw in ["0", "7", "40000", "9999999999999999999"] {
            assert_eq!(
                plain_integer(raw).map(Value::from),
                serde_json::from_str::<Value>(raw).ok(),
                "{raw}"
            );
        }
        for raw in [
            "",
            "01",
            "-1",
            "1.0",
            "1e3",
            "18446744073709551616",
            "12345678901234567890",
        ] {
            assert_eq!(plain_integer(raw), None, "{raw}");
        }
    }

    #[test]
    fn a_byte_to_escape_is_found_wherever_it_is() {
        let clean = "Zm9v买家".repeat(20);
        assert!(plain_in_json_string(clean.as_bytes()));
        for bad in [b'\n', 0, 0x1f, b'"', b'\\'] {
            for at in [0, 15, 16, 17, 100, 139] {
                let mut b = clean.clone().into_bytes();
                if let Some(x) = b.get_mut(at) {
                    *x = bad;
                }
                assert!(!plain_in_json_string(&b), "{bad} at {at}");
            }
        }
    }
}

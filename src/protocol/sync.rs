//! Sync push decoding (§7): `/s/sync` body → items → base64 → JSON | msgpack → typed events.
//!
//! Pure: no sockets, no clocks. Every input is untrusted, so nothing here panics, preallocates
//! from a length prefix, or recurses without a bound; what cannot be understood becomes
//! [`SyncEvent::Undecodable`] with a reason.
//!
//! Chat messages are the hot path. Their msgpack is walked in place (borrowed slices of the
//! decoded bytes) straight into a [`Message`]; only the strings that end up in it are
//! allocated. The generic tree ([`item_to_json`]) is for display and debugging only.

use std::borrow::Cow;
use std::cell::RefCell;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use compact_str::CompactString;
use rmp::Marker;
use serde_json::{Map, Value};

use super::content::{Extension, parse_content, plain_text, query_param};
use super::event::SyncEvent;
use super::ids::{Cid, MessageId, Uid};
use super::lenient::json_int;
use super::model::{Content, Message};
use super::push_body::{self, SyncPush};

/// Item `bizType` values this module acts on (§7.2; the table itself is [U]).
pub mod biz_type {
    pub const MESSAGE: i64 = 40000;
    pub const TYPING: i64 = 40006;
    pub const READ: i64 = 40102;
    pub const READ_BY_PEER: i64 = 40103;
    pub const RECALL: i64 = 40104;
}

/// `raw` of an `Undecodable` event is cut to this many bytes (on a char boundary).
pub const MAX_RAW_LEN: usize = 4096;

/// Nesting bound for the generic tree; real items nest 4 levels.
pub const MAX_DEPTH: usize = 128;

/// Why an item's bytes could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty item")]
    Empty,
    #[error("invalid base64: {0}")]
    Base64(String),
    #[error("msgpack truncated at byte {0}")]
    Truncated(usize),
    #[error("reserved msgpack marker 0xc1 at byte {0}")]
    ReservedMarker(usize),
    #[error("value nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("invalid JSON: {0}")]
    Json(String),
}

/// The events of one `/s/sync` body, in item order.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedPush {
    pub events: Vec<SyncEvent>,
    /// `syncExtraType.type`: 1 or 2 ask the client to run getState + ackDiff (§7.1).
    pub sync_extra_type: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// base64 (§7.3 step 1)

/// `=` padding optional; stray low bits tolerated.
const B64_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);

/// Scalar engine, standard alphabet: the cleaned-up path and encoding.
const B64: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, B64_CONFIG);

/// The fast path: the crate's SIMD engine (AVX2 / NEON when the CPU has them, else scalar).
/// Base64 is about half of the cost of decoding a chat item, so this matters.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn fast_decode(s: &str, out: &mut Vec<u8>) -> bool {
    static SIMD: std::sync::LazyLock<base64::engine::Simd> =
        std::sync::LazyLock::new(|| base64::engine::Simd::standard(B64_CONFIG));
    SIMD.decode_vec(s, out).is_ok()
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn fast_decode(s: &str, out: &mut Vec<u8>) -> bool {
    B64.decode_vec(s, out).is_ok()
}

/// Decodes an item's base64, tolerating whitespace, missing or extra padding, the url-safe
/// alphabet (`-`, `_`) and stray characters (dropped, as the web client does).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    decode_base64_into(s, &mut out)?;
    Ok(out)
}

/// As [`decode_base64`], into a reusable buffer (cleared first).
fn decode_base64_into(s: &str, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    // Fast path: clean standard base64, padded or not.
    if fast_decode(s, out) {
        return Ok(());
    }
    out.clear();
    let clean: Vec<u8> = s
        .bytes()
        .filter_map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => Some(b),
            b'-' => Some(b'+'),
            b'_' => Some(b'/'),
            _ => None,
        })
        .collect();
    if clean.len() % 4 == 1 {
        // A lone trailing symbol carries 6 bits: not even one byte. `atob` rejects this too.
        return Err(DecodeError::Base64(format!(
            "{} symbols leave a dangling one",
            clean.len()
        )));
    }
    B64.decode_vec(&clean, out)
        .map_err(|e| DecodeError::Base64(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Borrowed msgpack reader

/// The reader's own error: small and `Copy`, as it travels through every read. It holds the
/// number of bytes that were left unread (the reader does not know where its input began);
/// [`MpError::at`] turns that into a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MpError {
    Truncated { left: usize },
    ReservedMarker { left: usize },
}

impl MpError {
    /// The error with its byte position in an input of `len` bytes.
    fn at(self, len: usize) -> DecodeError {
        match self {
            MpError::Truncated { left } => DecodeError::Truncated(len.saturating_sub(left)),
            MpError::ReservedMarker { left } => {
                DecodeError::ReservedMarker(len.saturating_sub(left))
            }
        }
    }
}

/// One msgpack value, borrowed from the decoded item. Containers keep their encoded body, so
/// walking into them is cheap and building a tree is never needed.
// A word-sized tag keeps every field 8-byte aligned: with a byte tag, copies of `V` read
// bytes 1..8 with overlapping loads that stalled on store forwarding (a quarter of the time).
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
enum V<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    /// Only for values above `i64::MAX`.
    UInt(u64),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Ext(i64, &'a [u8]),
    Array(Seq<'a>),
    Map(Seq<'a>),
}

/// The children of an array or map: `len` values (arrays) or pairs (maps), encoded in `body`,
/// which has already been checked to hold them all.
#[derive(Clone, Copy, Debug)]
struct Seq<'a> {
    len: usize,
    body: &'a [u8],
}

/// A reader over the bytes not yet read. Two words, so it travels in registers: with a
/// position kept in memory, every read waited on the store of the one before.
#[derive(Clone, Copy)]
struct Rd<'a> {
    rest: &'a [u8],
}

impl<'a> Rd<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { rest: buf }
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<&'a [u8], MpError> {
        let (s, rest) = self.rest.split_at_checked(n).ok_or(MpError::Truncated {
            left: self.rest.len(),
        })?;
        self.rest = rest;
        Ok(s)
    }

    #[inline(always)]
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], MpError> {
        let (a, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(MpError::Truncated {
                left: self.rest.len(),
            })?;
        self.rest = rest;
        Ok(*a)
    }

    /// What was read since the reader was at `start`.
    fn since(&self, start: Rd<'a>) -> &'a [u8] {
        let read = start.rest.len().saturating_sub(self.rest.len());
        start.rest.get(..read).unwrap_or_default()
    }

    fn len8(&mut self) -> Result<usize, MpError> {
        Ok(usize::from(self.arr::<1>()?[0]))
    }
    fn len16(&mut self) -> Result<usize, MpError> {
        Ok(usize::from(u16::from_be_bytes(self.arr()?)))
    }
    fn len32(&mut self) -> Result<usize, MpError> {
        // Lengths only ever slice the input, so a huge one just fails as truncated.
        Ok(u32::from_be_bytes(self.arr()?) as usize)
    }

    fn ext(&mut self, len: usize) -> Result<V<'a>, MpError> {
        let ty = i64::from(i8::from_be_bytes(self.arr()?));
        Ok(V::Ext(ty, self.take(len)?))
    }

    /// Reads one value's header (and payload, for scalars). Containers come back with an
    /// empty body and the reader positioned on their first child.
    // Inlined: returned through memory, the value's copy stalled on store forwarding.
    #[inline(always)]
    fn head(&mut self) -> Result<V<'a>, MpError> {
        let left = self.rest.len();
        let seq = |len: usize| V::Array(Seq { len, body: &[] });
        let map = |len: usize| V::Map(Seq { len, body: &[] });
        let byte = self.arr::<1>()?[0];
        // The markers of nearly every value of a chat item first, without the general table.
        match byte {
            0x00..=0x7f => return Ok(V::Int(i64::from(byte))),
            0xa0..=0xbf => return Ok(V::Str(self.take(usize::from(byte & 0x1f))?)),
            0x80..=0x8f => return Ok(map(usize::from(byte & 0x0f))),
            _ => {}
        }
        Ok(match Marker::from_u8(byte) {
            Marker::FixPos(n) => V::Int(i64::from(n)),
            Marker::FixNeg(n) => V::Int(i64::from(n)),
            Marker::FixMap(n) => map(usize::from(n)),
            Marker::FixArray(n) => seq(usize::from(n)),
            Marker::FixStr(n) => V::Str(self.take(usize::from(n))?),
            Marker::Null => V::Nil,
            Marker::Reserved => return Err(MpError::ReservedMarker { left }),
            Marker::False => V::Bool(false),
            Marker::True => V::Bool(true),
            Marker::Bin8 => {
                let n = self.len8()?;
                V::Bin(self.take(n)?)
            }
            Marker::Bin16 => {
                let n = self.len16()?;
                V::Bin(self.take(n)?)
            }
            Marker::Bin32 => {
                let n = self.len32()?;
                V::Bin(self.take(n)?)
            }
            Marker::Ext8 => {
                let n = self.len8()?;
                self.ext(n)?
            }
            Marker::Ext16 => {
                let n = self.len16()?;
                self.ext(n)?
            }
            Marker::Ext32 => {
                let n = self.len32()?;
                self.ext(n)?
            }
            Marker::FixExt1 => self.ext(1)?,
            Marker::FixExt2 => self.ext(2)?,
            Marker::FixExt4 => self.ext(4)?,
            Marker::FixExt8 => self.ext(8)?,
            Marker::FixExt16 => self.ext(16)?,
            Marker::F32 => V::Float(f64::from(f32::from_be_bytes(self.arr()?))),
            Marker::F64 => V::Float(f64::from_be_bytes(self.arr()?)),
            Marker::U8 => V::Int(i64::from(self.arr::<1>()?[0])),
            Marker::U16 => V::Int(i64::from(u16::from_be_bytes(self.arr()?))),
            Marker::U32 => V::Int(i64::from(u32::from_be_bytes(self.arr()?))),
            Marker::U64 => {
                let n = u64::from_be_bytes(self.arr()?);
                i64::try_from(n).map_or(V::UInt(n), V::Int)
            }
            Marker::I8 => V::Int(i64::from(i8::from_be_bytes(self.arr()?))),
            Marker::I16 => V::Int(i64::from(i16::from_be_bytes(self.arr()?))),
            Marker::I32 => V::Int(i64::from(i32::from_be_bytes(self.arr()?))),
            Marker::I64 => V::Int(i64::from_be_bytes(self.arr()?)),
            Marker::Str8 => {
                let n = self.len8()?;
                V::Str(self.take(n)?)
            }
            Marker::Str16 => {
                let n = self.len16()?;
                V::Str(self.take(n)?)
            }
            Marker::Str32 => {
                let n = self.len32()?;
                V::Str(self.take(n)?)
            }
            Marker::Array16 => seq(self.len16()?),
            Marker::Array32 => seq(self.len32()?),
            Marker::Map16 => map(self.len16()?),
            Marker::Map32 => map(self.len32()?),
        })
    }

    /// Skips `n` whole values.
    // The walk goes by value and answers with an `Option` (two words, in registers): a
    // reader whose address is passed to a call lives in memory, and each read then waits on
    // the store of the one before.
    #[inline(always)]
    fn skip(&mut self, n: u64) -> Result<(), MpError> {
        match Self::skipped(*self, n) {
            Some(rd) => {
                *self = rd;
                Ok(())
            }
            None => Err(self.skip_error(n)),
        }
    }

    /// `rd` after `n` whole values, or `None` when they are not all there or not valid. No
    /// recursion: a counter of values still owed. Every value takes at least one byte, so a
    /// lying length prefix ends early, not in a long loop.
    fn skipped(mut rd: Rd<'a>, mut n: u64) -> Option<Rd<'a>> {
        while n > 0 {
            n -= 1;
            match rd.head().ok()? {
                V::Array(s) => n += s.len as u64,
                V::Map(s) => n += 2 * s.len as u64,
                _ => {}
            }
        }
        Some(rd)
    }

    /// Why [`skipped`](Self::skipped) failed: the same walk, keeping the error.
    #[cold]
    fn skip_error(mut self, mut n: u64) -> MpError {
        while n > 0 {
            n -= 1;
            match self.head() {
                Ok(V::Array(s)) => n += s.len as u64,
                Ok(V::Map(s)) => n += 2 * s.len as u64,
                Ok(_) => {}
                Err(e) => return e,
            }
        }
        MpError::Truncated {
            left: self.rest.len(),
        }
    }

    /// Reads one complete value; containers get their body and are skipped over.
    // Inlined: called once per scalar, the call itself cost more than reading most values.
    #[inline(always)]
    fn value(&mut self) -> Result<V<'a>, MpError> {
        let v = self.head()?;
        let (seq, owed) = match v {
            V::Array(s) => (s, s.len as u64),
            V::Map(s) => (s, 2 * s.len as u64),
            scalar => return Ok(scalar),
        };
        let start = *self;
        self.skip(owed)?;
        let seq = Seq {
            len: seq.len,
            body: self.since(start),
        };
        Ok(match v {
            V::Array(_) => V::Array(seq),
            _ => V::Map(seq),
        })
    }
}

impl<'a> Rd<'a> {
    /// Enters a map: its entry count, with the reader on its first key. Any other value is
    /// skipped whole and `None` returned.
    #[inline(always)]
    fn enter_map(&mut self) -> Result<Option<usize>, MpError> {
        match self.head()? {
            V::Map(s) => Ok(Some(s.len)),
            V::Array(s) => self.skip(s.len as u64).map(|()| None),
            _ => Ok(None),
        }
    }

    /// Reads `len` map entries, calling `f` with each key and the reader on its value; `f`
    /// returns whether it consumed the value (otherwise it is skipped).
    #[inline(always)]
    fn entries(
        &mut self,
        len: usize,
        mut f: impl FnMut(&mut Self, V<'a>) -> Result<bool, MpError>,
    ) -> Result<(), MpError> {
        for _ in 0..len {
            let k = self.value()?;
            if !f(self, k)? {
                self.skip(1)?;
            }
        }
        Ok(())
    }
}

impl<'a> Seq<'a> {
    /// The array's elements.
    fn items(self) -> impl Iterator<Item = V<'a>> {
        let mut rd = Rd::new(self.body);
        // The body was validated when it was skipped, so reading it again cannot fail.
        (0..self.len).map_while(move |_| rd.value().ok())
    }

    /// The map's key/value pairs.
    fn pairs(self) -> impl Iterator<Item = (V<'a>, V<'a>)> {
        let mut rd = Rd::new(self.body);
        (0..self.len).map_while(move |_| Some((rd.value().ok()?, rd.value().ok()?)))
    }

    /// Values of small numeric keys (integer keys, or their decimal strings), later keys
    /// winning like in a JSON object.
    fn slots<const N: usize>(self) -> [Option<V<'a>>; N] {
        let mut out = [None; N];
        for (k, v) in self.pairs() {
            if let Some(slot) = key_num(k).and_then(|i| out.get_mut(i)) {
                *slot = Some(v);
            }
        }
        out
    }

    /// The value of a string key.
    fn get(self, name: &str) -> Option<V<'a>> {
        self.pairs()
            .filter(|(k, _)| key_bytes(*k) == Some(name.as_bytes()))
            .map(|(_, v)| v)
            .last()
    }
}

/// UTF-8, repaired only when broken (`from_utf8` is much faster than the lossy scan).
#[inline(always)]
fn utf8(s: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(s) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(s),
    }
}

#[inline(always)]
fn key_num(k: V<'_>) -> Option<usize> {
    match k {
        V::Int(n) => usize::try_from(n).ok(),
        // Tolerate string keys "1", "10"… (a JSON-minded encoder).
        V::Str(s) | V::Bin(s) if !s.is_empty() && s.len() <= 3 => {
            std::str::from_utf8(s).ok()?.parse().ok()
        }
        _ => None,
    }
}

fn key_bytes(k: V<'_>) -> Option<&[u8]> {
    match k {
        V::Str(s) | V::Bin(s) => Some(s),
        _ => None,
    }
}

// Lenient scalar views: the service writes numbers as strings and strings as bin in places.

#[inline(always)]
fn text(v: Option<V<'_>>) -> Option<Cow<'_, str>> {
    match v? {
        V::Str(s) | V::Bin(s) => Some(utf8(s)),
        V::Int(n) => Some(Cow::Owned(n.to_string())),
        V::UInt(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// Non-empty text.
fn text_ne(v: Option<V<'_>>) -> Option<Cow<'_, str>> {
    // Stops at the first visible character, where `trim` looks at both ends.
    text(v).filter(|s| s.chars().any(|c| !c.is_whitespace()))
}

fn int(v: Option<V<'_>>) -> Option<i64> {
    match v? {
        V::Int(n) => Some(n),
        V::UInt(n) => i64::try_from(n).ok(),
        V::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18 => Some(f as i64),
        V::Str(s) | V::Bin(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn flag(v: Option<V<'_>>) -> Option<bool> {
    match v? {
        V::Bool(b) => Some(b),
        V::Int(n) => Some(n != 0),
        V::Str(s) | V::Bin(s) => match s.trim_ascii() {
            t if t.eq_ignore_ascii_case(b"true") || t == b"1" => Some(true),
            t if t.eq_ignore_ascii_case(b"false") || t == b"0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn as_map(v: Option<V<'_>>) -> Option<Seq<'_>> {
    match v? {
        V::Map(s) => Some(s),
        _ => None,
    }
}

fn is_pnm(s: &str) -> bool {
    s.strip_suffix(".PNM")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// The `10` block (and the `4` block of a card update)

/// Keys of [`Extension`], in the order of `ExtSlots`.
const EXT_KEYS: [&str; 10] = [
    "reminderTitle",
    "reminderContent",
    "reminderUrl",
    "senderUserId",
    "senderNick",
    "sessionType",
    "redReminder",
    "extJson",
    "bizTag",
    "detailNotice",
];
const EXT_REMINDER_CONTENT: usize = 1;
const EXT_REMINDER_URL: usize = 2;
const EXT_JSON: usize = 7;
const EXT_BIZ_TAG: usize = 8;
const EXT_DETAIL_NOTICE: usize = 9;

fn ext_index(k: &[u8]) -> Option<usize> {
    Some(match k {
        b"reminderTitle" => 0,
        b"reminderContent" => 1,
        b"reminderUrl" => 2,
        b"senderUserId" => 3,
        b"senderNick" => 4,
        b"sessionType" => 5,
        b"redReminder" => 6,
        b"extJson" => 7,
        b"bizTag" => 8,
        b"detailNotice" => 9,
        _ => return None,
    })
}

/// The extension block's known values: raw as read, and as text once [`load`](Self::load)ed
/// (repaired if needed: invalid UTF-8, a number where a string belongs), so an
/// [`Extension`] can borrow them. Loading is per key because checking UTF-8 of the long JSON
/// values costs time and they are rarely needed.
#[derive(Default)]
struct ExtSlots<'a> {
    raw: [Option<V<'a>>; 10],
    text: [Option<Cow<'a, str>>; 10],
}

impl<'a> ExtSlots<'a> {
    /// Reads a whole (already validated) map and loads every key.
    fn read(map: Option<Seq<'a>>) -> Self {
        let mut slots = Self::default();
        if let Some(m) = map {
            // The body was validated when skipped; a failure here cannot happen.
            let _ = slots.fill(Rd::new(m.body), m.len);
        }
        (0..EXT_KEYS.len()).for_each(|i| slots.load(i));
        slots
    }

    /// Reads a map's `len` entries from `rd`, keeping the known keys; returns the reader
    /// after the map. By value, like [`Rd::skip`].
    fn fill(&mut self, mut rd: Rd<'a>, len: usize) -> Result<Rd<'a>, MpError> {
        rd.entries(len, |rd, k| {
            let Some(i) = key_bytes(k).and_then(ext_index) else {
                return Ok(false);
            };
            let v = rd.value()?;
            if let Some(slot) = self.raw.get_mut(i) {
                *slot = Some(v);
            }
            Ok(true)
        })?;
        Ok(rd)
    }

    fn load(&mut self, i: usize) {
        if let (Some(t @ None), Some(raw)) = (self.text.get_mut(i), self.raw.get(i)) {
            *t = text(*raw);
        }
    }

    fn view(&self) -> Extension<'_> {
        let t = |i: usize| self.text.get(i).and_then(Option::as_deref);
        // By index, in the order of `EXT_KEYS`.
        Extension {
            reminder_title: t(0),
            reminder_content: t(1),
            reminder_url: t(2),
            sender_user_id: t(3),
            sender_nick: t(4),
            session_type: t(5),
            red_reminder: t(6),
            ext_json: t(7),
            biz_tag: t(8),
            detail_notice: t(9),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Items

thread_local! {
    /// Reused decode buffer: one less allocation per item on the hot path.
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Decodes and classifies one item's `data` (base64). `biz_type` is the item's outer
/// `bizType` when known; `self_uid` decides `is_self`. Never panics.
pub fn decode_item(data: &str, biz_type: Option<i64>, self_uid: &Uid) -> SyncEvent {
    let pooled = BUF.try_with(|cell| {
        let mut buf = cell.try_borrow_mut().ok()?;
        let ev = decode_item_with(data, biz_type, self_uid, &mut buf);
        if buf.capacity() > MAX_POOLED {
            // One huge item must not pin its memory for the thread's lifetime.
            *buf = Vec::new();
        }
        Some(ev)
    });
    match pooled {
        Ok(Some(ev)) => ev,
        // Thread teardown, or re-entry: decode with a buffer of its own.
        _ => decode_item_with(data, biz_type, self_uid, &mut Vec::new()),
    }
}

/// Largest decode buffer kept between items.
const MAX_POOLED: usize = 256 * 1024;

fn decode_item_with(data: &str, biz: Option<i64>, self_uid: &Uid, buf: &mut Vec<u8>) -> SyncEvent {
    if let Err(e) = decode_base64_into(data, buf) {
        return undecodable(e.to_string(), data);
    }
    let bytes = buf.as_slice();
    if bytes.is_empty() {
        return undecodable(DecodeError::Empty.to_string(), data);
    }
    let mut json_err = None;
    if looks_like_json(bytes) {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => return classify_json(v, biz),
            // `{` is also msgpack fixint 123: let msgpack have a go before giving up.
            Err(e) => json_err = Some(e.to_string()),
        }
    }
    // Trailing bytes after the first value are ignored: one client decodes concatenated
    // values, and the first one is all a chat item has ever held.
    let mut top = Top::default();
    let not_map = match read_top(bytes, &mut top) {
        Ok(t) => t,
        Err(e) => {
            let reason = match json_err {
                Some(j) => format!("neither JSON ({j}) nor msgpack ({})", e.at(bytes.len())),
                None => format!("bad msgpack: {}", e.at(bytes.len())),
            };
            return undecodable(reason, data);
        }
    };
    let classified = match not_map {
        Some(v) => Err(format!("msgpack item is {}, not a map", kind_name(v))),
        None => classify(bytes, &mut top, biz, self_uid),
    };
    match classified {
        Ok(ev) => ev,
        Err(reason) => match json_err {
            Some(j) => undecodable(format!("not JSON ({j}); as msgpack: {reason}"), data),
            None => undecodable(reason, data),
        },
    }
}

fn looks_like_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

fn undecodable(reason: impl Into<String>, raw: &str) -> SyncEvent {
    SyncEvent::Undecodable {
        reason: reason.into(),
        raw: truncate(raw),
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_RAW_LEN {
        return s.to_string();
    }
    let end = s.floor_char_boundary(MAX_RAW_LEN);
    format!("{}…", s.get(..end).unwrap_or_default())
}

fn kind_name(v: V<'_>) -> &'static str {
    match v {
        V::Nil => "nil",
        V::Bool(_) => "a bool",
        V::Int(_) | V::UInt(_) => "an integer",
        V::Float(_) => "a float",
        V::Str(_) => "a string",
        V::Bin(_) => "bin",
        V::Ext(..) => "ext",
        V::Array(_) => "an array",
        V::Map(_) => "a map",
    }
}

/// The top level of a msgpack item, read in one pass: a chat message's map (field `1`) is
/// taken apart on the way, other small-numbered fields are kept whole. Filled in place: it is
/// large, and moving it around showed in profiles.
#[derive(Default)]
struct Top<'a> {
    f: [Option<V<'a>>; 7],
    /// Field `1` was a map, taken apart into `msg`.
    is_msg: bool,
    msg: MsgParts<'a>,
}

/// Reads the item's top-level map into `top`; a value that is not a map is returned instead.
fn read_top<'a>(bytes: &'a [u8], top: &mut Top<'a>) -> Result<Option<V<'a>>, MpError> {
    let mut rd = Rd::new(bytes);
    let len = match rd.head()? {
        V::Map(s) => s.len,
        _ => return Rd::new(bytes).value().map(Some),
    };
    rd.entries(len, |rd, k| {
        let Some(i) = key_num(k).filter(|&i| i < 7) else {
            return Ok(false);
        };
        if i == 1 {
            let at = *rd;
            if let V::Map(s) = rd.head()? {
                let start = *rd;
                if top.is_msg {
                    // A repeated field 1: the last one wins, as in a JSON object.
                    top.msg = MsgParts::default();
                }
                *rd = top.msg.read(*rd, s.len)?;
                top.is_msg = true;
                let body = rd.since(start);
                top.f[1] = Some(V::Map(Seq { len: s.len, body }));
                return Ok(true);
            }
            *rd = at;
        }
        let v = rd.value()?;
        if let Some(slot) = top.f.get_mut(i) {
            *slot = Some(v);
        }
        Ok(true)
    })?;
    Ok(None)
}

/// The parts of a chat message's map (§7.4) a [`Message`] is made of, borrowed.
#[derive(Default)]
struct MsgParts<'a> {
    /// `1.1` … `1.5`, by key.
    f: [Option<V<'a>>; 6],
    /// `1.6.1`, the message-level content type.
    outer_type: Option<V<'a>>,
    /// `1.6.3.1` … `1.6.3.5`, by key.
    body: [Option<V<'a>>; 6],
    /// `1.10`.
    ext: ExtSlots<'a>,
}

impl<'a> MsgParts<'a> {
    /// Reads the message map's `len` entries; returns the reader after the map. By value,
    /// like [`Rd::skip`].
    fn read(&mut self, mut rd: Rd<'a>, len: usize) -> Result<Rd<'a>, MpError> {
        let p = self;
        rd.entries(len, |rd, k| {
            match key_num(k) {
                Some(i @ 1..=5) => {
                    let v = rd.value()?;
                    if let Some(slot) = p.f.get_mut(i) {
                        *slot = Some(v);
                    }
                }
                Some(6) => {
                    if let Some(n) = rd.enter_map()? {
                        rd.entries(n, |rd, k| match key_num(k) {
                            Some(1) => {
                                p.outer_type = Some(rd.value()?);
                                Ok(true)
                            }
                            Some(3) => {
                                if let Some(n) = rd.enter_map()? {
                                    rd.entries(n, |rd, k| match key_num(k) {
                                        Some(i @ 1..=5) => {
                                            let v = rd.value()?;
                                            if let Some(slot) = p.body.get_mut(i) {
                                                *slot = Some(v);
                                            }
                                            Ok(true)
                                        }
                                        _ => Ok(false),
                                    })?;
                                }
                                Ok(true)
                            }
                            _ => Ok(false),
                        })?;
                    }
                }
                Some(10) => {
                    if let Some(n) = rd.enter_map()? {
                        *rd = p.ext.fill(*rd, n)?;
                    }
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(rd)
    }
}

/// Sorts a msgpack item into an event by its layout (§7.4, §7.5), with the outer `bizType` as
/// a hint where layouts are ambiguous or unknown.
fn classify<'a>(
    bytes: &'a [u8],
    top: &mut Top<'a>,
    biz: Option<i64>,
    self_uid: &Uid,
) -> Result<SyncEvent, String> {
    let f = &top.f;
    if biz == Some(biz_type::RECALL)
        && let Some(ev) = recall(bytes, f)
    {
        return Ok(ev);
    }
    if top.is_msg {
        return message(&mut top.msg, &top.f, self_uid);
    }
    match f[1] {
        Some(V::Array(a)) => {
            if let Some(ev) = receipt(f, biz) {
                return Ok(ev);
            }
            typing(a.items().next(), f, biz)
                .ok_or_else(|| "field 1 is an array but neither a receipt nor typing".into())
        }
        Some(V::Str(_) | V::Bin(_)) => receipt(f, biz)
            .or_else(|| order_status(f))
            .or_else(|| card_update(f))
            .ok_or_else(|| "field 1 is a string but the layout is unknown".into()),
        Some(other) => Err(format!("field 1 is {}: unknown layout", kind_name(other))),
        None => Err("no field 1: unknown layout".into()),
    }
}

/// A chat message (§7.4, fields §7.9).
fn message(
    p: &mut MsgParts<'_>,
    top: &[Option<V<'_>>; 7],
    self_uid: &Uid,
) -> Result<SyncEvent, String> {
    let id = text_ne(p.f[3]).ok_or("message without an id (1.3)")?;
    let cid = text_ne(p.f[2]).ok_or("message without a conversation id (1.2)")?;

    // Extension values needed in every case; the item id straight from reminderUrl's bytes
    // (the long URL is otherwise unused), extJson only when it may hold the send uuid, bizTag
    // only when the URL has no item id, the fallback summaries only when 1.6.3.2 is empty.
    for i in [0, 3, 4, 5, 6] {
        p.ext.load(i);
    }
    let json = text_ne(p.body[5]).or_else(|| legacy_content(p.body[1]));
    // Most chat messages: the text straight from its content JSON, no summary needed.
    let plain = json
        .as_deref()
        .and_then(plain_text)
        .map(|t| Content::Text { text: t.into() });
    let summary = if plain.is_some() {
        None
    } else {
        text_ne(p.body[2])
    };
    let url_item = match p.ext.raw[EXT_REMINDER_URL] {
        Some(V::Str(b) | V::Bin(b)) => query_param_bytes(b, b"itemId"),
        other => text(other).and_then(|u| query_param(&u, "itemId").map(CompactString::from)),
    };
    if url_item.is_none() {
        p.ext.load(EXT_REMINDER_URL);
        p.ext.load(EXT_BIZ_TAG);
        p.ext.load(EXT_JSON);
    } else if matches!(p.ext.raw[EXT_JSON], Some(V::Str(b) | V::Bin(b)) if mentions_uuid(b)) {
        p.ext.load(EXT_JSON);
    }
    if plain.is_none() && summary.is_none() {
        p.ext.load(EXT_REMINDER_CONTENT);
        p.ext.load(EXT_DETAIL_NOTICE);
    }
    let ext = p.ext.view();

    let sender = match ext
        .sender_user_id
        .filter(|s| s.chars().any(|c| !c.is_whitespace()))
    {
        Some(s) => Uid::new(s),
        // Some echoes of own messages omit senderUserId (§7.4).
        None => match p.f[1] {
            Some(V::Map(s)) => text(s.slots::<2>()[1]).map(Uid::new).unwrap_or_default(),
            other => text(other).map(Uid::new).unwrap_or_default(),
        },
    };

    // 1.6.1 is the message-level type, 101 ("custom") for all user content; any other value
    // is taken as the inner type when 1.6.3.4 is missing.
    let content = plain.unwrap_or_else(|| {
        let type_hint = int(p.body[4]).or(int(p.outer_type).filter(|&t| t != 101));
        let summary = summary.as_deref().unwrap_or_else(|| ext.summary());
        parse_content(json.as_deref(), type_hint, summary)
    });

    let need_push = as_map(top[3])
        .and_then(|m| flag(m.get("needPush")))
        .unwrap_or(true);

    Ok(SyncEvent::Message(Message {
        id: MessageId::new(id),
        cid: Cid::new(cid),
        is_self: !sender.is_empty() && sender == *self_uid,
        sender,
        // 0 when absent: the caller knows the receive time better than a guess here.
        time: int(p.f[5]).unwrap_or(0),
        item_id: url_item.or_else(|| ext.item_id()),
        sender_nick: ext.sender_nick(&content),
        session_type: ext.session_type(),
        need_push,
        red_reminder: ext.red_reminder(),
        client_id: ext.client_uuid(),
        content,
    }))
}

/// `key`'s value in the query of a URL given as bytes, when it is non-empty valid UTF-8.
fn query_param_bytes(url: &[u8], key: &[u8]) -> Option<CompactString> {
    let q = url.iter().position(|&b| b == b'?')?;
    url.get(q + 1..)?.split(|&b| b == b'&').find_map(|pair| {
        let v = pair.strip_prefix(key)?.strip_prefix(b"=")?;
        let v = std::str::from_utf8(v).ok().filter(|v| !v.is_empty())?;
        Some(v.into())
    })
}

/// Whether an `extJson` value mentions a send uuid. The searcher is built once: building it
/// cost more than the search of a short value.
fn mentions_uuid(ext_json: &[u8]) -> bool {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"uuid\""));
    FINDER.find(ext_json).is_some()
}

/// Legacy content slot `1.6.3.1`: base64 of the content JSON, or (tolerated) the JSON itself.
fn legacy_content(v: Option<V<'_>>) -> Option<Cow<'_, str>> {
    let s = text_ne(v)?;
    if s.trim_start().starts_with('{') {
        return Some(s);
    }
    let bytes = decode_base64(&s).ok()?;
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

/// Read receipt (§7.5): `1` = PNM id or list of them, `2` = 2, cid in `4` (or `3`), time `6`.
/// With a receipt `bizType` (40102/40103) the `2 == 2` check is waived.
fn receipt(f: &[Option<V<'_>>; 7], biz: Option<i64>) -> Option<SyncEvent> {
    let by_biz = matches!(biz, Some(biz_type::READ | biz_type::READ_BY_PEER));
    if !by_biz && int(f[2]) != Some(2) {
        return None;
    }
    let ok = |s: &str| {
        if by_biz {
            !s.trim().is_empty()
        } else {
            is_pnm(s)
        }
    };
    let ids: Vec<MessageId> = match f[1]? {
        V::Array(a) => a
            .items()
            .filter_map(|v| text(Some(v)))
            .filter(|s| ok(s))
            .map(|s| MessageId::new(s.trim()))
            .collect(),
        v => text(Some(v))
            .filter(|s| ok(s))
            .map(|s| MessageId::new(s.trim()))
            .into_iter()
            .collect(),
    };
    if ids.is_empty() {
        return None;
    }
    // `3` is 0 in the plain form and the cid in the array form (§7.5).
    let cid = [f[4], f[3]]
        .into_iter()
        .find_map(|v| match v {
            Some(V::Str(_) | V::Bin(_)) => text_ne(v),
            _ => None,
        })
        .map(Cid::new);
    Some(SyncEvent::Receipt {
        cid,
        ids,
        time: int(f[6]),
    })
}

/// Typing (§7.5, layout [U], §12.6): `1` is an array whose first element is a map whose `1`
/// is `<uid>@goofish`; `2` is the cid (a guess). With bizType 40006 any `@goofish` uid there
/// will do.
fn typing(first: Option<V<'_>>, f: &[Option<V<'_>>; 7], biz: Option<i64>) -> Option<SyncEvent> {
    let uid = text_ne(as_map(first)?.slots::<2>()[1])?;
    if !uid.contains("@goofish") && biz != Some(biz_type::TYPING) {
        return None;
    }
    Some(SyncEvent::Typing {
        uid: Uid::new(uid),
        cid: text_ne(f[2]).map(Cid::new),
    })
}

/// Order status (§7.5, captured): `{1: "<cid>@goofish", 2: 1, 3: {redReminder,
/// redReminderStyle}, 4: <ms>}`. Field `1` is the conversation and `4` the time; an integer
/// `4` tells it from the card update, whose `4` is a map. Without a `4`, a non-string `2`
/// still means `1` is the conversation (the card update has its cid in `2`).
fn order_status(f: &[Option<V<'_>>; 7]) -> Option<SyncEvent> {
    let time = match f[4] {
        Some(V::Int(_) | V::UInt(_)) => int(f[4]),
        None if !matches!(f[2], Some(V::Str(_) | V::Bin(_))) => None,
        _ => return None,
    };
    let cid = text_ne(f[1]).filter(|c| c.contains("@goofish"))?;
    let red = as_map(f[3]).and_then(|m| text_ne(m.get("redReminder")))?;
    let red = red.trim().to_string();
    Some(SyncEvent::CardUpdate {
        cid: Some(Cid::new(cid.trim())),
        text: red.clone(),
        red_reminder: Some(red),
        update_key: None,
        time,
    })
}

/// Card update (§7.5, layout [U]): `1` a string, `2` cid, `3.redReminder`, `4` a `10`-like
/// block with `reminderContent`, `5` time. A known order state in `3.redReminder` with a
/// string cid in `2` and no block is accepted too (what the older detector read).
fn card_update(f: &[Option<V<'_>>; 7]) -> Option<SyncEvent> {
    const ORDER_STATES: [&str; 3] = ["等待买家付款", "交易关闭", "等待卖家发货"];
    let block = as_map(f[4]);
    let slots = ExtSlots::read(block);
    let ext = slots.view();
    let red3 = as_map(f[3]).and_then(|m| text_ne(m.get("redReminder")));
    let text = match ext.reminder_content.filter(|s| !s.is_empty()) {
        Some(t) => t.to_string(),
        None => {
            let uid_like = text(f[1]).is_some_and(|s| s.contains("@goofish"));
            let red = red3.as_deref().filter(|r| ORDER_STATES.contains(r))?;
            if !uid_like {
                return None;
            }
            red.to_string()
        }
    };
    let update_key = ext.ext_json.and_then(|j| {
        serde_json::from_str::<Value>(j)
            .ok()?
            .get("updateKey")?
            .as_str()
            .map(str::to_string)
    });
    Some(SyncEvent::CardUpdate {
        cid: text_ne(f[2]).map(Cid::new),
        text,
        red_reminder: red3.map(Cow::into_owned).or_else(|| ext.red_reminder()),
        update_key,
        time: int(f[5]),
    })
}

/// Recall (bizType 40104). Its layout was never published (§7.2 only names it), so this is a
/// tolerant guess [U]: the chat-message layout (`1.3` id, `1.2` cid) if present; otherwise the
/// first `<digits>.PNM` string anywhere in the item, plus the first `@goofish` string found
/// under a key that holds cids elsewhere (`2`, `3`, `4`, `cid`).
fn recall(bytes: &[u8], f: &[Option<V<'_>>; 7]) -> Option<SyncEvent> {
    if let Some(V::Map(m)) = f[1] {
        let g: [Option<V<'_>>; 4] = m.slots();
        if let Some(id) = text_ne(g[3]).filter(|s| is_pnm(s)) {
            return Some(SyncEvent::Recalled {
                cid: text_ne(g[2]).map(Cid::new),
                id: MessageId::new(id),
            });
        }
    }
    let mut found = Scan::default();
    found.walk(Rd::new(bytes).value().ok()?, None, 0);
    Some(SyncEvent::Recalled {
        cid: found.cid.map(Cid::new),
        id: MessageId::new(found.id?),
    })
}

#[derive(Default)]
struct Scan {
    id: Option<String>,
    cid: Option<String>,
}

impl Scan {
    fn walk(&mut self, v: V<'_>, key: Option<V<'_>>, depth: usize) {
        if depth > 8 || (self.id.is_some() && self.cid.is_some()) {
            return;
        }
        match v {
            V::Str(s) | V::Bin(s) => {
                let Ok(s) = std::str::from_utf8(s) else {
                    return;
                };
                let s = s.trim();
                if self.id.is_none() && is_pnm(s) {
                    self.id = Some(s.to_string());
                } else if self.cid.is_none() && s.ends_with("@goofish") && cid_key(key) {
                    self.cid = Some(s.to_string());
                }
            }
            V::Array(a) => a.items().for_each(|x| self.walk(x, key, depth + 1)),
            V::Map(m) => m
                .pairs()
                .for_each(|(k, x)| self.walk(x, Some(k), depth + 1)),
            _ => {}
        }
    }
}

fn cid_key(k: Option<V<'_>>) -> bool {
    match k {
        Some(k) => matches!(key_num(k), Some(2..=4)) || key_bytes(k).is_some_and(|b| b == b"cid"),
        None => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Plain-JSON items (§7.6)

fn classify_json(v: Value, biz: Option<i64>) -> SyncEvent {
    // Whether receipts come as JSON or msgpack is open (§12.3): accept the same layout in JSON.
    if let Some(ev) = json_receipt(&v, biz) {
        return ev;
    }
    let kind = if v.get("chatType").is_some() {
        "chatType".to_string()
    } else if let Some(b) = v.get("bizType").and_then(Value::as_str) {
        b.to_string()
    } else if is_msg_tips(&v) {
        "MsgTips".to_string()
    } else {
        "json".to_string()
    };
    SyncEvent::System { kind, json: v }
}

fn is_msg_tips(v: &Value) -> bool {
    let arg = |e: &Value| e.get("msgArg1").and_then(Value::as_str) == Some("MsgTips");
    match v.get("extJson") {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).is_ok_and(|e| arg(&e)),
        Some(e) => arg(e),
        None => false,
    }
}

fn json_receipt(v: &Value, biz: Option<i64>) -> Option<SyncEvent> {
    let by_biz = matches!(biz, Some(biz_type::READ | biz_type::READ_BY_PEER));
    let two = v.get("2").and_then(json_int) == Some(2);
    if !by_biz && !two {
        return None;
    }
    let pnm = |x: &Value| x.as_str().filter(|s| is_pnm(s)).map(MessageId::new);
    let ids: Vec<MessageId> = match v.get("1")? {
        Value::Array(a) => a.iter().filter_map(pnm).collect(),
        x => pnm(x).into_iter().collect(),
    };
    if ids.is_empty() {
        return None;
    }
    let cid = ["4", "3"]
        .iter()
        .find_map(|k| v.get(k)?.as_str().filter(|s| !s.is_empty()))
        .map(Cid::new);
    Some(SyncEvent::Receipt {
        cid,
        ids,
        time: v.get("6").and_then(json_int),
    })
}

// ---------------------------------------------------------------------------------------------
// Push bodies

/// As `decode_sync_body`, from the body's JSON text, read as [`push_body`] reads it in a
/// frame. A body of another shape is read by `decode_sync_body`, which says what is wrong
/// with it.
pub fn decode_sync_text(body: &str, self_uid: &Uid) -> DecodedPush {
    if let Some(parts) = push_body::parse(body) {
        return decode_sync_push(&parts.into_sync(), self_uid);
    }
    match serde_json::from_str::<Value>(body) {
        Ok(v) => decode_sync_body(&v, self_uid),
        Err(e) => DecodedPush {
            events: vec![undecodable(format!("sync body is not JSON: {e}"), body)],
            sync_extra_type: None,
        },
    }
}

/// Decodes the items of a sync push read with its frame (the hot path of every push).
pub fn decode_sync_push(push: &SyncPush, self_uid: &Uid) -> DecodedPush {
    DecodedPush {
        events: push
            .items
            .iter()
            .map(|it| decode_item(&it.data, it.biz, self_uid))
            .collect(),
        sync_extra_type: push.extra_type,
    }
}

/// Decodes a whole `/s/sync` body (§7.1): every item of `syncPushPackage.data`, in order. A
/// malformed item becomes `Undecodable` and the others still decode.
pub fn decode_sync_body(body: &Value, self_uid: &Uid) -> DecodedPush {
    let sync_extra_type = push_body::extra_type(body.get("syncExtraType"));
    let events = match body.get("syncPushPackage").map(|p| p.get("data")) {
        None => Vec::new(),
        Some(Some(Value::Array(items))) => {
            items.iter().map(|it| decode_entry(it, self_uid)).collect()
        }
        Some(Some(Value::Null) | None) => Vec::new(),
        Some(Some(other)) => vec![undecodable(
            "syncPushPackage.data is not an array",
            &other.to_string(),
        )],
    };
    DecodedPush {
        events,
        sync_extra_type,
    }
}

fn decode_entry(item: &Value, self_uid: &Uid) -> SyncEvent {
    let Value::Object(obj) = item else {
        return undecodable("sync item is not an object", &item.to_string());
    };
    let biz = push_body::item_biz(obj.get("bizType"), obj.get("objectType"));
    match obj.get("data") {
        Some(Value::String(data)) => decode_item(data, biz, self_uid),
        Some(_) => undecodable("sync item data is not a string", &item.to_string()),
        None => undecodable("sync item has no data", &item.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Generic view

/// The item as JSON, normalised the way clients show it (§7.3 step 4): integer map keys as
/// decimal strings, `bin` as (lossy) UTF-8, other keys as their JSON text. JSON items are
/// returned as parsed. For display and debugging; not used on the hot path.
pub fn item_to_json(data: &str) -> Result<Value, DecodeError> {
    let bytes = decode_base64(data)?;
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let json_err = if looks_like_json(&bytes) {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => return Ok(v),
            Err(e) => Some(e),
        }
    } else {
        None
    };
    let top = Rd::new(&bytes).value();
    match (top, json_err) {
        (Ok(v), _) => to_json(v, 0),
        (Err(_), Some(j)) => Err(DecodeError::Json(j.to_string())),
        (Err(e), None) => Err(e.at(bytes.len())),
    }
}

fn to_json(v: V<'_>, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    Ok(match v {
        V::Nil => Value::Null,
        V::Bool(b) => Value::Bool(b),
        V::Int(n) => Value::from(n),
        V::UInt(n) => Value::from(n),
        // JSON has no NaN or infinity.
        V::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        V::Str(s) | V::Bin(s) => Value::String(String::from_utf8_lossy(s).into_owned()),
        V::Ext(ty, data) => serde_json::json!({ "ext": ty, "data": B64.encode(data) }),
        V::Array(a) => {
            let mut out = Vec::new();
            for x in a.items() {
                out.push(to_json(x, depth + 1)?);
            }
            Value::Array(out)
        }
        V::Map(m) => {
            let mut out = Map::new();
            for (k, x) in m.pairs() {
                out.insert(key_string(k, depth)?, to_json(x, depth + 1)?);
            }
            Value::Object(out)
        }
    })
}

fn key_string(k: V<'_>, depth: usize) -> Result<String, DecodeError> {
    Ok(match k {
        V::Int(n) => n.to_string(),
        V::UInt(n) => n.to_string(),
        V::Str(s) | V::Bin(s) => String::from_utf8_lossy(s).into_owned(),
        other => to_json(other, depth + 1)?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_read_from_its_text_decodes_as_its_json_tree_does() {
        let me = Uid::new("2200000000401");
        let text_item = b64(br#"{"1":"x"}"#);
        let bodies = [
            format!(
                r#"{{"syncPushPackage":{{"data":[{{"bizType":40000,"data":"{text_item}"}},{{"objectType":"40000","data":"!!!"}}]}},"syncExtraType":{{"type":2}}}}"#
            ),
            // Escapes in the item's string, a number where a string belongs, odd shapes.
            r#"{"syncPushPackage":{"data":[{"bizType":40000,"data":"gqF\/wA=="}]}}"#.to_string(),
            r#"{"syncPushPackage":{"data":[{"bizType":40000,"data":5},{"data":"3q2+7w=="}]}}"#
                .to_string(),
            r#"{"syncPushPackage":{"data":"nope"}}"#.to_string(),
            r#"{"syncPushPackage":{"data":null}}"#.to_string(),
            r#"{"syncExtraType":{"type":"1"}}"#.to_string(),
            "[1,2]".to_string(),
            "{}".to_string(),
        ];
        for body in &bodies {
            let tree: Value = serde_json::from_str(body).unwrap();
            assert_eq!(
                decode_sync_text(body, &me),
                decode_sync_body(&tree, &me),
                "{body}"
            );
        }
        let broken = decode_sync_text("{not json", &me);
        assert!(matches!(
            &broken.events[..],
            [SyncEvent::Undecodable { .. }]
        ));
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn base64_tolerates_dirty_input() {
        let want = b"hello world!?>".to_vec();
        let clean = b64(&want);
        assert_eq!(decode_base64(&clean).unwrap(), want);
        assert_eq!(decode_base64(clean.trim_end_matches('=')).unwrap(), want);
        let url = clean.replace('+', "-").replace('/', "_");
        assert_eq!(decode_base64(&url).unwrap(), want);
        let spaced: String = clean
            .chars()
            .flat_map(|c| [c, if c == 'V' { '\n' } else { ' ' }])
            .collect();
        assert_eq!(decode_base64(&spaced).unwrap(), want);
        assert_eq!(decode_base64(&format!("*{clean}==!")).unwrap(), want);
        assert!(decode_base64("QUJDR").is_err());
        assert_eq!(decode_base64("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn reader_reads_every_scalar_kind() {
        let bytes = [
            0x9c, // array of 12
            0xc0, 0xc3, 0xff, // nil, true, -1
            0xd0, 0x80, // i8 -128
            0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // u64 max
            0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, // f64 1.5
            0xd9, 0x02, b'h', b'i', // str8
            0xc4, 0x02, 0xe4, 0xbd, // bin8, broken UTF-8
            0xd4, 0x01, 0x07, // fixext1
            0xdf, 0, 0, 0, 1, 0x01, 0x02, // map32 {1: 2}
            0xdc, 0, 1, 0x03, // array16 [3]
            0xca, 0x7f, 0xc0, 0, 0, // f32 NaN
        ];
        let v = to_json(Rd::new(&bytes).value().unwrap(), 0).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                null,
                true,
                -1,
                -128,
                u64::MAX,
                1.5,
                "hi",
                "\u{fffd}",
                {"ext": 1, "data": "Bw=="},
                {"1": 2},
                [3],
                null
            ])
        );
    }

    #[test]
    fn errors_name_the_byte_where_reading_stopped() {
        // {"a": "x…"} with a str3 of one byte: the string's body starts at byte 4.
        let cut = [0x82, 0xa1, b'a', 0xa3, b'x'];
        let err = Rd::new(&cut).value().err().map(|e| e.at(cut.len()));
        assert_eq!(err, Some(DecodeError::Truncated(4)));
        // {1: [0xc1]}: the reserved marker is found while skipping the array, at byte 3.
        let reserved = [0x81, 0x01, 0x91, 0xc1];
        let err = Rd::new(&reserved)
            .value()
            .err()
            .map(|e| e.at(reserved.len()));
        assert_eq!(err, Some(DecodeError::ReservedMarker(3)));
    }

    #[test]
    fn lying_lengths_fail_fast() {
        // array32 claiming 4 billion elements, map32 likewise, str32 of 4 GB.
        for bytes in [
            &[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01][..],
            &[0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02],
            &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'],
        ] {
            assert!(matches!(
                Rd::new(bytes).value(),
                Err(MpError::Truncated { .. })
            ));
        }
        assert_eq!(
            Rd::new(&[0xc1]).value().err().map(|e| e.at(1)),
            Some(DecodeError::ReservedMarker(0))
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let bytes = vec![0x91; 100_000];
        let data = b64(&[bytes, vec![0xc0]].concat());
        assert_eq!(item_to_json(&data), Err(DecodeError::TooDeep));
        assert!(matches!(
            decode_item(&data, None, &Uid::new("1")),
            SyncEvent::Undecodable { .. }
        ));
    }

    #[test]
    fn a_huge_item_does_not_pin_its_buffer() {
        // {1: {2: "9@goofish", 3: "1.PNM", 6: {3: {2: <500 KB of text>, 4: 1}}}}
        let text = "字".repeat(170_000);
        let mut bytes = vec![0x81, 0x01, 0x83, 0x02, 0xa9];
        bytes.extend(b"9@goofish");
        bytes.extend([0x03, 0xa5]);
        bytes.extend(b"1.PNM");
        bytes.extend([0x06, 0x81, 0x03, 0x82, 0x02, 0xdb]);
        bytes.extend(u32::try_from(text.len()).unwrap().to_be_bytes());
        bytes.extend(text.as_bytes());
        bytes.extend([0x04, 0x01]);
        let me = Uid::new("5");
        let SyncEvent::Message(m) = decode_item(&b64(&bytes), None, &me) else {
            panic!("not a message");
        };
        assert_eq!(
            m.content,
            super::super::model::Content::Text { text: text.into() }
        );
        assert!(BUF.with(|b| b.borrow().capacity()) <= MAX_POOLED);
        let small = [0x81, 0x01, 0x82, 0x02, 0xa1, b'9', 0x03, 0xa1, b'1'];
        assert!(matches!(
            decode_item(&b64(&small), None, &me),
            SyncEvent::Message(_)
        ));
    }

    #[test]
    fn raw_is_truncated_on_a_char_boundary() {
        let long = "闲".repeat(3000);
        let t = truncate(&long);
        assert!(t.len() <= MAX_RAW_LEN + '…'.len_utf8());
        assert!(t.ends_with('…'));
    }

    #[test]
    fn string_keys_and_numbers_as_strings_are_tolerated() {
        // {"1": {"2": "9@goofish", "3": 7, "5": "1700", "10": {"senderUserId": "5"}}}
        let mut bytes = vec![0x81, 0xa1, b'1', 0x84];
        bytes.extend([0xa1, b'2', 0xa9]);
        bytes.extend(b"9@goofish");
        bytes.extend([0xa1, b'3', 0x07]);
        bytes.extend([0xa1, b'5', 0xa4]);
        bytes.extend(b"1700");
        bytes.extend([0xa2, b'1', b'0', 0x81, 0xac]);
        bytes.extend(b"senderUserId");
        bytes.extend([0xa1, b'5']);
        let SyncEvent::Message(m) = decode_item(&b64(&bytes), None, &Uid::new("5")) else {
            panic!("not a message");
        };
        assert_eq!(m.id.as_str(), "7");
        assert_eq!(m.cid.as_str(), "9");
        assert_eq!(m.time, 1700);
        assert!(m.is_self);
        assert!(m.need_push);
    }
}

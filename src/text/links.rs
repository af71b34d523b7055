//! Links in what people write: found in the text, shown shortened to their host and a tail,
//! and kept whole on one row when text is wrapped, so a long URL takes one row instead of
//! four. The full URL travels beside the shortened text (for OSC 8 and copying).

use super::{grapheme_width, graphemes, sanitize, width};
use std::ops::Range;

/// Widest a link is shown, in cells: enough for a host and a recognisable tail.
pub const SHOWN_MAX: usize = 40;

/// A link on a row: where its shortened text is (bytes of the row) and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub range: Range<usize>,
    pub url: String,
}

/// A row of wrapped text and the links on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkedLine {
    pub text: String,
    pub links: Vec<Link>,
}

/// Characters a URL is made of (RFC 3986's, ASCII only: Chinese written right after a link,
/// as in "链接https://a.cn/x看一下", is not part of it).
fn url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// Byte ranges of the `http://` and `https://` URLs in `text`, without trailing punctuation.
pub fn find(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("http").map(|p| p + from) {
        let rest = &lower[pos..];
        let scheme = if rest.starts_with("https://") {
            8
        } else if rest.starts_with("http://") {
            7
        } else {
            from = pos + 4;
            continue;
        };
        let len = text[pos..]
            .char_indices()
            .find(|&(_, c)| !url_char(c))
            .map_or(text.len() - pos, |(i, _)| i);
        let mut end = pos + len;
        // Punctuation that ends a sentence, and a closing bracket that opens nothing inside.
        loop {
            let url = &text[pos..end];
            let Some(last) = url.chars().last() else {
                break;
            };
            let unbalanced = |open: char, close: char| {
                last == close && url.matches(open).count() < url.matches(close).count()
            };
            if ".,;:!?'*".contains(last) || unbalanced('(', ')') || unbalanced('[', ']') {
                end -= 1;
            } else {
                break;
            }
        }
        if end > pos + scheme {
            out.push(pos..end);
        }
        from = end.max(pos + scheme);
    }
    out
}

/// `url` as shown in at most `max` cells: without its scheme, and when that is too long, its
/// host, `…` and the end of its path (a picture's file name, an item's id).
pub fn shorten(url: &str, max: usize) -> String {
    let bare = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    let bare = super::one_line(bare);
    if width(&bare) <= max {
        return bare;
    }
    let host_end = bare.find(['/', '?', '#']).unwrap_or(bare.len());
    let (host, rest) = bare.split_at(host_end);
    // The last part of the path with its query: a file name, an item's `?id=`.
    let rest = rest.split('#').next().unwrap_or("");
    let (path, query) = rest.split_at(rest.find('?').unwrap_or(rest.len()));
    let last = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let tail = format!("{last}{query}");
    let tail = tail.as_str();
    // host + "/…/" + the tail, or as much of the tail's end as fits.
    let room = max.saturating_sub(width(host) + 3);
    if !tail.is_empty() && room >= 6 {
        if width(tail) <= room {
            return format!("{host}/…/{tail}");
        }
        return format!(
            "{host}/…{}",
            super::truncate_left(tail, room + 1).trim_start_matches('…')
        );
    }
    super::truncate(&bare, max)
}

/// Wraps `text` at `max` cells like [`super::wrap`], each URL shown shortened and never split
/// over rows.
pub fn wrap(text: &str, max: usize) -> Vec<LinkedLine> {
    let max = max.max(1);
    let shown_max = max.min(SHOWN_MAX);
    let mut out = Vec::new();
    for para in sanitize(text).split('\n') {
        let mut tokens: Vec<(String, usize, Option<&str>)> = Vec::new();
        let mut at = 0;
        for r in find(para) {
            for g in graphemes(&para[at..r.start]) {
                tokens.push((g.to_string(), grapheme_width(g), None));
            }
            let url = &para[r.clone()];
            let shown = shorten(url, shown_max);
            let w = width(&shown);
            tokens.push((shown, w, Some(url)));
            at = r.end;
        }
        for g in graphemes(&para[at..]) {
            tokens.push((g.to_string(), grapheme_width(g), None));
        }
        wrap_tokens(tokens, max, &mut out);
    }
    out
}

fn wrap_tokens(tokens: Vec<(String, usize, Option<&str>)>, max: usize, out: &mut Vec<LinkedLine>) {
    let mut line = LinkedLine::default();
    let mut used = 0;
    // Byte offset in the line just after its last space, and the width up to there.
    let mut brk: Option<(usize, usize)> = None;
    let finish = |l: LinkedLine| LinkedLine {
        text: l.text.trim_end().to_string(),
        links: l.links,
    };
    for (s, w, url) in tokens {
        if used + w > max && !line.text.is_empty() {
            if s == " " {
                out.push(finish(std::mem::take(&mut line)));
                (used, brk) = (0, None);
                continue;
            }
            match brk.filter(|&(at, _)| at < line.text.len()) {
                Some((at, wat)) => {
                    let rest_text = line.text.split_off(at);
                    let (stay, moved): (Vec<Link>, Vec<Link>) =
                        line.links.drain(..).partition(|l| l.range.start < at);
                    line.links = stay;
                    let rest = LinkedLine {
                        text: rest_text,
                        links: moved
                            .into_iter()
                            .map(|l| Link {
                                range: l.range.start - at..l.range.end - at,
                                url: l.url,
                            })
                            .collect(),
                    };
                    out.push(finish(std::mem::replace(&mut line, rest)));
                    used -= wat;
                }
                None => {
                    out.push(finish(std::mem::take(&mut line)));
                    used = 0;
                }
            }
            brk = None;
        }
        let start = line.text.len();
        line.text.push_str(&s);
        if let Some(url) = url {
            line.links.push(Link {
                range: start..line.text.len(),
                url: url.to_string(),
            });
        }
        used += w;
        if s == " " {
            brk = Some((line.text.len(), used));
        }
    }
    out.push(finish(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        find(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn urls_are_found_without_the_words_and_punctuation_around_them() {
        assert_eq!(
            found("链接https://a.cn/x?id=1看一下，还有 http://b.com/p(1)."),
            ["https://a.cn/x?id=1", "http://b.com/p(1)"]
        );
        assert_eq!(found("(see https://c.org/a)"), ["https://c.org/a"]);
        assert_eq!(found("HTTPS://D.COM/Q!"), ["HTTPS://D.COM/Q"]);
        assert!(found("http:// nothing, https:/x, httpx").is_empty());
    }

    #[test]
    fn a_long_url_is_shown_as_its_host_and_tail() {
        let url =
            "https://img.alicdn.com/imgextra/i2/O1CN01abcdefghijklmnopqrst_!!2211-0-xy_chat.jpg";
        let s = shorten(url, 40);
        assert!(s.starts_with("img.alicdn.com/…"), "{s}");
        assert!(s.ends_with("-xy_chat.jpg"), "{s}");
        assert!(width(&s) <= 40, "{s}");
        assert_eq!(shorten("https://a.cn/x", 40), "a.cn/x");
        let item = "https://www.goofish.com/item?id=123456789012";
        assert_eq!(shorten(item, 40), "www.goofish.com/item?id=123456789012");
        assert_eq!(shorten(item, 30), "www.goofish.com/…123456789012");
        for max in 1..12 {
            assert!(width(&shorten(url, max)) <= max, "{max}");
        }
    }

    #[test]
    fn a_link_is_never_split_over_rows_and_its_range_is_exact() {
        let url =
            "https://img.alicdn.com/imgextra/i2/O1CN01abcdefghijklmnopqrst_!!2211-0-xy_chat.jpg";
        let text = format!("这里有划痕吗{url} 谢谢");
        let rows = wrap(&text, 30);
        let linked: Vec<&LinkedLine> = rows.iter().filter(|r| !r.links.is_empty()).collect();
        assert_eq!(linked.len(), 1, "{rows:?}");
        let l = &linked[0].links[0];
        assert_eq!(l.url, url);
        assert_eq!(&linked[0].text[l.range.clone()], shorten(url, 30));
        assert!(rows.iter().all(|r| width(&r.text) <= 30), "{rows:?}");
        assert_eq!(rows[0].text, "这里有划痕吗");
        // A break at a space before the link moves the link's range with it.
        let rows = wrap(&format!("ok see {url}"), 34);
        let last = rows.last().unwrap();
        assert_eq!(&last.text[last.links[0].range.clone()], shorten(url, 34));
        // Text without links wraps as before.
        assert_eq!(
            wrap("能便宜吗能便宜吗能", 10)
                .into_iter()
                .map(|l| l.text)
                .collect::<Vec<_>>(),
            super::super::wrap("能便宜吗能便宜吗能", 10)
        );
    }
}

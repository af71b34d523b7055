//! Times as the UI shows them, in the state's fixed zone (never the machine's).

use super::i18n::{self, Lang};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone};

fn local(ms: i64, tz: &FixedOffset) -> Option<DateTime<FixedOffset>> {
    tz.timestamp_millis_opt(ms).single()
}

/// The calendar day of `ms` in `tz`.
pub fn day(ms: i64, tz: &FixedOffset) -> Option<NaiveDate> {
    local(ms, tz).map(|d| d.date_naive())
}

/// "14:05".
pub fn clock(ms: i64, tz: &FixedOffset) -> String {
    local(ms, tz)
        .map(|d| d.format("%H:%M").to_string())
        .unwrap_or_default()
}

/// "2026-11-27 周五" for the day separator.
pub fn day_label(ms: i64, tz: &FixedOffset, lang: Lang) -> String {
    local(ms, tz)
        .map(|d| {
            format!(
                "{} {}",
                d.format("%Y-%m-%d"),
                i18n::weekday(lang, d.weekday())
            )
        })
        .unwrap_or_default()
}

/// The short time of the conversation list: 刚刚 / 5分钟 / 14:05 / 昨天 / 周三 / 11-02 /
/// 2025-11-02 (English: now / 5m / 14:05 / yesterday / Wed / 11-02 / 2025-11-02).
pub fn relative(ms: i64, now_ms: i64, tz: &FixedOffset, lang: Lang) -> String {
    let s = i18n::strings(lang);
    let diff = now_ms.saturating_sub(ms);
    if diff < 60_000 {
        // Includes small clock skew into the future.
        return s.now.to_string();
    }
    if diff < 3_600_000 {
        return i18n::minutes_ago(lang, diff / 60_000);
    }
    let (Some(t), Some(n)) = (local(ms, tz), local(now_ms, tz)) else {
        return String::new();
    };
    let (dt, dn) = (t.date_naive(), n.date_naive());
    if dt == dn {
        t.format("%H:%M").to_string()
    } else if dn.pred_opt() == Some(dt) {
        s.yesterday.to_string()
    } else if (dn - dt).num_days() < 7 {
        i18n::weekday(lang, t.weekday()).to_string()
    } else if dt.year() == dn.year() {
        t.format("%m-%d").to_string()
    } else {
        t.format("%Y-%m-%d").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_in_both_languages() {
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        // 2026-11-27 12:00 +08:00 (a Friday).
        let now = tz
            .with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .unwrap()
            .timestamp_millis();
        let min = 60_000;
        assert_eq!(relative(now - 10_000, now, &tz, Lang::Zh), "刚刚");
        assert_eq!(relative(now + 10_000, now, &tz, Lang::En), "now");
        assert_eq!(relative(now - 5 * min, now, &tz, Lang::Zh), "5分钟");
        assert_eq!(relative(now - 5 * min, now, &tz, Lang::En), "5m");
        assert_eq!(relative(now - 180 * min, now, &tz, Lang::En), "09:00");
        assert_eq!(relative(now - 20 * 60 * min, now, &tz, Lang::Zh), "昨天");
        assert_eq!(
            relative(now - 20 * 60 * min, now, &tz, Lang::En),
            "yesterday"
        );
        assert_eq!(
            relative(now - 3 * 24 * 60 * min, now, &tz, Lang::Zh),
            "周二"
        );
        assert_eq!(
            relative(now - 30 * 24 * 60 * min, now, &tz, Lang::En),
            "10-28"
        );
        assert_eq!(
            relative(now - 400 * 24 * 60 * min, now, &tz, Lang::En),
            "2025-10-23"
        );
        assert_eq!(clock(now, &tz), "12:00");
    }
}

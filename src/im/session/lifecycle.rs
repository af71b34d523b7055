//! Connection lifecycle arithmetic: reconnect backoff and IM token reuse and rotation.

use crate::im::mtop::ImToken;
use std::time::Duration;

/// Exponential backoff with partial ("equal") jitter: attempt n waits between half and all
/// of `min·2^(n-1)`, capped at `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The upper bound for attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        self.min
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The delay before attempt `attempt`; `jitter` in [0, 1] picks within the upper half.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// Whether a token can still be used at `now_ms` (unknown expiry: yes).
pub fn token_usable(token: &ImToken, now_ms: i64, margin: Duration) -> bool {
    token
        .expires_at_ms
        .is_none_or(|exp| exp - margin.as_millis() as i64 > now_ms)
}

/// How long to use a token with `left_ms` to live before rotating it: until `margin`
/// before expiry, but at least half its remaining life and 30 s, so a short-lived token
/// cannot make the session reconnect in a loop. None when the server's clock says it has
/// already expired: the server's own 401 decides then.
pub fn rotation_delay(left_ms: i64, margin: Duration) -> Option<Duration> {
    if left_ms <= 0 {
        return None;
    }
    let left = Duration::from_millis(left_ms as u64);
    let wait = left.saturating_sub(margin).max(left / 2);
    Some(wait.max(Duration::from_secs(30)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() {
        let b = Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        let ceilings: Vec<u64> = (1..=9).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(60));
        for n in 1..=12 {
            let c = b.ceiling(n);
            assert_eq!(b.delay(n, 0.0), c / 2);
            assert_eq!(b.delay(n, 1.0), c);
            let mid = b.delay(n, 0.5);
            assert!(mid >= c / 2 && mid <= c);
        }
        // Out-of-range jitter is clamped, never beyond the cap.
        assert_eq!(b.delay(20, 7.0), Duration::from_secs(60));
    }

    #[test]
    fn tokens_are_reused_only_well_before_expiry() {
        let tok = |exp| ImToken {
            access_token: crate::secret::Secret::new("t"),
            expires_at_ms: exp,
            refresh_token: None,
        };
        let margin = Duration::from_secs(600);
        assert!(token_usable(&tok(None), 0, margin));
        assert!(token_usable(&tok(Some(1_000_000)), 0, margin));
        assert!(!token_usable(&tok(Some(500_000)), 0, margin));
    }

    #[test]
    fn rotation_waits_until_the_margin_but_never_loops() {
        let margin = Duration::from_secs(600);
        let day = 86_400_000;
        assert_eq!(
            rotation_delay(day, margin),
            Some(Duration::from_millis(day as u64) - margin)
        );
        // A 5-minute token: half its life, not "now".
        assert_eq!(
            rotation_delay(300_000, margin),
            Some(Duration::from_secs(150))
        );
        assert_eq!(rotation_delay(1_000, margin), Some(Duration::from_secs(30)));
        assert_eq!(rotation_delay(-5, margin), None);
    }
}

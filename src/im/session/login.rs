//! The login's keep-alive and renewal timing (§5.4, §10.2), without I/O: when to call
//! `loginuser.get` (every `keepalive` ± 10 %), when to renew ahead of time (`hasLogin.do`
//! every `renew_every`), and whether `silentHasLogin.do` may be tried (once per
//! `silent_window`). The core asks `due` on each tick and reports the results back.
//!
//! The service announces no end of a login (cookie lifetimes from 1–3 h to days are
//! reported), so "near its end" means: renewed well within the shortest lifetime seen, and
//! renewed at once when the service first says `SESSION_EXPIRED`.

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginTimes {
    /// `loginuser.get` this often (None: never).
    pub keepalive: Option<Duration>,
    /// `hasLogin.do` this often ahead of any expiry (None: only when it expired).
    pub renew_every: Option<Duration>,
    /// `silentHasLogin.do` at most once per this long (GO's "fatigue window").
    pub silent_window: Duration,
    /// The silent step was just used (by the check at start): its window begins at start.
    pub silent_spent: bool,
}

/// What the login wants done now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginDue {
    Check,
    /// A renewal ahead of time; `silent`: the silent step may be tried.
    Renew {
        silent: bool,
    },
}

#[derive(Debug)]
pub struct LoginKeeper {
    times: LoginTimes,
    next_check: Option<Instant>,
    next_renew: Option<Instant>,
    checking: bool,
    renewing: bool,
    /// This renewal answers a `SESSION_EXPIRED` (not one ahead of time).
    renewing_expired: bool,
    last_silent: Option<Instant>,
    /// A renewal after `SESSION_EXPIRED` failed: none again until a new login works.
    gave_up: bool,
}

impl LoginKeeper {
    pub fn new(times: LoginTimes) -> LoginKeeper {
        LoginKeeper {
            times,
            next_check: None,
            next_renew: None,
            checking: false,
            renewing: false,
            renewing_expired: false,
            last_silent: None,
            gave_up: false,
        }
    }

    /// The timers start (again) from `now`; `jitter` in [0, 1] spreads the keep-alive over
    /// ± 10 % of its period, so many clients never call together.
    pub fn start(&mut self, now: Instant, jitter: f64) {
        if self.times.silent_spent && self.last_silent.is_none() {
            self.last_silent = Some(now);
        }
        self.schedule_check(now, jitter);
        if self.next_renew.is_none() {
            self.next_renew = self.times.renew_every.map(|d| now + d);
        }
    }

    /// No keep-alive nor renewal ahead of time until `start` again (waiting for the user).
    pub fn pause(&mut self) {
        self.next_check = None;
        self.next_renew = None;
    }

    pub fn is_paused(&self) -> bool {
        self.next_check.is_none() && self.next_renew.is_none()
    }

    fn schedule_check(&mut self, now: Instant, jitter: f64) {
        self.next_check = self
            .times
            .keepalive
            .map(|d| now + d.mul_f64(0.9 + 0.2 * jitter.clamp(0.0, 1.0)));
    }

    pub fn next_wake(&self) -> Option<Instant> {
        let check = self.next_check.filter(|_| !self.checking);
        let renew = self.next_renew.filter(|_| !self.renewing);
        [check, renew].into_iter().flatten().min()
    }

    /// What is due at `now`, marking it as under way.
    pub fn due(&mut self, now: Instant) -> Option<LoginDue> {
        if !self.renewing && self.next_renew.is_some_and(|at| at <= now) {
            self.renewing = true;
            self.renewing_expired = false;
            return Some(LoginDue::Renew {
                silent: self.silent_allowed(now),
            });
        }
        if !self.checking && !self.renewing && self.next_check.is_some_and(|at| at <= now) {
            self.checking = true;
            return Some(LoginDue::Check);
        }
        None
    }

    fn silent_allowed(&self, now: Instant) -> bool {
        self.last_silent
            .is_none_or(|at| now.saturating_duration_since(at) >= self.times.silent_window)
    }

    /// The keep-alive call answered (`expired`: `SESSION_EXPIRED`).
    pub fn checked(&mut self, now: Instant, jitter: f64) {
        self.checking = false;
        self.schedule_check(now, jitter);
    }

    /// The service said `SESSION_EXPIRED`: a renewal to start now, with whether the silent
    /// step may be tried; None when one is already under way (it now counts as answering
    /// the expiry) or a renewal after an expiry already failed.
    pub fn expired(&mut self, now: Instant) -> Option<bool> {
        if self.gave_up {
            return None;
        }
        if self.renewing {
            self.renewing_expired = true;
            return None;
        }
        self.renewing = true;
        self.renewing_expired = true;
        Some(self.silent_allowed(now))
    }

    pub fn has_given_up(&self) -> bool {
        self.gave_up
    }

    /// A renewal ended; `silent_tried`: the silent step was used. Returns whether it
    /// answered an expiry.
    pub fn renewed(&mut self, now: Instant, ok: bool, silent_tried: bool) -> bool {
        let answered_expiry = self.renewing_expired;
        self.renewing = false;
        self.renewing_expired = false;
        if silent_tried {
            self.last_silent = Some(now);
        }
        // Ahead of time again one period later, whatever happened: a failed early renewal
        // is tried again then (the login may still be alive).
        self.next_renew = self.times.renew_every.map(|d| now + d);
        if ok {
            self.gave_up = false;
        } else if answered_expiry {
            self.gave_up = true;
        }
        answered_expiry
    }

    /// A login works again (a connection registered, a new login was saved).
    pub fn login_works(&mut self) {
        self.gave_up = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times() -> LoginTimes {
        LoginTimes {
            keepalive: Some(Duration::from_secs(600)),
            renew_every: Some(Duration::from_secs(3600)),
            silent_window: Duration::from_secs(6 * 3600),
            silent_spent: false,
        }
    }

    #[test]
    fn the_keepalive_is_spread_over_ten_percent_of_its_period() {
        let t0 = Instant::now();
        let mut k = LoginKeeper::new(times());
        k.start(t0, 0.0);
        assert_eq!(k.next_wake(), Some(t0 + Duration::from_secs(540)));
        k.start(t0, 1.0);
        assert_eq!(k.next_wake(), Some(t0 + Duration::from_secs(660)));
        assert_eq!(k.due(t0 + Duration::from_secs(659)), None);
        assert_eq!(k.due(t0 + Duration::from_secs(660)), Some(LoginDue::Check));
        assert_eq!(k.due(t0 + Duration::from_secs(661)), None, "one at a time");
    }

    #[test]
    fn silent_renewal_is_allowed_once_per_window() {
        let t0 = Instant::now();
        let mut k = LoginKeeper::new(times());
        k.start(t0, 0.5);
        assert_eq!(k.expired(t0), Some(true));
        assert_eq!(k.expired(t0), None, "already renewing");
        assert!(k.renewed(t0, true, true));
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(k.due(later), Some(LoginDue::Renew { silent: false }));
        k.renewed(later, true, false);
        let after_window = t0 + Duration::from_secs(6 * 3600);
        assert_eq!(k.expired(after_window), Some(true));
    }

    #[test]
    fn a_silent_renewal_at_start_counts_for_the_window() {
        let t0 = Instant::now();
        let mut k = LoginKeeper::new(LoginTimes {
            silent_spent: true,
            ..times()
        });
        k.start(t0, 0.5);
        assert_eq!(k.expired(t0 + Duration::from_secs(60)), Some(false));
    }

    #[test]
    fn a_failed_renewal_after_an_expiry_is_not_repeated_until_a_login_works() {
        let t0 = Instant::now();
        let mut k = LoginKeeper::new(times());
        k.start(t0, 0.5);
        assert_eq!(k.expired(t0), Some(true));
        assert!(k.renewed(t0, false, true));
        assert!(k.has_given_up());
        assert_eq!(k.expired(t0 + Duration::from_secs(60)), None);
        k.login_works();
        assert_eq!(k.expired(t0 + Duration::from_secs(61)), Some(false));
    }
}

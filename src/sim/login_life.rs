//! `--session-lifetime`: the login session lapses that long after it was issued or last
//! renewed. Then mtop answers `FAIL_SYS_SESSION_EXPIRED` (see `State::logged_in`) and, at
//! the moment it lapses, every IM token dies and every socket is closed, as the
//! `expire-session` fault does. Whether the real service cuts a live socket when the login
//! lapses is not known [U]; the simulator takes the strict reading, so a client that lets
//! its login lapse notices at once.

use super::state::Sim;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often the lapse is looked at when nothing is due sooner.
const IDLE_LOOK: Duration = Duration::from_secs(1);

pub fn spawn(sim: Arc<Sim>) {
    if sim.opts.session_lifetime.is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut stop = sim.stop.clone();
        // The expiry already acted on, so that one lapse closes the sockets once.
        let mut handled: Option<Instant> = None;
        loop {
            let expires = sim.state().session_expires;
            let wake = match expires {
                Some(at) if handled != Some(at) => at.max(Instant::now()),
                _ => Instant::now() + IDLE_LOOK,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = stop.changed() => return,
            }
            let lapsed = {
                let st = sim.state();
                st.session_expires
                    .filter(|at| *at <= Instant::now() && handled != Some(*at))
            };
            if let Some(at) = lapsed {
                handled = Some(at);
                tracing::info!("simulated login session lapsed");
                sim.expire_im_tokens();
            }
        }
    });
}

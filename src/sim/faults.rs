//! Faults the control API can switch on.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Close every socket.
    Drop,
    /// Stop reading and answering on every open socket, without closing, for `secs`.
    Stall,
    /// `/push/kickout` every connection, then close it.
    Kickout,
    /// Every IM token becomes invalid; connections are closed so clients must re-register.
    ExpireImToken,
    /// The login cookies die: mtop answers `FAIL_SYS_SESSION_EXPIRED` until a new login.
    ExpireSession,
    /// `login.token` answers RGV587 (slider) until `clear`.
    RiskControl,
    /// The next `count` RPCs answer flow control 400600001.
    FlowControl,
    /// The next send is rejected by content security.
    CsiForbid,
    /// `count` malformed frames and `count` malformed items.
    Malformed,
    /// Every push is delivered twice until `clear`.
    Duplicate,
    /// `/s/session/remove` to every connection, then close it.
    SessionRemove,
    /// The next `count` sends are kept, but neither their answer nor their echo reaches the
    /// connection that sent them: as when it fails silently right after the service stored
    /// the message. Other connections of the account get the echo.
    LoseSendAnswer,
    /// `hasLogin.do` and `silentHasLogin.do` refuse to renew the login until `clear`.
    RefuseRenewal,
    /// Switch every fault off.
    Clear,
}

/// The request body of `POST /__sim/fault`.
#[derive(Clone, Debug, Deserialize)]
pub struct FaultRequest {
    pub kind: FaultKind,
    #[serde(default)]
    pub secs: Option<f64>,
    #[serde(default)]
    pub count: Option<u32>,
}

/// Faults that stay on until used up or cleared.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Faults {
    pub session_expired: bool,
    pub risk_control: bool,
    pub flow_control_left: u32,
    pub csi_forbid_left: u32,
    pub duplicate: bool,
    pub lose_send_answer_left: u32,
    pub refuse_renewal: bool,
}

impl Faults {
    /// Takes one flow-control rejection if any are left.
    pub fn take_flow_control(&mut self) -> bool {
        take(&mut self.flow_control_left)
    }
    pub fn take_csi_forbid(&mut self) -> bool {
        take(&mut self.csi_forbid_left)
    }
    pub fn take_lose_send_answer(&mut self) -> bool {
        take(&mut self.lose_send_answer_left)
    }
}

fn take(n: &mut u32) -> bool {
    if *n > 0 {
        *n -= 1;
        true
    } else {
        false
    }
}

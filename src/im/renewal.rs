//! Keeping the login alive without the user (§5.4): `hasLogin.do` extends a live login,
//! `silentHasLogin.do` asks for new short-login cookies (risky when called often: the
//! session core allows it once per fatigue window). Both are [L] in the spec: field lists
//! from bots, answers read leniently. Every `Set-Cookie` is taken into the jar and saved.

use super::cookies::CookieJar;
use super::mtop::{MtopClient, MtopError};
use serde_json::Value;

/// Which step of the renewal chain worked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenewStep {
    HasLogin,
    Silent,
}

impl RenewStep {
    pub fn name(self) -> &'static str {
        match self {
            RenewStep::HasLogin => "hasLogin.do",
            RenewStep::Silent => "silentHasLogin.do",
        }
    }
}

/// Why a renewal step did not renew. Never carries a cookie value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenewError {
    #[error("no login to renew (the cookie has no unb)")]
    NoLogin,
    #[error("passport refused: {0}")]
    Refused(String),
    #[error("unexpected passport answer: {0}")]
    BadResponse(String),
    #[error("{0}")]
    Network(String),
}

/// Whether a passport answer (`{"content":{"success":…,"data":{…}},"hasError":…}`) granted
/// the renewal. `content.success` true and no `hasError`.
pub fn parse_renewal(body: &[u8]) -> Result<(), RenewError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| RenewError::BadResponse(format!("not JSON ({e})")))?;
    let content = v.get("content").unwrap_or(&Value::Null);
    let success = content.get("success").and_then(Value::as_bool);
    let has_error = v.get("hasError").and_then(Value::as_bool) == Some(true);
    if success == Some(true) && !has_error {
        return Ok(());
    }
    let why = content
        .pointer("/data/titleMsg")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(crate::text::one_line)
        .unwrap_or_else(|| "not logged in".to_string());
    match success {
        Some(_) => Err(RenewError::Refused(why)),
        None => Err(RenewError::BadResponse("no content.success".into())),
    }
}

/// The `hasLogin.do` form (§5.4 step 1), filled from the jar.
pub fn has_login_form(jar: &CookieJar) -> Result<Vec<(&'static str, String)>, RenewError> {
    let get = |name: &str| jar.get(name).map(|v| v.expose().to_string());
    let uid = jar.uid().ok_or(RenewError::NoLogin)?;
    let csrf = get("XSRF-TOKEN")
        .or_else(|| get("_tb_token_"))
        .unwrap_or_default();
    Ok(vec![
        ("hid", uid.to_string()),
        ("ltl", "true".into()),
        ("appName", "xianyu".into()),
        ("appEntrance", "web".into()),
        ("_csrf_token", csrf),
        ("umidToken", String::new()),
        ("hsiz", get("cookie2").unwrap_or_default()),
        ("bizParams", "taobaoBizLoginFrom=web".into()),
        ("mainPage", "false".into()),
        ("isMobile", "false".into()),
        ("lang", "zh_CN".into()),
        ("returnUrl", String::new()),
        ("fromSite", "77".into()),
        ("isIframe", "true".into()),
        ("documentReferer", "https://www.goofish.com/".into()),
        ("defaultView", "hasLogin".into()),
        ("umidTag", "SERVER".into()),
        ("deviceId", get("cna").unwrap_or_default()),
    ])
}

fn network(e: MtopError) -> RenewError {
    RenewError::Network(e.to_string())
}

/// §5.4 step 1.
pub async fn has_login(mtop: &MtopClient) -> Result<(), RenewError> {
    let form = has_login_form(&mtop.jar())?;
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let query = [("appName", "xianyu"), ("fromSite", "77")];
    let (_, body) = mtop
        .passport("newlogin/hasLogin.do", &query, Some(&form))
        .await
        .map_err(network)?;
    parse_renewal(&body)
}

/// §5.4 step 2 (no body).
pub async fn silent_has_login(mtop: &MtopClient) -> Result<(), RenewError> {
    if mtop.uid().is_none() {
        return Err(RenewError::NoLogin);
    }
    let query = [
        ("documentReferer", "https://www.goofish.com/"),
        ("appName", "xianyu"),
        ("appEntrance", "xianyu_sdkSilent"),
        ("fromSite", "0"),
        ("ltl", "true"),
    ];
    let (_, body) = mtop
        .passport("newlogin/silentHasLogin.do", &query, Some(&[]))
        .await
        .map_err(network)?;
    parse_renewal(&body)
}

/// The renewal chain (§5.4): `hasLogin.do`, then (when `silent`) `silentHasLogin.do`; a step
/// counts once `loginuser.get` accepts the login after it. The step that worked or every
/// step's failure, and whether the silent step was used.
pub async fn renew_login(mtop: &MtopClient, silent: bool) -> (Result<RenewStep, String>, bool) {
    let mut failures = Vec::new();
    let mut silent_tried = false;
    for step in [RenewStep::HasLogin, RenewStep::Silent] {
        if step == RenewStep::Silent {
            if !silent {
                break;
            }
            silent_tried = true;
        }
        let answered = match step {
            RenewStep::HasLogin => has_login(mtop).await,
            RenewStep::Silent => silent_has_login(mtop).await,
        };
        if let Err(e) = answered {
            failures.push(format!("{}: {e}", step.name()));
            continue;
        }
        match mtop.login_user().await {
            Err(e @ (MtopError::SessionExpired | MtopError::NoCookie)) => {
                failures.push(format!("{}: answered, but {e}", step.name()));
            }
            // Renewed; a keep-alive that fails for another reason says nothing of the login.
            _ => return (Ok(step), silent_tried),
        }
    }
    (Err(failures.join("; ")), silent_tried)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn renewal_answers_are_read_leniently() {
        let ok = br#"{"content":{"data":{},"status":0,"success":true},"hasError":false}"#;
        assert_eq!(parse_renewal(ok), Ok(()));
        let refused =
            r#"{"content":{"data":{"titleMsg":"请重新登录"},"success":false},"hasError":false}"#;
        assert_eq!(
            parse_renewal(refused.as_bytes()),
            Err(RenewError::Refused("请重新登录".into()))
        );
        let errored = br#"{"content":{"success":true},"hasError":true}"#;
        assert!(matches!(
            parse_renewal(errored),
            Err(RenewError::Refused(_))
        ));
        assert!(matches!(
            parse_renewal(b"<html>"),
            Err(RenewError::BadResponse(_))
        ));
        assert!(matches!(
            parse_renewal(b"{}"),
            Err(RenewError::BadResponse(_))
        ));
    }

    #[test]
    fn the_has_login_form_comes_from_the_jar_and_needs_a_login() {
        let jar = CookieJar::parse_header("unb=2200000000401; cookie2=abc; _tb_token_=tb; cna=dev");
        let form = has_login_form(&jar).unwrap();
        let field = |k: &str| form.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(field("hid"), Some("2200000000401"));
        assert_eq!(field("hsiz"), Some("abc"));
        assert_eq!(field("_csrf_token"), Some("tb"));
        assert_eq!(field("deviceId"), Some("dev"));
        assert_eq!(field("defaultView"), Some("hasLogin"));
        assert_eq!(
            has_login_form(&CookieJar::parse_header("cookie2=abc")),
            Err(RenewError::NoLogin)
        );
    }
}

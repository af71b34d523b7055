//! Only requests addressed to the simulator by a loopback name are answered. A web page could
//! otherwise drive it while `--demo` runs, by DNS rebinding: its own host name made to resolve
//! to 127.0.0.1, its scripts then reach the simulator with that name in `Host`. An IP literal
//! cannot be rebound, so one is taken when the simulator listens beyond loopback (`sim
//! --listen 0.0.0.0:…`, for a client on another machine).

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::IpAddr;

/// What the listener allows.
#[derive(Clone, Copy, Debug)]
pub struct HostPolicy {
    /// Any IP literal, not only loopback ones (the listener is not on loopback).
    pub any_ip: bool,
}

/// The host of a `Host` header value, without the port and IPv6 brackets.
fn host_part(value: &str) -> &str {
    let v = value.trim();
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split_once(']').map_or("", |(h, _)| h);
    }
    match v.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => v,
    }
}

/// Whether a request with this `Host` is answered.
pub fn allowed(host: &str, policy: HostPolicy) -> bool {
    let h = host_part(host);
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(ip) => policy.any_ip || ip.to_canonical().is_loopback(),
        Err(_) => false,
    }
}

/// The middleware: 421 Misdirected Request for any other host name, or none.
pub async fn only_loopback_names(
    State(policy): State<HostPolicy>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if host.is_some_and(|h| allowed(h, policy)) {
        return next.run(req).await;
    }
    tracing::warn!(
        host = host.unwrap_or(""),
        "simulator request to a foreign host name refused"
    );
    (
        StatusCode::MISDIRECTED_REQUEST,
        axum::Json(json!({
            "error": "the simulator answers only requests to localhost, 127.0.0.1 or [::1]"
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: HostPolicy = HostPolicy { any_ip: false };

    #[test]
    fn loopback_names_with_any_port_and_nothing_else() {
        for h in [
            "127.0.0.1",
            "127.0.0.1:40123",
            "127.1.2.3:80",
            "localhost",
            "LOCALHOST:9",
            "[::1]",
            "[::1]:40123",
            "::1",
            "[::ffff:127.0.0.1]:5",
        ] {
            assert!(allowed(h, LOOPBACK), "{h}");
        }
        for h in [
            "evil.example",
            "evil.example:40123",
            "localhost.evil.example",
            "127.0.0.1.nip.io:80",
            "localhost.",
            "192.168.1.5:80",
            "[2001:db8::1]:80",
            "",
            ":80",
            "[::1",
        ] {
            assert!(!allowed(h, LOOPBACK), "{h}");
        }
        // Listening beyond loopback: IP literals, which cannot be rebound, but no names.
        let any = HostPolicy { any_ip: true };
        assert!(allowed("192.168.1.5:80", any) && allowed("[2001:db8::1]:80", any));
        assert!(!allowed("evil.example:80", any));
    }
}

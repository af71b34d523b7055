//! Picture uploads (§3.5): `POST /api/upload.api`, multipart field `file`, answered with a CDN
//! URL; an HTML page when the login cookies are dead, as the real service does. The picture is
//! then served back at that URL.

use super::mtop_gateway::{json_response, request_cookies};
use super::state::random_hex;
use crate::sim::shards::Shard;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Largest upload accepted (the service's own limit is not documented; clients send ≤ 5 MB).
const MAX_UPLOAD: usize = 10 * 1024 * 1024;

pub fn routes() -> Router<Arc<crate::sim::shards::Shards>> {
    Router::new()
        .route("/api/upload.api", post(upload))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
}

async fn upload(Shard(sim): Shard, headers: HeaderMap, mut form: Multipart) -> Response {
    let cookies = request_cookies(&headers);
    if !sim.state().logged_in(&sim.self_uid(), &cookies) {
        return Html("<!DOCTYPE html><html><body>请登录</body></html>").into_response();
    }
    let mut file = Vec::new();
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => match field.bytes().await {
                Ok(b) => file = b.to_vec(),
                Err(e) => return refused(&format!("unreadable file: {e}")),
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return refused(&format!("unreadable form: {e}")),
        }
    }
    if file.is_empty() {
        return refused("no file");
    }
    sim.counters.uploads.fetch_add(1, Ordering::Relaxed);
    let uid = sim.self_uid();
    let size = file.len();
    // The size the service reports; a header it cannot read gets the clients' own default.
    let (w, h) = super::pictures::dimensions(&file).unwrap_or((800, 600));
    let path = format!(
        "/imgextra/i4/{uid}/O1CN01{}_!!{uid}-0-fleamarket.jpg",
        random_hex(16)
    );
    let url = {
        let mut st = sim.state();
        let url = format!("{}{path}", st.world.picture_host);
        st.uploaded.put(path, file);
        url
    };
    json_response(
        json!({"success": true, "object": {"url": url, "pix": format!("{w}x{h}"), "size": size}}),
        &[],
    )
}

fn refused(why: &str) -> Response {
    json_response(json!({"success": false, "message": why}), &[])
}

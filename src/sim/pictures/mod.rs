//! The simulator's picture CDN: the world's picture URLs point here (`--demo` needs no
//! network), and `GET` on one answers real image bytes. Item pictures show their kind of item,
//! avatars a person, chat pictures a snapshot; each is drawn when asked for and is the same
//! every time. A picture someone uploaded is served back as it was sent.

pub mod draw;

use crate::sim::shards::Shards;
use axum::Router;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use draw::{Spec, Subject};
use std::collections::{HashMap, VecDeque};
use std::io::Cursor;
use std::sync::Arc;

/// Size of an item picture (4:3, as listing photos mostly are).
const ITEM_SIZE: (u32, u32) = (400, 300);
/// Size of a chat picture (a phone photo held upright).
const CHAT_SIZE: (u32, u32) = (300, 400);
const AVATAR_SIZE: (u32, u32) = (96, 96);
/// Total bytes of uploaded pictures kept to serve back; the oldest go first.
pub const UPLOADS_KEPT_BYTES: usize = 64 * 1024 * 1024;

pub fn routes() -> Router<Arc<crate::sim::shards::Shards>> {
    Router::new()
        .route("/bao/uploaded/{*rest}", get(bao_uploaded))
        .route("/imgextra/{*rest}", get(imgextra))
        .route("/avatar/{file}", get(self_avatar))
}

/// Uploaded pictures by URL path, bounded by [`UPLOADS_KEPT_BYTES`].
#[derive(Default)]
pub struct Uploaded {
    by_path: HashMap<String, Arc<[u8]>>,
    order: VecDeque<String>,
    bytes: usize,
}

impl Uploaded {
    pub fn put(&mut self, path: String, bytes: Vec<u8>) {
        if bytes.len() > UPLOADS_KEPT_BYTES {
            return;
        }
        self.bytes += bytes.len();
        if let Some(old) = self.by_path.insert(path.clone(), bytes.into()) {
            self.bytes -= old.len();
        } else {
            self.order.push_back(path);
        }
        while self.bytes > UPLOADS_KEPT_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.by_path.remove(&oldest) {
                self.bytes -= gone.len();
            }
        }
    }

    pub fn get(&self, path: &str) -> Option<Arc<[u8]>> {
        self.by_path.get(path).cloned()
    }
}

/// FNV-1a: a stable seed from a URL, the same in every run.
fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The MIME type of picture bytes, by their first bytes.
fn content_type(bytes: &[u8]) -> &'static str {
    match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) => "image/jpeg",
        Ok(image::ImageFormat::Png) => "image/png",
        Ok(image::ImageFormat::Gif) => "image/gif",
        Ok(image::ImageFormat::WebP) => "image/webp",
        _ => "application/octet-stream",
    }
}

/// Width and height of picture bytes, when their header says.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

fn picture(bytes: Arc<[u8]>) -> Response {
    let mut resp = (StatusCode::OK, bytes.to_vec()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&bytes)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000"),
    );
    resp
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such picture").into_response()
}

/// Draws and encodes off the async workers: PNG when the URL asks for one, else JPEG.
async fn drawn(spec: Spec, path: String) -> Response {
    let png = path.ends_with(".png");
    let encoded = tokio::task::spawn_blocking(move || encode(&draw::draw(&spec), png)).await;
    match encoded {
        Ok(Ok(bytes)) => picture(bytes.into()),
        Ok(Err(e)) => {
            tracing::error!("simulator picture not encoded: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "picture not encoded").into_response()
        }
        Err(e) => {
            tracing::error!("simulator picture task failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "picture not drawn").into_response()
        }
    }
}

pub fn encode(img: &image::RgbImage, png: bool) -> image::ImageResult<Vec<u8>> {
    let mut out = Vec::new();
    if png {
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)?;
    } else {
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(img)?;
    }
    Ok(out)
}

fn spec(subject: Subject, seed: u64, (width, height): (u32, u32), scratch: bool) -> Spec {
    Spec {
        subject,
        seed,
        width,
        height,
        scratch,
    }
}

/// `/bao/uploaded/…`: item pictures and buyers' avatars; anything else is not there.
/// Picture URLs are public, as on the CDN: any seller's picture is served to anyone.
async fn bao_uploaded(AxState(shards): AxState<Arc<Shards>>, Path(rest): Path<String>) -> Response {
    let path = format!("/bao/uploaded/{rest}");
    match shards.all.iter().find_map(|sim| bao_picture(sim, &path)) {
        Some(Ok(bytes)) => picture(bytes),
        Some(Err(spec)) => drawn(spec, path).await,
        None => not_found(),
    }
}

/// Seller `sim`'s picture at `path`: uploaded bytes, or what to draw.
fn bao_picture(sim: &super::state::Sim, path: &str) -> Option<Result<Arc<[u8]>, Spec>> {
    let st = sim.state();
    if let Some(bytes) = st.uploaded.get(path) {
        return Some(Ok(bytes));
    }
    let url = format!("{}{path}", st.world.picture_host);
    // Of the path alone: the same picture whatever port the simulator listens on.
    let seed = seed_of(path);
    if let Some(item) = st.world.items.iter().find(|i| i.pic == url) {
        Some(Err(spec(
            Subject::for_kind(&item.kind),
            seed,
            ITEM_SIZE,
            false,
        )))
    } else if st.world.buyers.iter().any(|b| b.avatar == url) {
        Some(Err(spec(Subject::Avatar, seed, AVATAR_SIZE, false)))
    } else {
        None
    }
}

/// `/imgextra/…`: pictures sent in chat: uploaded ones as they were, the world's own drawn.
async fn imgextra(AxState(shards): AxState<Arc<Shards>>, Path(rest): Path<String>) -> Response {
    let path = format!("/imgextra/{rest}");
    for sim in &shards.all {
        let uploaded = sim.state().uploaded.get(&path);
        if let Some(bytes) = uploaded {
            return picture(bytes);
        }
    }
    if !rest.ends_with("-xy_chat.jpg") && !rest.ends_with("-xy_chat.png") {
        return not_found();
    }
    let seed = seed_of(&path);
    // Every other snapshot shows the scratch a buyer asks about.
    let s = spec(
        Subject::any_item(seed >> 8),
        seed,
        CHAT_SIZE,
        seed.is_multiple_of(2),
    );
    drawn(s, path).await
}

/// `/avatar/<uid>.jpg`: the seller's own avatar.
async fn self_avatar(Path(file): Path<String>) -> Response {
    let seed = seed_of(&file);
    drawn(spec(Subject::Avatar, seed, AVATAR_SIZE, false), file).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_kept_are_bounded_and_the_oldest_go_first() {
        let mut u = Uploaded::default();
        let chunk = UPLOADS_KEPT_BYTES / 4;
        for i in 0..6 {
            u.put(format!("/p{i}"), vec![i as u8; chunk]);
        }
        assert!(u.bytes <= UPLOADS_KEPT_BYTES);
        assert!(u.get("/p0").is_none() && u.get("/p1").is_none());
        assert_eq!(u.get("/p5").map(|b| b[0]), Some(5));
        // Too large to keep at all: refused, nothing else lost.
        u.put("/huge".into(), vec![0; UPLOADS_KEPT_BYTES + 1]);
        assert!(u.get("/huge").is_none() && u.get("/p2").is_some());
    }

    #[test]
    fn encoded_pictures_are_what_their_url_says() {
        let img = draw::draw(&spec(Subject::Bike, 1, (40, 30), true));
        let jpeg = encode(&img, false).expect("jpeg");
        let png = encode(&img, true).expect("png");
        assert_eq!(content_type(&jpeg), "image/jpeg");
        assert_eq!(content_type(&png), "image/png");
        assert_eq!(dimensions(&png), Some((40, 30)));
    }
}

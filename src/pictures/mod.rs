//! Pictures in the message pane: which graphics protocol ([`detect`]), the disk cache
//! ([`cache`]), fetching and thumbnails ([`fetch`]), and the background loader that turns a
//! URL into something a frame can draw. The UI task only sends URLs and takes finished
//! thumbnails: nothing here ever blocks a frame.

pub mod cache;
pub mod detect;
pub mod fetch;

pub use detect::{Graphics, ImagesMode, graphics};
pub use fetch::{Fetcher, Limits, PictureError, Source};

use crate::app::message_rows::{THUMB_COLS, THUMB_ROWS};
use ratatui::layout::Size;
use ratatui_image::Resize;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::Protocol;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};

/// Pictures fetched and decoded at once.
const PARALLEL: usize = 4;
/// Thumbnails kept ready to draw; older ones are made again (from the disk cache) when next
/// in view.
pub const THUMBS_KEPT: usize = 64;

/// Largest side of a picture decoded for the viewer, in pixels.
const VIEW_PX: u32 = 2048;

/// A picture ready to draw, `cols`×`rows` cells, of a `width`×`height` picture.
#[derive(Clone)]
pub struct Thumb {
    pub protocol: Protocol,
    pub cols: u16,
    pub rows: u16,
    pub width: u32,
    pub height: u32,
}

/// What the loader is asked for: a thumbnail, or the picture to fit `cols`×`rows` cells for
/// the viewer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    pub url: String,
    pub fit: Option<(u16, u16)>,
}

/// What became of a request.
pub struct Loaded {
    pub request: Request,
    pub result: Result<(Thumb, Source), PictureError>,
}

/// The picker for a protocol choice; `Ask` queries the terminal (which must be in the UI's
/// mode, before its events are read). `None` for `Off`.
pub fn picker(choice: Graphics) -> Option<Picker> {
    let queried = || match Picker::from_query_stdio() {
        Ok(p) => p,
        Err(e) => {
            tracing::info!("the terminal did not say what pictures it shows ({e}); half blocks");
            Picker::halfblocks()
        }
    };
    let forced = |t: ProtocolType| {
        let mut p = queried();
        p.set_protocol_type(t);
        p
    };
    let p = match choice {
        Graphics::Off => return None,
        Graphics::Halfblocks => Picker::halfblocks(),
        Graphics::Kitty => forced(ProtocolType::Kitty),
        Graphics::Sixel => forced(ProtocolType::Sixel),
        Graphics::Iterm2 => forced(ProtocolType::Iterm2),
        Graphics::Ask => queried(),
    };
    tracing::info!(protocol = ?p.protocol_type(), "pictures");
    Some(p)
}

/// `img` (of a `width`×`height` picture) to draw in at most `cols`×`rows` cells.
pub fn thumb(
    picker: &Picker,
    img: image::DynamicImage,
    (width, height): (u32, u32),
    (cols, rows): (u16, u16),
) -> Result<Thumb, PictureError> {
    let protocol = picker
        .new_protocol(img, Size::new(cols, rows), Resize::Fit(None))
        .map_err(|e| PictureError::Undecodable(e.to_string()))?;
    let size = protocol.size();
    Ok(Thumb {
        protocol,
        cols: size.width,
        rows: size.height,
        width,
        height,
    })
}

/// The background loader: URLs in, thumbnails out.
pub struct Loader {
    requests: mpsc::UnboundedSender<Request>,
    results: mpsc::UnboundedReceiver<Loaded>,
}

impl Loader {
    /// Starts loading on the current runtime.
    pub fn spawn(fetcher: Fetcher, picker: Picker) -> Loader {
        let (req_tx, mut req_rx) = mpsc::unbounded_channel::<Request>();
        let (res_tx, res_rx) = mpsc::unbounded_channel();
        let picker = Arc::new(picker);
        let slots = Arc::new(Semaphore::new(PARALLEL));
        tokio::spawn(async move {
            while let Some(request) = req_rx.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                let (fetcher, picker, res_tx) = (fetcher.clone(), picker.clone(), res_tx.clone());
                tokio::spawn(async move {
                    let result = load(&fetcher, picker, &request).await;
                    if let Err(e) = &result {
                        tracing::info!(url = %request.url, "picture not shown: {e}");
                    }
                    let _ = res_tx.send(Loaded { request, result });
                    drop(slot);
                });
            }
        });
        Loader {
            requests: req_tx,
            results: res_rx,
        }
    }

    /// Asks for the thumbnail of `url`.
    pub fn request(&self, url: &str) {
        let _ = self.requests.send(Request {
            url: url.to_string(),
            fit: None,
        });
    }

    /// Asks for the picture at `url` to fit `cols`×`rows` cells (the viewer).
    pub fn request_fit(&self, url: &str, cols: u16, rows: u16) {
        let _ = self.requests.send(Request {
            url: url.to_string(),
            fit: Some((cols, rows)),
        });
    }

    /// The next picture loaded; never, once the loader is gone.
    pub async fn next(&mut self) -> Loaded {
        match self.results.recv().await {
            Some(l) => l,
            None => std::future::pending().await,
        }
    }

    pub fn try_next(&mut self) -> Option<Loaded> {
        self.results.try_recv().ok()
    }
}

async fn load(
    fetcher: &Fetcher,
    picker: Arc<Picker>,
    request: &Request,
) -> Result<(Thumb, Source), PictureError> {
    let max_px = match request.fit {
        None => fetcher.limits().thumb_px,
        Some(_) => VIEW_PX,
    };
    let cells = request.fit.unwrap_or((THUMB_COLS, THUMB_ROWS));
    let (img, size, source) = fetcher.decoded(&request.url, max_px).await?;
    let t = tokio::task::spawn_blocking(move || thumb(&picker, img, size, cells))
        .await
        .map_err(|e| PictureError::Undecodable(e.to_string()))??;
    Ok((t, source))
}

/// Thumbnails ready to draw, at most [`THUMBS_KEPT`]; the oldest go first. And the one
/// picture of the viewer.
#[derive(Default)]
pub struct Thumbs {
    by_url: HashMap<String, Thumb>,
    order: VecDeque<String>,
    view: Option<(Request, Thumb)>,
}

impl Thumbs {
    /// The viewer's picture, when it was made for `request`.
    pub fn view(&self, request: &Request) -> Option<&Thumb> {
        self.view
            .as_ref()
            .filter(|(r, _)| r == request)
            .map(|(_, t)| t)
    }

    pub fn set_view(&mut self, request: Request, thumb: Thumb) {
        self.view = Some((request, thumb));
    }

    /// Drops the viewer's picture (the viewer closed).
    pub fn clear_view(&mut self) {
        self.view = None;
    }

    /// Keeps `thumb`; returns the URL that made room for it, if one did.
    pub fn put(&mut self, url: String, thumb: Thumb) -> Option<String> {
        if self.by_url.insert(url.clone(), thumb).is_none() {
            self.order.push_back(url);
        }
        if self.order.len() > THUMBS_KEPT {
            let old = self.order.pop_front()?;
            self.by_url.remove(&old);
            return Some(old);
        }
        None
    }

    pub fn get(&self, url: &str) -> Option<&Thumb> {
        self.by_url.get(url)
    }

    pub fn len(&self) -> usize {
        self.by_url.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_url.is_empty()
    }
}

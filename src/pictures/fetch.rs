//! A picture's bytes, from the disk cache or the network, and its thumbnail. Everything here
//! runs off the UI task: the network on the runtime, the disk and the decoding on blocking
//! threads. What comes from the network is bounded twice: the bytes read, and the pixels a
//! header claims before anything is decoded (a small PNG can claim 20000×20000).

use super::cache::DiskCache;
use image::DynamicImage;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Bounds of what is fetched and decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest picture file fetched.
    pub max_bytes: u64,
    /// Largest picture decoded, in pixels (width × height).
    pub max_pixels: u64,
    /// Thumbnails are at most this many pixels wide and high.
    pub thumb_px: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 10 * 1024 * 1024,
            // A 16-megapixel photo (4608×3456) decodes into 48 MB, and one is decoded at a
            // time: what bounds the memory a picture takes while it is made a thumbnail.
            max_pixels: 16_000_000,
            thumb_px: 480,
        }
    }
}

/// Why a picture is not shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    #[error("not a web address")]
    NotWeb,
    #[error("{0}")]
    Network(String),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("larger than {limit_mb} MB")]
    TooManyBytes { limit_mb: u64 },
    #[error("{width}×{height} pixels, too large to show")]
    TooManyPixels { width: u32, height: u32 },
    #[error("not a picture ({0})")]
    Undecodable(String),
}

/// Where the bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Cache,
    Network,
}

/// Fetches pictures, through the disk cache when there is one.
#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    cache: Option<DiskCache>,
    limits: Limits,
    /// One decode at a time, whatever the number of fetches.
    decoding: Arc<Semaphore>,
}

impl Fetcher {
    pub fn new(cache: Option<DiskCache>, limits: Limits) -> Result<Fetcher, PictureError> {
        let tls =
            crate::im::tls::client_config().map_err(|e| PictureError::Network(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(rustls::ClientConfig::clone(&tls))
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| PictureError::Network(e.to_string()))?;
        Ok(Fetcher {
            http,
            cache,
            limits,
            decoding: Arc::new(Semaphore::new(1)),
        })
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The picture at `url`, decoded and made a thumbnail; kept in the disk cache when it came
    /// from the network and could be decoded.
    pub async fn thumbnail(&self, url: &str) -> Result<(DynamicImage, Source), PictureError> {
        self.decoded(url, self.limits.thumb_px)
            .await
            .map(|(img, _, source)| (img, source))
    }

    /// The picture at `url` at most `max_px` on each side, with the size it really has.
    pub async fn decoded(
        &self,
        url: &str,
        max_px: u32,
    ) -> Result<(DynamicImage, (u32, u32), Source), PictureError> {
        let (bytes, source) = self.bytes(url).await?;
        let limits = Limits {
            thumb_px: max_px,
            ..self.limits
        };
        let slot = self
            .decoding
            .acquire()
            .await
            .map_err(|e| PictureError::Undecodable(e.to_string()))?;
        let (img, size, bytes) = tokio::task::spawn_blocking(move || {
            decode_thumbnail(&bytes, &limits).map(|(img, size)| (img, size, bytes))
        })
        .await
        .map_err(|e| PictureError::Undecodable(e.to_string()))??;
        drop(slot);
        if source == Source::Network
            && let Some(cache) = self.cache.clone()
        {
            let url = url.to_string();
            let kept = tokio::task::spawn_blocking(move || cache.put(&url, &bytes)).await;
            if let Ok(Err(e)) = kept {
                tracing::warn!("picture not kept in the cache: {e}");
            }
        }
        Ok((img, size, source))
    }

    /// The bytes of the picture at `url`: from the cache, else from the network.
    pub async fn bytes(&self, url: &str) -> Result<(Vec<u8>, Source), PictureError> {
        let parsed = url::Url::parse(url).map_err(|_| PictureError::NotWeb)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(PictureError::NotWeb);
        }
        let max = self.limits.max_bytes;
        if let Some(cache) = self.cache.clone() {
            let key = url.to_string();
            if let Ok(Some(bytes)) = tokio::task::spawn_blocking(move || cache.get(&key, max)).await
            {
                return Ok((bytes, Source::Cache));
            }
        }
        let too_large = PictureError::TooManyBytes {
            limit_mb: max / (1024 * 1024),
        };
        let mut resp = self
            .http
            .get(parsed)
            .send()
            .await
            .map_err(|e| PictureError::Network(network_reason(&e)))?;
        if !resp.status().is_success() {
            return Err(PictureError::Status(resp.status().as_u16()));
        }
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| PictureError::Network(network_reason(&e)))?
        {
            if (body.len() + chunk.len()) as u64 > max {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, Source::Network))
    }
}

/// A short reason, without the URL (it is shown beside it, and may carry a query).
fn network_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_body() || e.is_decode() {
        "the answer broke off".to_string()
    } else {
        "request failed".to_string()
    }
}

/// Decodes picture bytes into a thumbnail at most `limits.thumb_px` on each side, with the
/// size the picture has, refusing more than `limits.max_pixels` before decoding.
pub fn decode_thumbnail(
    bytes: &[u8],
    limits: &Limits,
) -> Result<(DynamicImage, (u32, u32)), PictureError> {
    let undecodable = |e: image::ImageError| PictureError::Undecodable(e.to_string());
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PictureError::Undecodable(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(PictureError::Undecodable("unknown format".into()));
    };
    // The header alone (a reader of its own: reading it consumes the reader).
    let (width, height) = image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(undecodable)?;
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PictureError::TooManyPixels { width, height });
    }
    let mut l = image::Limits::default();
    l.max_alloc = Some(limits.max_pixels.saturating_mul(4));
    reader.limits(l);
    let img = reader.decode().map_err(undecodable)?;
    if img.width() <= limits.thumb_px && img.height() <= limits.thumb_px {
        return Ok((img, (width, height)));
    }
    Ok((
        img.thumbnail(limits.thumb_px, limits.thumb_px),
        (width, height),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 10, 10]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("png");
        out
    }

    #[test]
    fn thumbnails_keep_the_aspect_and_huge_pictures_are_refused_before_decoding() {
        let limits = Limits {
            max_pixels: 1_000_000,
            thumb_px: 100,
            ..Limits::default()
        };
        let (t, size) = decode_thumbnail(&png(400, 300), &limits).expect("thumb");
        assert_eq!((t.width(), t.height()), (100, 75));
        assert_eq!(size, (400, 300));
        assert_eq!(
            decode_thumbnail(&png(2000, 1000), &limits),
            Err(PictureError::TooManyPixels {
                width: 2000,
                height: 1000
            })
        );
        assert!(matches!(
            decode_thumbnail(b"<html>not found</html>", &limits),
            Err(PictureError::Undecodable(_))
        ));
    }
}

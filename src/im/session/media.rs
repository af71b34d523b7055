//! Pictures to send: read from a file (checked by their first bytes and size), then
//! uploaded through the upload endpoint (§3.5).

use super::core::MediaError;
use crate::im::mtop::MtopClient;
use std::path::{Path, PathBuf};

/// Largest picture sent. Clients recompress to ≤ 5 MB (§3.5); this one sends the file as it is
/// and refuses a larger one with a clear reason rather than risk a silent rejection.
pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;

/// `~/` as a shell would read it: paths are typed by hand in the TUI.
pub fn expand_home(path: &Path, home: Option<PathBuf>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// Reads a picture file and uploads it; the CDN URL.
pub async fn upload_image(mtop: &MtopClient, path: &Path) -> Result<String, MediaError> {
    let path = expand_home(path, std::env::var_os("HOME").map(PathBuf::from));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image.jpg".into());
    let owned = path.clone();
    let bytes = tokio::task::spawn_blocking(move || read_image(&owned))
        .await
        .map_err(|e| MediaError::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })??;
    mtop.upload_image(&name, bytes)
        .await
        .map_err(MediaError::Upload)
}

/// The bytes of a picture file: at most [`MAX_IMAGE_BYTES`], and a JPEG, PNG, GIF or WebP by
/// its first bytes.
pub fn read_image(path: &Path) -> Result<Vec<u8>, MediaError> {
    use std::io::Read;
    let shown = || path.display().to_string();
    let unreadable = |e: std::io::Error| MediaError::Unreadable {
        path: shown(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(MediaError::TooLarge {
            path: shown(),
            limit_mb: MAX_IMAGE_BYTES / (1024 * 1024),
        });
    }
    let picture = bytes.starts_with(&[0xff, 0xd8, 0xff])
        || bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(b"GIF8")
        || (bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"));
    if !picture {
        return Err(MediaError::NotAPicture { path: shown() });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pictures_up_to_the_limit_are_read_for_sending() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let gif = write("a.gif", b"GIF89a....");
        assert_eq!(read_image(&gif).unwrap(), b"GIF89a....");
        let webp = write("a.webp", b"RIFF\0\0\0\0WEBPVP8 ");
        assert!(read_image(&webp).is_ok());
        let text = write("a.jpg", b"just text");
        assert!(
            read_image(&text)
                .unwrap_err()
                .to_string()
                .contains("not a JPEG")
        );
        let mut big = vec![0xff, 0xd8, 0xff];
        big.resize(MAX_IMAGE_BYTES as usize + 1, 0);
        let big = write("big.jpg", &big);
        assert!(
            read_image(&big)
                .unwrap_err()
                .to_string()
                .contains("larger than 5 MB")
        );
        assert!(read_image(&dir.path().join("absent.png")).is_err());
    }

    #[test]
    fn a_tilde_path_is_under_home() {
        let home = Some(PathBuf::from("/home/me"));
        assert_eq!(
            expand_home(Path::new("~/相机/a.png"), home.clone()),
            PathBuf::from("/home/me/相机/a.png")
        );
        assert_eq!(
            expand_home(Path::new("/tmp/a.png"), home),
            PathBuf::from("/tmp/a.png")
        );
        assert_eq!(
            expand_home(Path::new("~/a.png"), None),
            PathBuf::from("~/a.png")
        );
    }
}

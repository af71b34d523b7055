//! A hostile HTTP server on loopback for tests: raw HTTP/1.1 over a tokio listener, so that it
//! can answer what no well-behaved framework would (huge bodies, floods of `Set-Cookie`,
//! control characters in error texts) and record what the client sent.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the client sent, as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub request_line: String,
    /// Bytes of the request head (request line and headers).
    pub head_bytes: usize,
    pub cookie: Option<String>,
}

/// One answer.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

pub enum Body {
    Bytes(Vec<u8>),
    /// `prefix`, then `fill` repeated up to `len` bytes in all, then `suffix`, written as it
    /// goes (never held in memory), ending with the connection (no Content-Length) unless
    /// `announce` says to send one.
    Stream {
        prefix: Vec<u8>,
        fill: u8,
        len: u64,
        suffix: Vec<u8>,
        announce: bool,
    },
}

impl Answer {
    pub fn json(status: u16, body: &serde_json::Value) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Body::Bytes(body.to_string().into_bytes()),
        }
    }
}

type Handler = dyn Fn(&Seen) -> Answer + Send + Sync;

pub struct Hostile {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Bytes of body the server managed to write, over all answers.
    pub written: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hostile {
    pub async fn start(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(Mutex::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let (s, w) = (seen.clone(), written.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    break;
                };
                let (h, s, w) = (handler.clone(), s.clone(), w.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, h, s, w).await;
                });
            }
        });
        Hostile {
            addr,
            seen,
            written,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn body_bytes_written(&self) -> u64 {
        *self.written.lock().unwrap()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut sock: TcpStream,
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<Seen>>>,
    written: Arc<Mutex<u64>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 1 << 20 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut content_length = 0usize;
    let mut cookie = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => content_length = v.trim().parse().unwrap_or(0),
                "cookie" => cookie = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    // Read (and drop) the request body.
    let mut have = buf.len() - head_end;
    while have < content_length {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        have += n;
    }
    let s = Seen {
        request_line,
        head_bytes: head_end,
        cookie,
    };
    seen.lock().unwrap().push(s.clone());
    let answer = handler(&s);
    let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", answer.status);
    for (k, v) in &answer.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    match answer.body {
        Body::Bytes(b) => {
            out.push_str(&format!("Content-Length: {}\r\n\r\n", b.len()));
            sock.write_all(out.as_bytes()).await?;
            sock.write_all(&b).await?;
            *written.lock().unwrap() += b.len() as u64;
        }
        Body::Stream {
            prefix,
            fill,
            len,
            suffix,
            announce,
        } => {
            if announce {
                out.push_str(&format!("Content-Length: {len}\r\n"));
            }
            out.push_str("\r\n");
            sock.write_all(out.as_bytes()).await?;
            sock.write_all(&prefix).await?;
            let block = vec![fill; 64 * 1024];
            let mut left = len.saturating_sub((prefix.len() + suffix.len()) as u64);
            *written.lock().unwrap() += prefix.len() as u64;
            while left > 0 {
                let n = left.min(block.len() as u64) as usize;
                sock.write_all(&block[..n]).await?;
                *written.lock().unwrap() += n as u64;
                left -= n as u64;
            }
            sock.write_all(&suffix).await?;
            *written.lock().unwrap() += suffix.len() as u64;
        }
    }
    sock.shutdown().await
}

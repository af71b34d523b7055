//! Pictures in the message pane, fetched from the simulator's picture server: the disk cache
//! (miss, then hit with the server gone), failures shown with their reason, oversized
//! pictures refused, and a half-block thumbnail drawn where the picture is.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::{common, ui_support};

use goofish_tui::app::{AppState, Input, PictureView};
use goofish_tui::im::api::{ImCommand, ImEvent};
use goofish_tui::pictures::cache::DiskCache;
use goofish_tui::pictures::{Fetcher, Limits, Loader, PictureError, Source};
use goofish_tui::protocol::Content;
use goofish_tui::text::i18n::Lang;
use goofish_tui::tui::Runtime;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_image::picker::Picker;
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;
use ui_support::*;

/// The picture of an item of the simulator's world (a 400×300 JPEG).
async fn item_picture(sim: &goofish_tui::sim::SimHandle) -> String {
    let (mut ws, _) = common::RawWs::register(sim, "pictures-did").await;
    let mut pushes = vec![];
    let page = ws
        .rpc(
            "/r/Conversation/listNewestPagination",
            Some(json!([9007199254740991i64, 20])),
            &mut pushes,
        )
        .await;
    page.body.unwrap()["userConvs"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|c| {
            c["singleChatUserConversation"]["singleChatConversation"]["extension"]["itemMainPic"]
                .as_str()
                .map(String::from)
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_is_fetched_once_then_comes_from_the_cache() {
    let sim = common::quiet_sim().await;
    let url = item_picture(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path().join("pictures"), 8 * 1024 * 1024);
    let fetcher = Fetcher::new(Some(cache.clone()), Limits::default()).unwrap();

    let (thumb, source) = fetcher.thumbnail(&url).await.unwrap();
    assert_eq!(source, Source::Network, "a miss");
    assert_eq!((thumb.width(), thumb.height()), (400, 300));
    assert!(cache.size() > 0);
    // The server is gone: the picture still shows, from the disk.
    sim.shutdown().await;
    let (again, source) = fetcher.thumbnail(&url).await.unwrap();
    assert_eq!(source, Source::Cache, "a hit");
    assert_eq!(again.width(), 400);
    // Not kept, not reachable: a reason to show.
    let other = url.replace("-fleamarket.jpg", "-other.jpg");
    assert!(matches!(
        fetcher.thumbnail(&other).await,
        Err(PictureError::Network(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_oversized_pictures_have_reasons() {
    let sim = common::quiet_sim().await;
    let url = item_picture(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path().join("pictures"), 8 * 1024 * 1024);
    let fetcher = |limits| Fetcher::new(Some(cache.clone()), limits).unwrap();

    let missing = format!("{}/bao/uploaded/i1/O1CN01gone.jpg", sim.http_url());
    let err = fetcher(Limits::default())
        .thumbnail(&missing)
        .await
        .unwrap_err();
    assert_eq!(err, PictureError::Status(404));
    assert_eq!(err.to_string(), "HTTP 404");
    // More bytes than allowed: refused while reading.
    let small = Limits {
        max_bytes: 1024,
        ..Limits::default()
    };
    assert!(matches!(
        fetcher(small).thumbnail(&url).await,
        Err(PictureError::TooManyBytes { .. })
    ));
    // More pixels than allowed: refused from the header, before decoding, and not kept.
    let few = Limits {
        max_pixels: 100_000,
        ..Limits::default()
    };
    let err = fetcher(few).thumbnail(&url).await.unwrap_err();
    assert_eq!(
        err,
        PictureError::TooManyPixels {
            width: 400,
            height: 300
        }
    );
    assert_eq!(err.to_string(), "400×300 pixels, too large to show");
    assert_eq!(cache.size(), 0);
    assert_eq!(
        fetcher(Limits::default())
            .thumbnail("file:///etc/passwd")
            .await
            .unwrap_err(),
        PictureError::NotWeb
    );
    sim.shutdown().await;
}

fn fixed_clock() -> i64 {
    now()
}

/// Conversation 101 open: a question, then a picture at `url`.
fn with_picture(url: &str) -> AppState {
    let mut s = populated(Lang::Zh);
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    let msgs = vec![
        msg("1.PNM", "101", "3001", now() - 2000, text("这里有划痕吗？")),
        msg(
            "2.PNM",
            "101",
            "3001",
            now() - 1000,
            Content::Image {
                urls: vec![url.to_string()],
            },
        ),
    ];
    im(
        &mut s,
        ImEvent::History {
            page: page("101", msgs, None),
            requested: None,
        },
    );
    s
}

/// A `w`×`h` runtime showing [`with_picture`], its pictures loaded by `fetcher` in half
/// blocks; the receiver of its commands beside it.
fn runtime(
    url: &str,
    (w, h): (u16, u16),
    fetcher: Fetcher,
) -> (Runtime<TestBackend>, mpsc::Receiver<ImCommand>) {
    let (tx, rx) = mpsc::channel(16);
    let rt = Runtime::new(TestBackend::new(w, h), with_picture(url), tx)
        .unwrap()
        .with_clock(fixed_clock)
        .with_pictures(Loader::spawn(fetcher, Picker::halfblocks()));
    (rt, rx)
}

/// Waits for the next picture the runtime asked for to be loaded (or to fail).
async fn next_picture(rt: &mut Runtime<TestBackend>) {
    tokio::time::timeout(Duration::from_secs(20), rt.next_picture())
        .await
        .unwrap();
}

/// Rows of the screen that show a piece of a half-block picture.
fn block_rows(shown: &str) -> usize {
    shown
        .lines()
        .filter(|l| l.contains('▀') || l.contains('▄'))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thumbnail_is_drawn_in_half_blocks_where_the_picture_is() {
    let sim = common::quiet_sim().await;
    let url = item_picture(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(
        Some(DiskCache::new(dir.path().to_path_buf(), 1 << 24)),
        Limits::default(),
    )
    .unwrap();
    let (mut rt, _rx) = runtime(&url, (80, 24), fetcher);
    rt.draw_if_dirty().unwrap();
    // The frame does not wait for the picture: a placeholder where it will be.
    let before = screen(&rt);
    assert!(before.contains("⧗ 图片加载中"), "{before}");
    next_picture(&mut rt).await;
    assert_eq!(rt.state().pictures.get(&url), Some(&PictureView::Ready));
    rt.draw_if_dirty().unwrap();
    let after = screen(&rt);
    assert!(!after.contains("图片加载中"), "{after}");
    // 400×300 in at most 24×6 cells of 1×2 pixels each: 16 columns of half blocks, 6 rows.
    let spans: Vec<usize> = after
        .lines()
        .filter_map(|l| {
            let cells: Vec<char> = l.chars().collect();
            let first = cells.iter().position(|c| matches!(c, '▀' | '▄'))?;
            let last = cells.iter().rposition(|c| matches!(c, '▀' | '▄'))?;
            Some(last - first + 1)
        })
        .collect();
    assert_eq!(spans, [16; 6], "{after}");
    let shown = after.replace(sim.http_url().trim_start_matches("http://"), "SIM");
    insta::assert_snapshot!("half_block_thumbnail_80x24", shown);

    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_that_cannot_be_fetched_shows_why_and_its_link() {
    let sim = common::quiet_sim().await;
    let missing = format!("{}/bao/uploaded/i1/O1CN01gone.jpg", sim.http_url());
    let fetcher = Fetcher::new(None, Limits::default()).unwrap();
    let (mut rt, _rx) = runtime(&missing, (80, 24), fetcher);
    rt.draw_if_dirty().unwrap();
    next_picture(&mut rt).await;
    rt.draw_if_dirty().unwrap();
    let shown = screen(&rt);
    // One row saying why, the link right under it.
    let rows: Vec<&str> = shown.lines().collect();
    let at = rows.iter().position(|l| l.contains("✗ HTTP 404"));
    let at = at.unwrap_or_else(|| panic!("{shown}"));
    assert!(
        rows[at + 1].contains("O1CN01gone.jpg"),
        "the link under it: {shown}"
    );
    assert!(rt.links().iter().any(|l| l.url == missing));
    sim.shutdown().await;
}

fn press(
    rt: &mut Runtime<TestBackend>,
    code: KeyCode,
) -> impl std::future::Future<Output = ()> + '_ {
    rt.dispatch(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_shows_the_picture_large_with_its_size_and_opens_it() {
    let sim = common::quiet_sim().await;
    let url = item_picture(&sim).await;
    let fetcher = Fetcher::new(None, Limits::default()).unwrap();
    let (mut rt, _rx) = runtime(&url, (120, 40), fetcher);
    for code in [KeyCode::Esc, KeyCode::Tab, KeyCode::Char('v')] {
        press(&mut rt, code).await;
    }
    assert_eq!(rt.state().viewer.as_deref(), Some(url.as_str()));
    rt.draw_if_dirty().unwrap();
    assert!(screen(&rt).contains("⧗"), "a placeholder first");
    next_picture(&mut rt).await;
    rt.draw_if_dirty().unwrap();
    let shown = screen(&rt);
    assert!(shown.contains("400×300"), "{shown}");
    // Its natural size (400×300 pixels in cells of 10×20), larger than the 6-row thumbnail.
    assert_eq!(block_rows(&shown), 15, "{shown}");
    assert!(rt.links().iter().any(|l| l.url == url));

    // `o` on the user's own machine: the desktop's opener gets the address.
    press(&mut rt, KeyCode::Char('o')).await;
    assert_eq!(rt.opened(), Some(url.as_str()));
    // `y` copies its address; Esc goes back to the conversation.
    press(&mut rt, KeyCode::Char('y')).await;
    assert_eq!(rt.copied(), Some(url.as_str()));
    press(&mut rt, KeyCode::Esc).await;
    assert!(rt.state().viewer.is_none());
    rt.draw_if_dirty().unwrap();
    assert!(!screen(&rt).contains("400×300"));
    sim.shutdown().await;
}

#[test]
fn over_ssh_the_link_is_offered_instead_of_opened() {
    use goofish_tui::app::{Effect, over_ssh};
    let url = "https://img.alicdn.com/imgextra/i1/O1CN01x_!!1-0-xy_chat.jpg";
    let mut s = with_picture(url);
    s.remote = true;
    for code in [KeyCode::Esc, KeyCode::Tab] {
        key(&mut s, code);
    }
    let fx = key(&mut s, KeyCode::Char('o'));
    assert_eq!(fx, vec![Effect::Copy(url.into())]);
    s.remote = false;
    let fx = key(&mut s, KeyCode::Char('o'));
    assert_eq!(fx, vec![Effect::OpenUrl(url.into())]);
    // A message with no picture has nothing to view.
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Char('v'));
    assert!(s.viewer.is_none());
    assert!(s.notice.is_some());

    let env = |k: &'static str| {
        move |name: &str| (name == k).then(|| "10.0.0.2 5122 10.0.0.1 22".to_string())
    };
    assert!(over_ssh(env("SSH_CONNECTION")));
    assert!(over_ssh(env("SSH_TTY")));
    assert!(!over_ssh(env("DISPLAY")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_scrolled_half_out_of_view_leaves_a_word_for_it() {
    let sim = common::quiet_sim().await;
    let url = item_picture(&sim).await;
    let fetcher = Fetcher::new(None, Limits::default()).unwrap();
    let (mut rt, _rx) = runtime(&url, (80, 24), fetcher);
    rt.draw_if_dirty().unwrap();
    next_picture(&mut rt).await;
    let mut cut_frames = 0;
    for i in 0..30 {
        rt.dispatch(Input::Im(ImEvent::Message(msg(
            &format!("{}.PNM", 100 + i),
            "101",
            "3001",
            now() + i,
            text("还在吗"),
        ))))
        .await;
        rt.draw_if_dirty().unwrap();
        let shown = screen(&rt);
        let n = block_rows(&shown);
        if shown.contains("⋮ [图片]") {
            // Its top above the view: no piece of the wrong part of it, a word instead.
            assert_eq!(n, 0, "{shown}");
            cut_frames += 1;
        } else if shown.contains("[图片] ") && shown.contains("fleamarket.jpg") {
            // Still whole in view, or only its link left.
            assert!(n == 6 || n == 0, "{shown}");
        }
    }
    // Pushed up one row at a time, the picture spent five frames cut at the top.
    assert_eq!(cut_frames, 5);
    sim.shutdown().await;
}

//! The simulator serves the pictures its world links to, and pictures users upload, so that
//! `--demo` shows real pictures with no network.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used)]

use crate::common;

use common::{RawMtop, RawWs, quiet_sim};
use serde_json::json;

const DID: &str = "pictures-test-did";

async fn get(url: &str) -> (u16, String, Vec<u8>) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ctype, resp.bytes().await.unwrap().to_vec())
}

fn decoded(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory(bytes).unwrap()
}

#[tokio::test]
async fn item_avatar_and_chat_pictures_are_real_images_from_the_simulator() {
    let sim = quiet_sim().await;
    let (mut ws, _) = RawWs::register(&sim, DID).await;
    let mut pushes = vec![];
    let page = ws
        .rpc(
            "/r/Conversation/listNewestPagination",
            Some(json!([9007199254740991i64, 20])),
            &mut pushes,
        )
        .await;
    let convs = page.body.unwrap()["userConvs"].as_array().unwrap().clone();
    let mut item_pics = vec![];
    for c in &convs {
        let ext = &c["singleChatUserConversation"]["singleChatConversation"]["extension"];
        if let Some(p) = ext["itemMainPic"].as_str() {
            item_pics.push(p.to_string());
        }
    }
    assert!(!item_pics.is_empty(), "{convs:?}");
    for pic in &item_pics {
        assert!(pic.starts_with(sim.http_url()), "{pic}");
        let (status, ctype, bytes) = get(pic).await;
        assert_eq!((status, ctype.as_str()), (200, "image/jpeg"), "{pic}");
        let img = decoded(&bytes);
        assert_eq!((img.width(), img.height()), (400, 300));
    }
    // The same URL is the same picture.
    assert_eq!(get(&item_pics[0]).await.2, get(&item_pics[0]).await.2);

    // The peer's avatar, from the profile API.
    let cid = convs[0]["singleChatUserConversation"]["singleChatConversation"]["cid"]
        .as_str()
        .unwrap()
        .trim_end_matches("@goofish")
        .to_string();
    let mut mtop = RawMtop::new(sim.http_url(), sim.cookie());
    let q = json!({"type": 0, "sessionType": 1, "sessionId": cid, "isOwner": false}).to_string();
    let user = mtop
        .call_ok("mtop.taobao.idlemessage.pc.user.query", &q)
        .await;
    let avatar = user["userInfo"]["logo"].as_str().unwrap();
    let (status, _, bytes) = get(avatar).await;
    assert_eq!(status, 200, "{avatar}");
    assert_eq!(decoded(&bytes).width(), 96);

    // A chat picture of the world's shape, and one that is not there.
    let base = sim.http_url();
    let (status, _, bytes) = get(&format!(
        "{base}/imgextra/i2/O1CN01abc_!!2211-0-xy_chat.jpg"
    ))
    .await;
    assert_eq!(status, 200);
    let img = decoded(&bytes);
    assert!(img.height() > img.width(), "a photo held upright");
    let (status, _, _) = get(&format!("{base}/bao/uploaded/i1/O1CN01nothing.jpg")).await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_picture_uploaded_is_served_back_as_it_was_sent() {
    let sim = quiet_sim().await;
    let mtop = common::sim_mtop(&sim);
    let img = image::RgbImage::from_fn(33, 21, |x, y| image::Rgb([x as u8 * 7, y as u8 * 11, 90]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let url = mtop.upload_image("划痕.png", png.clone()).await.unwrap();
    assert!(url.starts_with(sim.http_url()), "{url}");
    let (status, ctype, bytes) = get(&url).await;
    assert_eq!((status, ctype.as_str()), (200, "image/png"));
    assert_eq!(bytes, png);
    sim.shutdown().await;
}

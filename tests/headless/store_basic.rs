//! The local history store: dedupe, paging, outbox, drafts, search, upkeep, migrations
//! and refusal of unusable files.
#![allow(clippy::unwrap_used)]

use goofish_tui::protocol::{Cid, ClientId, Content, Conversation, Message, MessageId, Uid};
use goofish_tui::store::{
    CURRENT_VERSION, OutboxState, Store, StoreError, accounts_in, db_path, remove_db,
};
use rusqlite::Connection;

fn uid() -> Uid {
    Uid::new("2200000001")
}

fn msg(id: u64, cid: &str, time: i64, text: &str) -> Message {
    Message {
        id: MessageId::new(format!("{id}.PNM")),
        cid: Cid::new(cid),
        sender: Uid::new("3300000007"),
        is_self: false,
        time,
        content: Content::Text { text: text.into() },
        item_id: Some("700001".into()),
        sender_nick: Some("买家小王".into()),
        session_type: Some(1),
        need_push: true,
        red_reminder: None,
        client_id: None,
    }
}

fn conv(cid: &str, modify: i64, nick: &str, title: &str) -> Conversation {
    Conversation {
        cid: Cid::new(cid),
        peer: Uid::new("3300000007"),
        peer_nick: Some(nick.into()),
        item_id: Some("700001".into()),
        item_title: Some(title.into()),
        item_pic: None,
        modify_time: modify,
        unread: 2,
        pinned: false,
        muted: false,
        red_reminder: Some("等待买家付款".into()),
        last_message: Some(msg(1, cid, modify, "最后一条")),
    }
}

fn mem() -> Store {
    Store::open_in_memory(&uid()).unwrap()
}

#[test]
fn duplicate_messages_are_stored_once() {
    let mut s = mem();
    let a = msg(1, "10", 1000, "你好");
    let b = msg(2, "10", 2000, "在吗");
    assert_eq!(s.save_messages(&[a.clone(), b.clone()]).unwrap(), 2);
    // The same ids again (a push and then the history page): nothing new.
    let mut changed = a.clone();
    changed.content = Content::Text {
        text: "changed".into(),
    };
    assert_eq!(s.save_messages(&[changed, b.clone()]).unwrap(), 0);
    assert_eq!(s.save_messages(&[a.clone(), a.clone()]).unwrap(), 0);
    assert_eq!(s.message_count().unwrap(), 2);
    let got = s.messages(&Cid::new("10@goofish"), None, 10).unwrap();
    assert_eq!(got, vec![b, a], "newest first, first version kept");
}

/// Every stored message of `cid`, read back a page of `size` at a time as scrolling up does.
fn every_page(s: &Store, cid: &Cid, size: usize) -> Vec<Message> {
    let mut seen = Vec::new();
    let mut before: Option<(i64, MessageId)> = None;
    loop {
        let page = s
            .messages(cid, before.as_ref().map(|(t, id)| (*t, id)), size)
            .unwrap();
        assert!(page.len() <= size);
        let Some(last) = page.last() else {
            return seen;
        };
        before = Some((last.time, last.id.clone()));
        seen.extend(page);
    }
}

#[test]
fn pages_scroll_back_without_gaps_or_repeats() {
    let mut s = mem();
    // 25 messages, some sharing a timestamp, plus another conversation's.
    let mut all: Vec<Message> = (0..25)
        .map(|i| msg(100 + i, "10", 1000 + (i as i64 / 2) * 10, &format!("m{i}")))
        .collect();
    s.save_messages(&all).unwrap();
    s.save_messages(&[msg(999, "11", 5000, "other")]).unwrap();
    let cid = Cid::new("10");
    let seen = every_page(&s, &cid, 7);
    all.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
    assert_eq!(seen, all);
    assert_eq!(s.latest_time(&cid).unwrap(), Some(1120));
    assert_eq!(s.latest_time(&Cid::new("404")).unwrap(), None);
}

/// History that arrived in pieces (a burst, then a backfill of the gaps, then a repeat) reads
/// back as one conversation in time order, however the pieces were committed.
#[test]
fn messages_committed_apart_and_interleaved_read_back_in_time_order() {
    let mut s = mem();
    let at = |i: u64| msg(1000 + i, "10", 10_000 + i as i64 * 10, &format!("第{i}条"));
    // Even ones in one commit (more than one chunk holds), odd ones in a later one, then a
    // commit repeating some of both with one more.
    let evens: Vec<Message> = (0..150).step_by(2).map(at).collect();
    let odds: Vec<Message> = (1..150).step_by(2).map(at).collect();
    assert_eq!(s.save_messages(&evens).unwrap(), 75);
    assert_eq!(s.save_messages(&odds).unwrap(), 75);
    let again = [at(3), at(140), at(150)];
    assert_eq!(s.save_messages(&again).unwrap(), 1);
    assert_eq!(s.message_count().unwrap(), 151);
    let cid = Cid::new("10");
    let seen = every_page(&s, &cid, 20);
    let expected: Vec<Message> = (0..=150).rev().map(at).collect();
    assert_eq!(seen, expected);
    // Around a search hit: two older, it, and the two after it, oldest first.
    let hit = at(71);
    let around: Vec<String> = s
        .messages_around(&cid, (hit.time, &hit.id), 2, 3)
        .unwrap()
        .iter()
        .map(|m| m.content.summary())
        .collect();
    assert_eq!(around, ["第69条", "第70条", "第71条", "第72条", "第73条"]);
    // Recalling one inside a chunk keeps its neighbours; pruning keeps the newest.
    assert!(s.forget_message(&at(72).id).unwrap());
    assert_eq!(s.search("第72条", 10).unwrap().len(), 0);
    assert_eq!(s.search("第73条", 10).unwrap().len(), 1);
    assert_eq!(s.prune(Some(5)).unwrap(), 145);
    let left: Vec<String> = s
        .messages(&cid, None, 100)
        .unwrap()
        .iter()
        .map(|m| m.content.summary())
        .collect();
    assert_eq!(
        left,
        ["第150条", "第149条", "第148条", "第147条", "第146条"]
    );
    assert_eq!(s.search("第14", 100).unwrap().len(), 4);
    assert_eq!(s.stored_of(&[at(150).id, at(1).id]).unwrap(), 1);
}

#[test]
fn conversations_come_back_newest_first_and_update_in_place() {
    let mut s = mem();
    s.save_conversations(&[conv("1", 100, "甲", "相机"), conv("2", 300, "乙", "手机")])
        .unwrap();
    s.save_conversations(&[conv("1", 500, "甲改", "相机")])
        .unwrap();
    let list = s.conversations().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].cid, Cid::new("1"));
    assert_eq!(list[0].peer_nick.as_deref(), Some("甲改"));
    assert_eq!(list[0], conv("1", 500, "甲改", "相机"), "every field kept");
    assert_eq!(list[1].cid, Cid::new("2"));
}

#[test]
fn a_conversation_first_seen_in_a_message_is_added_but_never_replaces_a_listed_one() {
    let mut s = mem();
    s.save_conversations(&[conv("1", 500, "甲", "相机")])
        .unwrap();
    s.add_new_conversations(&[conv("1", 600, "", ""), conv("2", 700, "新买家", "")])
        .unwrap();
    let list = s.conversations().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].peer_nick.as_deref(), Some("新买家"));
    assert_eq!(
        list[1],
        conv("1", 500, "甲", "相机"),
        "the listed copy stays"
    );
}

#[test]
fn a_stored_list_shows_the_messages_stored_after_it() {
    let mut s = mem();
    s.save_conversations(&[conv("1", 500, "甲", "相机"), conv("2", 300, "乙", "手机")])
        .unwrap();
    // While no view was open, two buyer messages came to the older conversation.
    s.save_messages(&[
        msg(7, "2", 600, "还在吗"),
        msg(8, "2", 700, "能发顺丰吗 🚚"),
    ])
    .unwrap();
    let list = s.conversations().unwrap();
    assert_eq!(list[0].cid, Cid::new("2"), "moved up by its newest message");
    assert_eq!(list[0].modify_time, 700);
    assert_eq!(list[0].unread, 2 + 2);
    let last = list[0].last_message.as_ref().unwrap();
    assert_eq!(
        last.content,
        Content::Text {
            text: "能发顺丰吗 🚚".into()
        }
    );
    // An own reply after them: nothing unread any more.
    let mut mine = msg(9, "2", 800, "可以");
    mine.is_self = true;
    mine.sender = uid();
    s.save_messages(&[mine]).unwrap();
    let list = s.conversations().unwrap();
    assert_eq!(list[0].unread, 0);
    assert_eq!(list[1], conv("1", 500, "甲", "相机"), "untouched");
}

#[test]
fn outbox_keeps_texts_until_removed() {
    let mut s = mem();
    let (a, b) = (
        ClientId::new("-1700000000001"),
        ClientId::new("-1700000000002"),
    );
    s.outbox_add(&Cid::new("10"), &a, "第一条", 1).unwrap();
    s.outbox_add(&Cid::new("11"), &b, "second", 2).unwrap();
    s.outbox_add(&Cid::new("10"), &a, "again", 3).unwrap();
    s.outbox_set_state(&a, OutboxState::Sending).unwrap();
    let pending = s.outbox_pending().unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].client_id, a);
    assert_eq!(pending[0].text, "第一条", "first entry kept");
    assert_eq!(pending[0].state, OutboxState::Sending);
    assert_eq!(pending[1].state, OutboxState::Queued);
    assert!(s.outbox_remove(&a).unwrap());
    assert!(!s.outbox_remove(&a).unwrap());
    assert_eq!(s.outbox_pending().unwrap().len(), 1);
}

#[test]
fn drafts_are_kept_and_empty_text_deletes() {
    let mut s = mem();
    s.set_draft(&Cid::new("10"), "还在考虑").unwrap();
    s.set_draft(&Cid::new("11"), "x").unwrap();
    s.set_draft(&Cid::new("10"), "还在考虑，最低多少").unwrap();
    assert_eq!(
        s.draft(&Cid::new("10")).unwrap().as_deref(),
        Some("还在考虑，最低多少")
    );
    s.set_draft(&Cid::new("11"), "  ").unwrap();
    assert_eq!(
        s.drafts().unwrap(),
        vec![(Cid::new("10"), "还在考虑，最低多少".to_string())]
    );
}

fn search_texts(s: &Store, q: &str) -> Vec<String> {
    s.search(q, 50)
        .unwrap()
        .into_iter()
        .map(|h| h.message.content.summary())
        .collect()
}

#[test]
fn search_finds_chinese_emoji_and_mixed_text() {
    let mut s = mem();
    s.save_conversations(&[conv("10", 9000, "买家小王", "iPhone 13 国行")])
        .unwrap();
    s.save_messages(&[
        msg(1, "10", 1000, "老板，能便宜点吗？"),
        msg(2, "10", 2000, "包邮吗亲"),
        msg(3, "11", 3000, "这个 iPhone 还在吗"),
        msg(4, "10", 4000, "好的😀谢谢"),
        msg(5, "11", 5000, "不包邮的话能便宜50吗"),
        msg(6, "11", 6000, "100%_新吗"),
    ])
    .unwrap();
    // Two characters: scan.
    assert_eq!(
        search_texts(&s, "包邮"),
        ["不包邮的话能便宜50吗", "包邮吗亲"]
    );
    // Three characters: trigram index, newest first.
    assert_eq!(
        search_texts(&s, "能便宜"),
        ["不包邮的话能便宜50吗", "老板，能便宜点吗？"]
    );
    assert_eq!(search_texts(&s, "iphone"), ["这个 iPhone 还在吗"]);
    assert_eq!(search_texts(&s, "😀"), ["好的😀谢谢"]);
    assert_eq!(search_texts(&s, "😀谢谢"), ["好的😀谢谢"]);
    // Wildcards are literal.
    assert_eq!(search_texts(&s, "%_"), ["100%_新吗"]);
    assert!(search_texts(&s, "_").len() == 1);
    assert_eq!(search_texts(&s, "0%_新"), ["100%_新吗"]);
    assert!(search_texts(&s, "0%x新").is_empty());
    // Every trigram of the query in a message is not enough: they must be in a row.
    s.save_messages(&[msg(7, "11", 7000, "包邮的，邮的话，的话能")])
        .unwrap();
    assert_eq!(search_texts(&s, "包邮的话能"), ["不包邮的话能便宜50吗"]);
    // FTS operators in the query are literal too.
    assert!(search_texts(&s, "\"OR能").is_empty());
    assert!(search_texts(&s, "   ").is_empty());

    let hits = s.search("能便宜", 1).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message.id.as_str(), "5.PNM");
    assert_eq!(hits[0].conversation, None, "conversation 11 is not stored");
    let hit = &s.search("能便宜点", 5).unwrap()[0];
    assert_eq!(hit.peer_nick(), Some("买家小王"));
    assert_eq!(hit.item_title(), Some("iPhone 13 国行"));
    assert_eq!(
        hit.conversation.as_ref().map(|c| c.cid.as_str()),
        Some(hit.message.cid.as_str())
    );
    assert_eq!(&hit.snippet[hit.highlight.clone().unwrap()], "能便宜点");
}

#[test]
fn a_forgotten_message_is_neither_read_back_nor_found() {
    let mut s = mem();
    s.save_messages(&[
        msg(1, "10", 1000, "我的微信是 abc123"),
        msg(2, "10", 2000, "还在吗"),
    ])
    .unwrap();
    assert!(s.forget_message(&MessageId::new("1.PNM")).unwrap());
    assert!(!s.forget_message(&MessageId::new("1.PNM")).unwrap());
    let left = s.messages(&Cid::new("10"), None, 50).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id.as_str(), "2.PNM");
    assert!(search_texts(&s, "微信").is_empty());
    assert_eq!(search_texts(&s, "还在"), vec!["还在吗"]);
}

#[test]
fn search_follows_pruning_and_clearing() {
    let mut s = mem();
    let msgs: Vec<Message> = (0..10)
        .map(|i| msg(i, "10", 1000 + i as i64, &format!("第{i}条 能便宜")))
        .collect();
    s.save_messages(&msgs).unwrap();
    s.save_messages(&[msg(50, "11", 10, "能便宜吗")]).unwrap();
    assert_eq!(s.prune(None).unwrap(), 0);
    assert_eq!(s.prune(Some(3)).unwrap(), 7);
    let left: Vec<String> = s
        .messages(&Cid::new("10"), None, 100)
        .unwrap()
        .iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(left, ["9.PNM", "8.PNM", "7.PNM"]);
    assert_eq!(
        s.search("能便宜", 100).unwrap().len(),
        4,
        "index follows deletes"
    );
    s.set_draft(&Cid::new("10"), "d").unwrap();
    s.meta_set("k", "v").unwrap();
    s.clear().unwrap();
    assert_eq!(s.message_count().unwrap(), 0);
    assert!(s.search("能便宜", 100).unwrap().is_empty());
    assert!(s.drafts().unwrap().is_empty());
    assert_eq!(s.meta_get("k").unwrap(), None);
    // Still fully usable afterwards.
    s.save_messages(&[msg(60, "10", 1, "能便宜吗")]).unwrap();
    assert_eq!(s.search("能便宜", 100).unwrap().len(), 1);
    assert_eq!(s.prune(Some(0)).unwrap(), 1);
    assert!(s.search("能便宜", 100).unwrap().is_empty());
}

#[test]
fn meta_values_round_trip() {
    let mut s = mem();
    assert_eq!(s.meta_get("last_list_ms").unwrap(), None);
    s.meta_set("last_list_ms", "1").unwrap();
    s.meta_set("last_list_ms", "2").unwrap();
    assert_eq!(s.meta_get("last_list_ms").unwrap().as_deref(), Some("2"));
}

#[test]
fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path(), &uid()).unwrap();
        s.save_messages(&[msg(1, "10", 1, "能便宜吗")]).unwrap();
        s.outbox_add(&Cid::new("10"), &ClientId::new("-1"), "hi", 1)
            .unwrap();
    }
    let s = Store::open(dir.path(), &uid()).unwrap();
    assert_eq!(s.message_count().unwrap(), 1);
    assert_eq!(s.outbox_pending().unwrap().len(), 1);
    assert_eq!(s.search("能便宜", 5).unwrap().len(), 1);
    let path = db_path(dir.path(), &uid()).unwrap();
    assert!(path.ends_with("store-2200000001.sqlite3"));
    assert_eq!(accounts_in(dir.path()), vec![uid()]);
    drop(s);
    let removed = remove_db(dir.path(), &uid()).unwrap();
    assert!(removed.contains(&path));
    assert!(!path.exists());
    assert!(accounts_in(dir.path()).is_empty());
}

#[test]
fn odd_account_ids_cannot_escape_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["../x", "a/b", ""] {
        assert!(matches!(
            Store::open(dir.path(), &Uid::new(bad)),
            Err(StoreError::BadUid(_))
        ));
    }
}

/// A database written by hand as the first released schema looked, holding `messages`.
fn version_1_database(path: &std::path::Path, messages: &[Message]) -> Connection {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE conversations (cid TEXT PRIMARY KEY, peer TEXT NOT NULL,
            peer_nick TEXT, item_id TEXT, item_title TEXT, modify_time INTEGER NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0, json TEXT NOT NULL);
         CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
            cid TEXT NOT NULL, time INTEGER NOT NULL, sender TEXT NOT NULL,
            json TEXT NOT NULL);
         CREATE INDEX messages_cid_time ON messages (cid, time, id);
         CREATE TABLE outbox (client_id TEXT PRIMARY KEY, cid TEXT NOT NULL,
            text TEXT NOT NULL, created INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued');
         CREATE TABLE drafts (cid TEXT PRIMARY KEY, text TEXT NOT NULL,
            updated INTEGER NOT NULL);
         CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    for m in messages {
        c.execute(
            "INSERT INTO messages (id, cid, time, sender, json) VALUES (?1, ?2, ?3, ?4, ?5)",
            (
                m.id.as_str(),
                m.cid.as_str(),
                m.time,
                m.sender.as_str(),
                serde_json::to_string(m).unwrap(),
            ),
        )
        .unwrap();
    }
    c
}

/// Per-message rows of an earlier version become chunks with nothing lost, doubled or out of
/// order: many messages in one conversation, a few in others.
#[test]
fn a_large_older_database_is_regrouped_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path(), &uid()).unwrap();
    let all: Vec<Message> = (0..300u64)
        .map(|i| {
            let cid = if i % 10 == 0 { "11" } else { "10" };
            msg(
                5000 + i,
                cid,
                1_000 + (i as i64 / 3),
                &format!("旧消息{i}号"),
            )
        })
        .collect();
    drop(version_1_database(&path, &all));
    let mut s = Store::open(dir.path(), &uid()).unwrap();
    assert_eq!(s.message_count().unwrap(), 300);
    for cid in ["10", "11"] {
        let mut expected: Vec<Message> = all
            .iter()
            .filter(|m| m.cid.as_str() == cid)
            .cloned()
            .collect();
        expected.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
        assert_eq!(s.messages(&Cid::new(cid), None, 1000).unwrap(), expected);
    }
    assert_eq!(s.search("旧消息123号", 10).unwrap().len(), 1);
    assert_eq!(s.search("旧消息", 500).unwrap().len(), 300);
    // What was stored before is known as stored: a backfill adds nothing.
    assert_eq!(s.save_messages(&all).unwrap(), 0);
    assert_eq!(s.message_count().unwrap(), 300);
}

#[test]
fn version_1_database_is_upgraded_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path(), &uid()).unwrap();
    let old = msg(7, "10", 1234, "旧版本里的能便宜吗");
    {
        let c = version_1_database(&path, std::slice::from_ref(&old));
        c.execute(
            "INSERT INTO outbox (client_id, cid, text, created) VALUES ('-9', '10', '离线时写的', 5)",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO drafts (cid, text, updated) VALUES ('10', '草稿', 5)",
            [],
        )
        .unwrap();
    }
    let mut s = Store::open(dir.path(), &uid()).unwrap();
    assert_eq!(
        s.messages(&Cid::new("10"), None, 10).unwrap(),
        vec![old.clone()]
    );
    assert_eq!(s.outbox_pending().unwrap()[0].text, "离线时写的");
    assert_eq!(s.drafts().unwrap()[0].1, "草稿");
    // Old rows are searchable, and new ones join them in the index.
    assert_eq!(s.search("能便宜", 5).unwrap().len(), 1);
    s.save_messages(&[msg(8, "10", 2000, "新的能便宜吗")])
        .unwrap();
    assert_eq!(s.search("能便宜", 5).unwrap().len(), 2);
    assert_eq!(s.search("便宜", 5).unwrap().len(), 2);
    // A recalled old message leaves the rebuilt index too.
    assert!(s.forget_message(&old.id).unwrap());
    assert_eq!(s.search("旧版本", 5).unwrap().len(), 0);
    assert_eq!(s.search("能便宜", 5).unwrap().len(), 1);
    drop(s);
    let v: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, CURRENT_VERSION);
}

#[test]
fn database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path(), &uid()).unwrap();
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    match Store::open(dir.path(), &uid()) {
        Err(e @ StoreError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (99, CURRENT_VERSION));
            assert!(e.to_string().contains("newer"));
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    let c = Connection::open(&path).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99);
    let tables: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "nothing was created in it");
}

#[test]
fn corrupt_file_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path(), &uid()).unwrap();
    std::fs::write(
        &path,
        b"this is not a database, just some bytes ".repeat(200),
    )
    .unwrap();
    match Store::open(dir.path(), &uid()) {
        Err(e @ StoreError::Corrupt { .. }) => {
            let text = e.to_string();
            assert!(text.contains("damaged"), "{text}");
            assert!(text.contains("store-2200000001.sqlite3"), "{text}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn unwritable_directory_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data directory should be.
    let blocked = dir.path().join("data");
    std::fs::write(&blocked, b"x").unwrap();
    match Store::open(&blocked, &uid()) {
        Err(e @ StoreError::Io { .. }) => assert!(e.to_string().contains("data")),
        other => panic!("expected Io, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_retention_cap_is_applied_after_start_up_not_before() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Store::open(dir.path(), &uid()).unwrap();
        let many: Vec<Message> = (0..10)
            .map(|i| msg(i, "7", 1_000 + i as i64, "在吗"))
            .collect();
        s.save_messages(&many).unwrap();
    }
    let (store, problem) =
        goofish_tui::run::open_store(dir.path().to_path_buf(), &uid(), Some(3)).await;
    assert!(problem.is_none());
    let store = store.unwrap();
    // Opening does not wait for the trim: everything is still there for the first frame.
    // (Read without yielding: paused time may jump ahead whenever the runtime waits.)
    assert_eq!(store.blocking(|s| s.message_count()).unwrap(), 10);
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    // The trim runs on a real thread: wait for it in real time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.blocking(|s| s.message_count()).unwrap() != 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the retention cap was never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let kept = store
        .call(|s| s.messages(&Cid::new("7"), None, 10))
        .await
        .unwrap();
    assert_eq!(kept[0].id, MessageId::new(format!("{}.PNM", 9)));
}

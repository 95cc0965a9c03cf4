//! Polls between parley-cli processes through a real server: the question, the options and
//! the votes are sealed end to end; the hosts' clients count; an anonymous vote reaches them
//! without the voter; a late joiner is shown an open poll; a closed poll takes no votes.

use parley_tests::*;
use serde_json::Value;

/// A participant who joins by `link` as `name` (no waiting room), once they hold the keys of
/// a group of `members`.
fn joins(dir: &std::path::Path, link: &str, name: &str, members: u64) -> CliProc {
    let mut p = CliProc::spawn(dir, &name.to_lowercase(), &["join", link, "--name", name]);
    p.expect("joined");
    p.expect_where("e2ee", |v| {
        v["state"] == "secured" && v["members"] == members
    });
    p
}

fn counts(v: &Value) -> Vec<u64> {
    v["counts"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

#[test]
fn an_anonymous_poll_is_counted_without_voters_shown_late_and_closed() {
    let dir = temp_dir("poll-anon");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room"]);
    let mut ann = joins(&dir, &link, "Ann", 2);
    let mut bob = joins(&dir, &link, "Bob", 3);
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 3);

    // Only a host or co-host opens a poll.
    ann.send("poll open Should Ann run this? | Yes | No");
    assert_eq!(
        ann.expect_where("error", |v| v["kind"] == "not_permitted")["kind"],
        "not_permitted"
    );

    hana.send("poll open --anonymous Where shall we meet? | Berlin | Paris | Rome");
    let poll = hana.expect_where("poll", |v| v["question"] == "Where shall we meet?");
    let id = poll["id"].as_u64().unwrap();
    for p in [&mut ann, &mut bob] {
        let seen = p.expect_where("poll", |v| v["id"] == id);
        assert_eq!(
            seen["options"],
            serde_json::json!(["Berlin", "Paris", "Rome"])
        );
        assert_eq!(
            (seen["anonymous"].as_bool(), seen["open"].as_bool()),
            (Some(true), Some(true))
        );
        assert!(
            seen["counts"].is_null(),
            "participants see no counts: {seen}"
        );
    }

    ann.send(&format!("vote {id} 2"));
    assert_eq!(
        ann.expect_where("poll", |v| v["id"] == id && !v["my_vote"].is_null())["my_vote"],
        serde_json::json!([1])
    );
    let counted = hana.expect_where("poll", |v| v["voters"] == 1);
    assert_eq!(counts(&counted), [0, 1, 0]);
    assert_eq!(
        counted["named"],
        serde_json::json!([]),
        "anonymous: nobody named"
    );

    // A second vote is refused before it leaves (the server refuses it too).
    ann.send(&format!("vote {id} 1"));
    ann.expect_where("note", |v| {
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("already voted")
    });
    // An answer that is not an option is refused.
    bob.send(&format!("vote {id} 1,2"));
    bob.expect_where("note", |v| {
        v["message"].as_str().unwrap_or("").contains("choose one")
    });
    bob.send(&format!("vote {id} 1"));
    assert_eq!(
        counts(&hana.expect_where("poll", |v| v["voters"] == 2)),
        [1, 1, 0]
    );

    // Cy comes later: the opener shows her the open poll, sealed for her keys.
    let mut cy = joins(&dir, &link, "Cy", 4);
    let shown = cy.expect_where("poll", |v| v["id"] == id);
    assert_eq!(shown["question"], "Where shall we meet?");
    cy.send(&format!("vote {id} 3"));
    assert_eq!(
        counts(&hana.expect_where("poll", |v| v["voters"] == 3)),
        [1, 1, 1]
    );

    // Closed: no more votes.
    hana.send(&format!("poll close {id}"));
    for p in [&mut ann, &mut bob, &mut cy] {
        p.expect_where("poll", |v| v["id"] == id && v["open"] == false);
    }
    // Shared: everyone sees the count.
    hana.send(&format!("poll share {id}"));
    let shared = bob.expect_where("poll", |v| v["id"] == id && v["shared"] == true);
    assert_eq!(
        (counts(&shared), shared["voters"].as_u64()),
        (vec![1, 1, 1], Some(3))
    );

    // The server never saw the question, an option or a vote in the clear.
    for text in ["Where shall we meet", "Berlin", "Rome"] {
        assert!(
            !server.log_text().contains(text),
            "{text} in the server's log"
        );
    }
}

#[test]
fn a_named_poll_tells_the_host_who_chose_what() {
    let dir = temp_dir("poll-named");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room"]);
    let mut ann = joins(&dir, &link, "Ann", 2);
    let ann_id = ann.participant_id();
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    hana.send("poll open --multiple Which days suit you? | Mon | Tue | Wed");
    let id = hana.expect_where("poll", |v| v["question"] == "Which days suit you?")["id"]
        .as_u64()
        .unwrap();
    ann.expect_where("poll", |v| v["id"] == id && v["multiple"] == true);
    ann.send(&format!("vote {id} 1,3"));
    let counted = hana.expect_where("poll", |v| v["voters"] == 1);
    assert_eq!(counts(&counted), [1, 0, 1]);
    assert_eq!(counted["named"], serde_json::json!([[ann_id, [0, 2]]]));
    // The host votes too: its own named vote, which MLS cannot open for its sender, counts.
    hana.send(&format!("vote {id} 2"));
    assert_eq!(
        counts(&hana.expect_where("poll", |v| v["voters"] == 2)),
        [1, 1, 1]
    );
}

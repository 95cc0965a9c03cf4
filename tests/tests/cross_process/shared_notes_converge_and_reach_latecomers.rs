//! Shared notes and whiteboard between parley-cli processes through a real server: edits made
//! at the same moment on two clients converge to the same text; a stroke drawn on one is seen
//! on the others; someone who comes later receives the notes as they are; the host's lock
//! holds; the notes export as Markdown and SVG; the server never reads them.

use parley_tests::*;
use serde_json::Value;

fn joins(dir: &std::path::Path, link: &str, name: &str, members: u64) -> CliProc {
    let mut p = CliProc::spawn(dir, &name.to_lowercase(), &["join", link, "--name", name]);
    p.expect("joined");
    p.expect_where("e2ee", |v| {
        v["state"] == "secured" && v["members"] == members
    });
    p
}

fn text(v: &Value) -> String {
    v["text"].as_str().unwrap_or_default().to_string()
}

#[test]
fn notes_typed_at_once_converge_and_a_latecomer_gets_them() {
    let dir = temp_dir("notes");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room"]);
    let mut ann = joins(&dir, &link, "Ann", 2);
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);

    // Both type at the same moment, before either has seen the other's line.
    hana.send("note Agenda: budget for the spring term");
    ann.send("note Ann: the rota needs two volunteers");
    let both = |v: &Value| {
        let t = text(v);
        t.contains("Agenda: budget") && t.contains("Ann: the rota")
    };
    let at_hana = text(&hana.expect_where("notes", both));
    let at_ann = text(&ann.expect_where("notes", both));
    assert_eq!(at_hana, at_ann, "both hold the same notes");
    assert_eq!(at_hana.lines().count(), 2, "{at_hana:?}");

    // A stroke drawn on Ann's whiteboard appears on Hana's.
    ann.send("draw #d02020 40 1000,1000 3000,2500 5000,1200");
    let drawn = hana.expect_where("notes", |v| {
        v["strokes"].as_array().is_some_and(|s| s.len() == 1)
    });
    assert_eq!(drawn["strokes"][0]["color"], 0xd02020);
    assert_eq!(
        drawn["strokes"][0]["points"][1],
        serde_json::json!([3000, 2500])
    );

    // Cy comes later and receives the notes and the whiteboard as they are.
    let mut cy = joins(&dir, &link, "Cy", 3);
    let got = cy.expect_where("notes", |v| {
        text(v) == at_hana && v["strokes"].as_array().is_some_and(|s| s.len() == 1)
    });
    assert_eq!(got["strokes"][0]["color"], 0xd02020);
    // … and follows later changes like everyone else.
    cy.send("note Cy: minutes taken by Cy");
    ann.expect_where("notes", |v| {
        text(v).trim_end().ends_with("Cy: minutes taken by Cy")
    });

    // Locked by the host: a participant's change is refused before it leaves; the host's goes.
    hana.send("set notes_locked on");
    hana.expect_where("policy_changed", |v| v["policy"]["notes_locked"] == true);
    ann.expect_where("policy_changed", |v| v["policy"]["notes_locked"] == true);
    ann.send("note Ann: should not appear");
    ann.expect_where("note", |v| {
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("locked the shared notes")
    });
    hana.send("note Decision: budget approved");
    let locked = ann.expect_where("notes", |v| text(v).contains("Decision: budget approved"));
    assert!(!text(&locked).contains("should not appear"));

    // Exported on Ann's own computer.
    let md = dir.join("minutes.md");
    let svg = dir.join("board.svg");
    ann.send(&format!("notes save {}", md.display()));
    ann.expect_where("note", |v| {
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("notes were saved")
    });
    ann.send(&format!("board save {}", svg.display()));
    ann.expect_where("note", |v| {
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("whiteboard was saved")
    });
    let saved = std::fs::read_to_string(&md).unwrap();
    assert!(
        saved.starts_with(&at_hana) && saved.contains("Decision: budget approved"),
        "{saved}"
    );
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(
        picture.contains("stroke=\"#d02020\"") && picture.contains("M1000 562"),
        "{picture}"
    );

    for secret in ["budget", "rota", "volunteers", "Decision"] {
        assert!(
            !server.log_text().contains(secret),
            "{secret} in the server's log"
        );
    }
}

//! Shared notes and the whiteboard in the real window: a host in the app and a `parley-cli`
//! participant write in the same notes, a stroke drawn with the pointer reaches the
//! participant, the host's lock holds, and "Save as Markdown" writes the notes to Downloads.

use crate::common::*;

fn notes_text(d: &parley_tests::desktop::Desktop) -> String {
    d.script(
        "return document.querySelector('#notes-text')?.value ?? ''",
        vec![],
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

#[test]
fn notes_and_whiteboard_are_shared_locked_and_saved() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("notes_and_whiteboard_are_shared_locked_and_saved");
    let link = host_here(&d, "Council", "Hana");
    let (mut ann, _) = admit_participant(&d, &dir, &link, "Ann");
    ann.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    dismiss_toasts(&d);

    open_panel(&d, "notes-panel", "notes-button");
    ann.send("note Ann: the rota needs two volunteers");
    d.wait_for("Ann's line in the notes", |d| {
        notes_text(d).contains("Ann: the rota needs two volunteers")
    });
    // The host types below it, key by key; Ann's client gets both lines.
    d.keys_into(&sel("notes-text"), "Hana: budget approved");
    let both = ann.expect_where("notes", |v| {
        let t = v["text"].as_str().unwrap_or("");
        t.contains("Ann: the rota") && t.contains("Hana: budget approved")
    });
    assert!(
        both["text"].as_str().unwrap().find("Ann:") < both["text"].as_str().unwrap().find("Hana:"),
        "{both}"
    );
    d.screenshot("01-notes");

    // A stroke drawn on the whiteboard reaches Ann.
    d.click(&sel("notes-tab-board"));
    d.draw_on(&sel("whiteboard"), &[(0.1, 0.1), (0.3, 0.4), (0.5, 0.2)]);
    let drawn = ann.expect_where("notes", |v| {
        v["strokes"].as_array().is_some_and(|s| s.len() == 1)
    });
    let points = drawn["strokes"][0]["points"].as_array().unwrap();
    assert!(points.len() >= 2, "{drawn}");
    let x0 = points[0][0].as_u64().unwrap();
    assert!(
        (800..=1200).contains(&x0),
        "the stroke starts a tenth across: {drawn}"
    );
    d.screenshot("02-whiteboard");

    // Locked by the host: Ann's change is refused, and her window would be read-only.
    open_panel(&d, "security-menu", "security-button");
    d.click(&sel("policy-notes-locked"));
    ann.expect_where("policy_changed", |v| v["policy"]["notes_locked"] == true);
    ann.send("note Ann: not allowed now");
    ann.expect_where("note", |v| {
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("locked the shared notes")
    });

    // Saved as Markdown in Downloads.
    open_panel(&d, "notes-panel", "notes-button");
    d.click(&sel("notes-tab-text"));
    dismiss_toasts(&d);
    d.click(&sel("notes-save-md"));
    let downloads = dir.join("home").join("Downloads");
    d.wait_for("the notes file in Downloads", |_| {
        std::fs::read_dir(&downloads).is_ok_and(|mut e| e.next().is_some())
    });
    let files: Vec<_> = std::fs::read_dir(&downloads)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("parley-notes-") && name.ends_with(".md"),
        "{name}"
    );
    let saved = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        saved.contains("Ann: the rota needs two volunteers")
            && saved.contains("Hana: budget approved"),
        "{saved}"
    );
    assert!(!saved.contains("not allowed now"), "{saved}");
}

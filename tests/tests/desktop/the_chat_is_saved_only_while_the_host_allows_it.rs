//! Saving the chat in the real window: no export while the host's "saving chat" switch is off;
//! once on, "Save chat as a text file" writes the chat to Downloads (and nowhere else).

use crate::common::*;

#[test]
fn the_chat_is_saved_only_while_the_host_allows_it() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_chat_is_saved_only_while_the_host_allows_it");
    let link = host_here(&d, "Council", "Hana");
    let (mut ann, _) = admit_participant(&d, &dir, &link, "Ann");
    ann.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    dismiss_toasts(&d);

    ann.send("chat the budget is approved");
    open_panel(&d, "chat-panel", "chat-button");
    d.wait_for("Ann's line", |d| {
        d.text(&sel("chat-panel"))
            .contains("the budget is approved")
    });
    assert!(
        d.find_now(&sel("save-chat")).is_none(),
        "no export while saving the chat is off"
    );

    open_panel(&d, "security-menu", "security-button");
    d.click(&sel("policy-save-chat"));
    ann.expect_where("policy_changed", |v| v["policy"]["save_chat"] == true);
    open_panel(&d, "chat-panel", "chat-button");
    d.click(&sel("save-chat"));
    let downloads = dir.join("home").join("Downloads");
    d.wait_for("the chat file in Downloads", |_| {
        std::fs::read_dir(&downloads).is_ok_and(|mut e| e.next().is_some())
    });
    let files: Vec<_> = std::fs::read_dir(&downloads)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("parley-chat-") && name.ends_with(".txt"),
        "{name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains("Ann") && text.contains("the budget is approved"),
        "{text}"
    );
    d.screenshot("01-chat-saved");
}

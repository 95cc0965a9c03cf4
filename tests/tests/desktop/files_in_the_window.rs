//! Files in the real window, once the host allows them: a file a `parley-cli` host sends
//! arrives in the app, is saved into Downloads only when the person clicks Save, and arrives
//! intact; a file chosen in the app reaches the host intact. Nothing is opened.

use parley_tests::{ServerProc, host, varied_bytes};

use crate::common::*;

#[test]
fn files_go_both_ways_and_are_saved_only_when_asked() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("files_go_both_ways_and_are_saved_only_when_asked");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room"]);

    join_by_link(&d, &link, "Ada");
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    dismiss_toasts(&d);

    // Off: the chat panel offers no file.
    open_panel(&d, "chat-panel", "chat-button");
    d.find(&sel("files-off"));
    assert!(d.find_now(&sel("send-file-button")).is_none());

    hana.send("set file_transfer on");
    d.find(&sel("send-file-button"));

    // Hana sends Ada a report: it arrives, and nothing is written until Ada saves it.
    let report = varied_bytes(300_000, 7);
    let path = dir.join("report.pdf");
    std::fs::write(&path, &report).unwrap();
    hana.send(&format!("send-file --to Ada {}", path.display()));
    let transfer = hana.expect("file_sending")["transfer"].as_u64().unwrap();
    let item = format!("file-{transfer}");
    d.find(&sel(&format!("{item}-save")));
    assert!(d.text(&sel(&item)).contains("report.pdf"));
    let downloads = dir.join("home").join("Downloads");
    assert!(
        std::fs::read_dir(&downloads).map_or(true, |mut e| e.next().is_none()),
        "nothing saved before Ada asks"
    );
    d.screenshot("01-file-arrived");
    d.click(&sel(&format!("{item}-save")));
    d.find(&sel(&format!("{item}-saved")));
    assert_eq!(
        std::fs::read(downloads.join("report.pdf")).unwrap(),
        report,
        "saved intact"
    );

    // Ada sends a file to everyone: Hana receives it intact.
    let notes = varied_bytes(100_000, 11);
    let mine = dir.join("notes.odt");
    std::fs::write(&mine, &notes).unwrap();
    d.choose_file(&sel("send-file-input"), &mine);
    let offered = hana.expect_where("file_offered", |v| v["name"] == "notes.odt");
    let t = offered["transfer"].as_u64().unwrap();
    hana.expect_where("file_received", |v| v["transfer"] == t);
    let saved = dir.join("from-ada");
    std::fs::create_dir_all(&saved).unwrap();
    hana.send(&format!("save-file {t} {}", saved.display()));
    hana.expect("file_saved");
    assert_eq!(std::fs::read(saved.join("notes.odt")).unwrap(), notes);
    d.wait_for("the window to say the file went", |d| {
        d.text(&sel(&format!("file-{t}-state"))).contains("Sent")
    });
    d.screenshot("02-file-sent");
}

use parley_tests::*;

#[test]
fn guest_waits_host_admits_they_chat() {
    let dir = temp_dir("admit");
    let server = ServerProc::start(&dir);
    let (mut host, link) = host(&dir, &server, &["--title", "Works council"]);
    let mut gus = CliProc::spawn(&dir, "gus", &["join", &link, "--name", "Gus"]);
    let w = gus.expect("waiting");
    assert_eq!(w["title"], "Works council");
    let knock = host.expect("waiting_joined");
    assert_eq!(knock["waiting"]["name"], "Gus");
    host.send(&format!("admit {}", waiting_id(&knock)));
    let joined = gus.expect("joined");
    assert_eq!(joined["role"], "participant");
    // The roster after joining names both.
    let roster = gus.expect_where("participants_joined", |v| {
        v["participants"].as_array().unwrap().len() == 2
    });
    assert_eq!(roster["announce"], false);
    host.expect_where("participants_joined", |v| {
        v["participants"][0]["name"] == "Gus"
    });
    gus.send("chat hello from Gus");
    host.expect_where("chat", |v| v["body"] == "hello from Gus");
    host.send("end");
    assert_eq!(gus.expect("goodbye")["reason"], "meeting_ended");
    assert_eq!(gus.wait_exit(), 0);
    assert_eq!(host.wait_exit(), 0);
    // The link of an ended meeting says so.
    let mut late = CliProc::spawn(&dir, "late", &["join", &link, "--name", "Late"]);
    assert_eq!(late.expect("cli_error")["kind"], "meeting_ended");
    assert_eq!(late.wait_exit(), 3);
}

#[test]
fn a_pasted_link_with_line_breaks_still_joins() {
    let dir = temp_dir("paste");
    let server = ServerProc::start(&dir);
    let (mut host, link) = host(&dir, &server, &["--no-waiting-room"]);
    let (a, b) = link.split_at(25);
    let pasted = format!("  <{a}\n   {b}>\n");
    let mut gus = CliProc::spawn(&dir, "gus", &["join", &pasted, "--name", "Gus"]);
    gus.expect("joined");
    host.expect_where("participants_joined", |v| {
        v["participants"][0]["name"] == "Gus"
    });
}

#[test]
fn a_bad_link_is_explained_before_any_connection() {
    let dir = temp_dir("badlink");
    let mut gus = CliProc::spawn(
        &dir,
        "gus",
        &[
            "join",
            "https://meet.example.org/m/abc?pwd=1234#k=x",
            "--name",
            "Gus",
        ],
    );
    let e = gus.expect("cli_error");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("never carry a passcode"),
        "{e}"
    );
    assert_eq!(gus.wait_exit(), 1);
}

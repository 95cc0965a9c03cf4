use parley_tests::*;

#[test]
fn removed_participant_cannot_rejoin_with_the_same_identity() {
    let dir = temp_dir("remove");
    let server = ServerProc::start(&dir);
    let (mut host, link) = host(&dir, &server, &["--no-waiting-room"]);
    let mut bomber = CliProc::spawn(&dir, "bomber", &["join", &link, "--name", "Bomber"]);
    let id = bomber.expect("joined")["you"].as_u64().unwrap();
    host.expect_where("participants_joined", |v| {
        v["participants"][0]["name"] == "Bomber"
    });
    host.send(&format!("remove {id}"));
    assert_eq!(bomber.expect("goodbye")["reason"], "removed");
    assert_eq!(bomber.wait_exit(), 4);
    host.expect_where("participant_left", |v| v["reason"] == "removed");
    // Same identity file: refused outright, even with the waiting room off.
    let mut again = CliProc::spawn(&dir, "bomber", &["join", &link, "--name", "Nice Person"]);
    assert_eq!(again.expect("cli_error")["kind"], "banned");
    assert_eq!(again.wait_exit(), 3);
}

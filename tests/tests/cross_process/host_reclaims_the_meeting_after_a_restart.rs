use parley_tests::*;

#[test]
fn host_process_dies_a_participant_stands_in_and_the_host_reclaims() {
    let dir = temp_dir("reclaim");
    // A killed process says no goodbye: the server keeps its place for the reconnect grace
    // (short here) before anyone stands in.
    let config = dir.join("server.toml");
    std::fs::write(&config, "[limits]\nreconnect_grace_secs = 2\n").unwrap();
    let server = ServerProc::start_with(&dir, &["--config", config.to_str().unwrap()], "info");
    let save = dir.join("meeting.json");
    let save_s = save.to_str().unwrap();
    let (mut h, link) = host(&dir, &server, &["--save", save_s]);
    let mut p = CliProc::spawn(&dir, "pete", &["join", &link, "--name", "Pete"]);
    let knock = h.expect("waiting_joined");
    h.send(&format!("admit {}", waiting_id(&knock)));
    let pid = p.expect("joined")["you"].clone();
    h.kill();
    // First the host is away (their place kept), then Pete is promoted so someone can admit.
    p.expect_where("away", |v| v["away"] == true);
    p.expect_where("participant_left", |v| v["reason"] == "disconnected");
    p.expect_where("role_changed", |v| v["id"] == pid && v["role"] == "host");
    // The saved file is private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&save).unwrap().permissions().mode() & 0o077,
            0
        );
    }
    let mut back = CliProc::spawn(
        &dir,
        "host",
        &["host", "--resume", save_s, "--name", "Hana"],
    );
    let invite = back.expect("invite");
    assert_eq!(invite["link"], link.as_str());
    assert_eq!(back.expect("joined")["role"], "host");
    p.expect_where("role_changed", |v| v["id"] == pid && v["role"] == "cohost");
}

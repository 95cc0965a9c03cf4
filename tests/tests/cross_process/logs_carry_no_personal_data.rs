use parley_proto::MeetingLink;
use parley_tests::*;

#[test]
fn server_logs_hold_no_names_titles_tokens_keys_passcodes_or_addresses() {
    let dir = temp_dir("logs");
    // The most verbose level the server has.
    let server = ServerProc::start_with(&dir, &[], "trace");
    let save = dir.join("m.json");
    let (mut host, link) = host(
        &dir,
        &server,
        &[
            "--title",
            "Tribunal preparation Zq7",
            "--passcode",
            "pass-Xy81",
            "--save",
            save.to_str().unwrap(),
        ],
    );
    let mut gus = CliProc::spawn(
        &dir,
        "gus",
        &[
            "join",
            &link,
            "--name",
            "Zebediah Quux",
            "--passcode",
            "pass-Xy81",
        ],
    );
    gus.expect("waiting");
    let knock = host.expect("waiting_joined");
    host.send(&format!("admit {}", waiting_id(&knock)));
    gus.expect("joined");
    gus.send("chat confidential-chat-Kp3");
    host.expect_where("chat", |v| v["body"] == "confidential-chat-Kp3");
    let mut eve = CliProc::spawn(
        &dir,
        "eve",
        &[
            "join",
            &link,
            "--name",
            "Eve Wrongcode",
            "--passcode",
            "nope-77",
        ],
    );
    eve.expect("cli_error");
    host.send("end");
    gus.wait_exit();
    let parsed = MeetingLink::parse(&link).unwrap();
    let saved = std::fs::read_to_string(&save).unwrap();
    let secret: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let log = server.log_text();
    assert!(
        log.contains("meeting created"),
        "the log is really captured:\n{log}"
    );
    for needle in [
        "Zebediah",
        "Quux",
        "Hana",
        "Eve Wrongcode",
        "Tribunal",
        "pass-Xy81",
        "nope-77",
        "confidential-chat",
        &parsed.token.to_text(),
        &parsed.key.to_text(),
        secret["host_secret"].as_str().unwrap(),
    ] {
        assert!(
            !log.contains(needle),
            "the server log contains {needle:?}:\n{log}"
        );
    }
    // No client address or port: loopback clients would show as 127.0.0.1:<port>.
    for line in log.lines() {
        assert!(
            !line.contains("127.0.0.1:") || line.contains(&format!(":{}", server.port)),
            "a client address reached the log: {line}"
        );
    }
}

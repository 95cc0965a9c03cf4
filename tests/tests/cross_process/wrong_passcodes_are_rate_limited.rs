use parley_tests::*;

#[test]
fn wrong_passcodes_back_off_and_the_right_one_works() {
    let dir = temp_dir("passcode");
    let server = ServerProc::start(&dir);
    let (_host, link) = host(&dir, &server, &["--passcode", "correct horse"]);
    let mut gus = CliProc::spawn(&dir, "gus", &["join", &link, "--name", "Gus"]);
    assert_eq!(gus.expect("cli_error")["kind"], "passcode_required");
    let mut kinds = Vec::new();
    for i in 0..6 {
        let mut g = CliProc::spawn(
            &dir,
            &format!("g{i}"),
            &["join", &link, "--name", "Guesser", "--passcode", "guess"],
        );
        kinds.push(g.expect("cli_error")["kind"].as_str().unwrap().to_string());
        assert_eq!(g.wait_exit(), 3);
    }
    assert_eq!(kinds[0], "wrong_passcode");
    assert_eq!(kinds.last().unwrap(), "too_many_attempts", "{kinds:?}");
    // Even the right passcode waits out the back-off from this address…
    let mut right = CliProc::spawn(
        &dir,
        "right",
        &[
            "join",
            &link,
            "--name",
            "Gus",
            "--passcode",
            "correct horse",
        ],
    );
    assert_eq!(right.expect("cli_error")["kind"], "too_many_attempts");
    // …and the server carries on: a host can still create and run another meeting.
    let (_host2, link2) = host(&dir, &server, &[]);
    let mut other = CliProc::spawn(&dir, "other", &["join", &link2, "--name", "Olga"]);
    other.expect("waiting");
}

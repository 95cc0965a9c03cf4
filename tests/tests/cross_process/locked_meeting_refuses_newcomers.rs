use parley_tests::*;

#[test]
fn locked_meeting_refuses_and_unlocking_lets_in() {
    let dir = temp_dir("lock");
    let server = ServerProc::start(&dir);
    let (mut host, link) = host(&dir, &server, &[]);
    host.send("lock");
    host.expect_where("lock_changed", |v| v["locked"] == true);
    let mut gus = CliProc::spawn(&dir, "gus", &["join", &link, "--name", "Gus"]);
    let e = gus.expect("cli_error");
    assert_eq!(e["kind"], "locked");
    assert_eq!(gus.wait_exit(), 3);
    host.send("unlock");
    host.expect_where("lock_changed", |v| v["locked"] == false);
    let mut gus = CliProc::spawn(&dir, "gus", &["join", &link, "--name", "Gus"]);
    gus.expect("waiting");
}

use parley_tests::*;

#[test]
fn only_holders_of_a_host_api_token_create_meetings() {
    let dir = temp_dir("standalone");
    let tokens = dir.join("tokens");
    let token = "organiser-token-0123456789abcdef";
    std::fs::write(&tokens, format!("# organisers\n{token}\n")).unwrap();
    let server = ServerProc::start_with(
        &dir,
        &["--api-tokens-file", tokens.to_str().unwrap()],
        "info",
    );
    let mut no = CliProc::spawn(&dir, "h1", &["host", "--server", &server.url]);
    assert_eq!(no.expect("cli_error")["kind"], "unauthorized");
    assert_eq!(no.wait_exit(), 1);
    let mut wrong = CliProc::spawn(
        &dir,
        "h2",
        &[
            "host",
            "--server",
            &server.url,
            "--api-token",
            "organiser-token-0123456789abcdeX",
        ],
    );
    assert_eq!(wrong.expect("cli_error")["kind"], "unauthorized");
    let mut ok = CliProc::spawn(
        &dir,
        "h3",
        &["host", "--server", &server.url, "--api-token", token],
    );
    ok.expect("invite");
    ok.expect("joined");
}

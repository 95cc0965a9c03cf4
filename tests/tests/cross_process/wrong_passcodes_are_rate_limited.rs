use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use parley_proto::{ClientMessage, DisplayName, Identity, MeetingLink, RoomToken};
use parley_tests::*;
use serde_json::Value;

/// The server's answer to a join with `passcode` sent from `from` (a loopback address: all of
/// 127.0.0.0/8 is this computer, and each is its own address to the server's limiter).
async fn join_from(from: Ipv4Addr, port: u16, room: &RoomToken, passcode: &str) -> Value {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    let stream = socket
        .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .unwrap();
    let (ws, _) = tokio_tungstenite::client_async(
        format!("ws://127.0.0.1:{port}/ws"),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let mut c = Raw::over(ws);
    let challenge = c.hello().await;
    let me = Identity::generate();
    let name = DisplayName::new("Guest").unwrap();
    let join = ClientMessage::Join {
        signature: me.sign_join(&challenge, room, &name),
        room: room.clone(),
        name,
        identity: me.public(),
        passcode: Some(passcode.into()),
        host_secret: None,
    };
    c.text(join.encode()).await;
    c.next().await.expect("an answer to the join")
}

/// How long a `too_many_attempts` refusal says to wait.
fn retry_after(refusal: &Value) -> Duration {
    assert_eq!(refusal["type"], "refused", "{refusal}");
    assert_eq!(refusal["kind"], "too_many_attempts", "{refusal}");
    let ms = refusal["retry_after_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("the refusal says how long to wait: {refusal}"));
    Duration::from_millis(ms)
}

#[test]
fn wrong_passcodes_back_off_and_the_right_one_works() {
    let dir = temp_dir("passcode");
    let server = ServerProc::start(&dir);
    let (_host, link) = host(&dir, &server, &["--passcode", "correct horse"]);
    let room = MeetingLink::parse(&link).unwrap().token;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let guesser = Ipv4Addr::LOCALHOST;
    let elsewhere = Ipv4Addr::new(127, 0, 0, 2);

    let mut gus = CliProc::spawn(&dir, "gus", &["join", &link, "--name", "Gus"]);
    assert_eq!(gus.expect("cli_error")["kind"], "passcode_required");
    assert_eq!(gus.wait_exit(), 3);

    // Wrong guesses from one address, through the real client: the first few are simply
    // wrong, then the address is slowed down. (How many get through before the back-off
    // starts depends on how quickly they come: each one that gets through doubles the wait.)
    let mut kinds = Vec::new();
    for i in 0..12 {
        let mut g = CliProc::spawn(
            &dir,
            &format!("g{i}"),
            &["join", &link, "--name", "Guesser", "--passcode", "guess"],
        );
        kinds.push(g.expect("cli_error")["kind"].as_str().unwrap().to_string());
        assert_eq!(g.wait_exit(), 3);
        if kinds.last().unwrap() == "too_many_attempts" {
            break;
        }
    }
    let first_refusal = kinds
        .iter()
        .position(|k| k == "too_many_attempts")
        .unwrap_or_else(|| panic!("the guessing address was never slowed: {kinds:?}"));
    assert!(
        first_refusal >= 4,
        "three wrong guesses are free and the fourth starts the back-off: {kinds:?}"
    );
    assert!(
        kinds[..first_refusal].iter().all(|k| k == "wrong_passcode"),
        "{kinds:?}"
    );

    rt.block_on(async {
        // Keep guessing, each time the back-off has passed, until the address is told to wait
        // more than 3 s (a 4 s back-off: each guess that gets through doubles it), long enough
        // that the next three steps, which take milliseconds, surely fall inside it.
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(tries < 20, "the back-off never grew past 3 s");
            let v = join_from(guesser, server.port, &room, "guess").await;
            if v["kind"] == "wrong_passcode" {
                continue;
            }
            let wait = retry_after(&v);
            if wait > Duration::from_secs(3) {
                break;
            }
            tokio::time::sleep(wait + Duration::from_millis(50)).await;
        }
        // Meanwhile the right passcode from another address gets in at once: the back-off is
        // the guesser's, never the meeting's.
        let v = join_from(elsewhere, server.port, &room, "correct horse").await;
        assert_eq!(v["type"], "waiting", "{v}");
        // At the guessing address even the right passcode waits (no racing the limiter)…
        let v = join_from(guesser, server.port, &room, "correct horse").await;
        assert!(!retry_after(&v).is_zero(), "{v}");
    });
    // …in the real client too…
    let mut early = CliProc::spawn(
        &dir,
        "early",
        &[
            "join",
            &link,
            "--name",
            "Gus",
            "--passcode",
            "correct horse",
        ],
    );
    assert_eq!(early.expect("cli_error")["kind"], "too_many_attempts");
    assert_eq!(early.wait_exit(), 3);

    // …and once the back-off has passed (as long as the refusal says), the right passcode
    // works from the guessing address, in the real client.
    let wait = rt.block_on(async {
        retry_after(&join_from(guesser, server.port, &room, "correct horse").await)
    });
    std::thread::sleep(wait + Duration::from_millis(50));
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
    right.expect("waiting");

    // And the server carries on: a host can still create and run another meeting.
    let (_host2, link2) = host(&dir, &server, &[]);
    let mut other = CliProc::spawn(&dir, "other", &["join", &link2, "--name", "Olga"]);
    other.expect("waiting");
}

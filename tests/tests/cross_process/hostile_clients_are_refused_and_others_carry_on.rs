use futures_util::SinkExt;
use parley_proto::{ClientMessage, DisplayName, Identity, MeetingLink, RoomToken};
use parley_tests::*;
use tokio_tungstenite::tungstenite::Message;

/// A runtime on the test's own thread, for the raw connections.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn every_kind_of_bad_input_gets_its_typed_error_and_the_meeting_goes_on() {
    let dir = temp_dir("hostile");
    let mut server = ServerProc::start(&dir);
    let (mut host, link) = host(&dir, &server, &[]);
    let room = MeetingLink::parse(&link).unwrap().token;
    let port = server.port;
    let rt = runtime();
    rt.block_on(async {
        // Malformed JSON, unknown type, binary frame, message before hello: each closes.
        let mut c = Raw::connect(port).await;
        c.text("{not json").await;
        c.expect_error("bad_message", true).await;
        let mut c = Raw::connect(port).await;
        c.text(r#"{"type":"teleport","to":"the host's chair"}"#)
            .await;
        c.expect_error("unknown_type", true).await;
        let mut c = Raw::connect(port).await;
        c.ws.send(Message::Binary(vec![0u8; 10].into()))
            .await
            .unwrap();
        c.expect_error("bad_message", true).await;
        let mut c = Raw::connect(port).await;
        c.text(r#"{"type":"chat","body":"hi"}"#).await;
        c.expect_error("hello_required", true).await;
        let mut c = Raw::connect(port).await;
        c.text(r#"{"type":"hello","protocol":999}"#).await;
        c.expect_error("unsupported_version", true).await;
        // Over-size frame.
        let mut c = Raw::connect(port).await;
        c.hello().await;
        c.text(format!(
            r#"{{"type":"chat","body":"{}"}}"#,
            "x".repeat(70_000)
        ))
        .await;
        c.expect_error("too_large", true).await;

        // A join signed by another key, and a join replayed from another connection.
        let me = Identity::generate();
        let mut c = Raw::connect(port).await;
        let ch = c.hello().await;
        let name = DisplayName::new("Mallory").unwrap();
        let forged = ClientMessage::Join {
            signature: Identity::generate().sign_join(&ch, &room, &name),
            room: room.clone(),
            name: name.clone(),
            identity: me.public(),
            passcode: None,
            host_secret: None,
        };
        c.text(forged.encode()).await;
        c.expect_error("bad_signature", true).await;
        let mut a = Raw::connect(port).await;
        let ch_a = a.hello().await;
        let signed_for_a = ClientMessage::Join {
            signature: me.sign_join(&ch_a, &room, &name),
            room: room.clone(),
            name: name.clone(),
            identity: me.public(),
            passcode: None,
            host_secret: None,
        };
        let mut b = Raw::connect(port).await;
        b.hello().await;
        b.text(signed_for_a.encode()).await;
        b.expect_error("bad_signature", true).await;

        // Unknown meeting.
        let mut c = Raw::connect(port).await;
        let v = c
            .join(&RoomToken::random(), "Nobody", &Identity::generate())
            .await;
        assert_eq!(v["kind"], "no_such_meeting");

        // A waiting-room client tries to act inside the meeting.
        let mut w = Raw::connect(port).await;
        assert_eq!(
            w.join(&room, "Walt", &Identity::generate()).await["type"],
            "waiting"
        );
        w.text(r#"{"type":"chat","body":"let me in"}"#).await;
        w.expect_error("not_admitted", false).await;
        w.text(r#"{"type":"admit_all"}"#).await;
        w.expect_error("not_admitted", false).await;
        w.text(r#"{"type":"join","room":"x"}"#).await;
        w.expect_error("bad_message", true).await;

        // Flood: far beyond the rate limit, the connection is closed.
        let mut f = Raw::connect(port).await;
        f.hello().await;
        for _ in 0..400 {
            if f.ws
                .send(Message::Text(r#"{"type":"lock"}"#.into()))
                .await
                .is_err()
            {
                break;
            }
        }
        let mut kinds = Vec::new();
        while let Some(v) = f.next().await {
            kinds.push(v["kind"].as_str().unwrap_or("").to_string());
        }
        assert!(kinds.contains(&"rate_limited".to_string()), "{kinds:?}");
        assert_eq!(kinds.last().unwrap(), "flood", "{kinds:?}");
    });
    // The host saw one knock (Walt) and nothing else odd; the meeting works.
    let knock = host.expect("waiting_joined");
    assert_eq!(knock["waiting"]["name"], "Walt");
    let mut gus = CliProc::spawn(&dir, "gus", &["join", &link, "--name", "Gus"]);
    gus.expect("waiting");
    let knock = host.expect_where("waiting_joined", |v| v["waiting"]["name"] == "Gus");
    host.send(&format!("admit {}", waiting_id(&knock)));
    gus.expect("joined");
    gus.send("chat still here");
    host.expect_where("chat", |v| v["body"] == "still here");
    assert!(
        host.seen.iter().all(|v| v["type"] != "error"),
        "the host saw no error"
    );
    assert!(server.is_running());
}

#[test]
fn participants_cannot_run_host_commands_or_target_ghosts() {
    let dir = temp_dir("nonhost");
    let server = ServerProc::start(&dir);
    let (mut host, link) = host(&dir, &server, &["--no-waiting-room"]);
    let mut p = CliProc::spawn(&dir, "pete", &["join", &link, "--name", "Pete"]);
    p.expect("joined");
    for cmd in [
        "lock",
        "mute-all",
        "admit-all",
        "end",
        "remove 1",
        "set file_transfer on",
    ] {
        p.send(cmd);
        let e = p.expect("error");
        assert_eq!(e["kind"], "not_permitted", "{cmd}: {e}");
        assert_eq!(e["fatal"], false);
    }
    host.send("remove 4242");
    assert_eq!(host.expect("error")["kind"], "no_such_participant");
    p.send("chat the meeting goes on");
    host.expect_where("chat", |v| v["body"] == "the meeting goes on");
}

/// A large gallery page's session description (over the 64 KiB message size: 56 m-lines) goes
/// through once the connection is admitted (here a malformed one, answered `invalid_value`
/// by the media server, the connection kept); past 128 KiB it is `too_large` and closes; from
/// a connection not admitted, past 64 KiB closes too.
#[test]
fn an_admitted_participant_may_send_a_gallery_sized_session_description_and_no_more() {
    let dir = temp_dir("big-sdp");
    let mut server = ServerProc::start(&dir);
    let (mut host, link) = host(&dir, &server, &["--no-waiting-room"]);
    let room = MeetingLink::parse(&link).unwrap().token;
    let port = server.port;
    let offer = |bytes: usize| {
        let mut sdp = String::from("v=0\r\n");
        while sdp.len() < bytes {
            sdp.push_str("a=x-padding-line\r\n");
        }
        ClientMessage::SdpOffer { sdp }.encode()
    };
    let rt = runtime();
    rt.block_on(async {
        let mut c = Raw::connect(port).await;
        let v = c.join(&room, "Gail", &Identity::generate()).await;
        assert_eq!(v["type"], "joined", "{v}");
        c.text(offer(90 * 1024)).await;
        // What the meeting says about itself may come first; then the media server's word.
        let refusal = loop {
            let v = c.next().await.expect("still connected");
            if v["type"] == "error" {
                break v;
            }
        };
        assert_eq!(refusal["kind"], "invalid_value", "{refusal}");
        assert_eq!(refusal["fatal"], false, "{refusal}");
        c.text(offer(130 * 1024)).await;
        c.expect_error("too_large", true).await;

        // Not admitted (before joining): 90 KB closes.
        let mut n = Raw::connect(port).await;
        n.hello().await;
        n.text(offer(90 * 1024)).await;
        n.expect_error("too_large", true).await;
    });
    // The meeting goes on: a newcomer gets in and is heard.
    let mut gus = CliProc::spawn(&dir, "gus", &["join", &link, "--name", "Gus"]);
    gus.expect("joined");
    gus.send("chat still here");
    host.expect_where("chat", |v| v["body"] == "still here");
    assert!(server.is_running());
}

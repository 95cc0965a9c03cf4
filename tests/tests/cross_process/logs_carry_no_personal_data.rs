//! A whole meeting — waiting room, passcode, chat, a wrong passcode, audio and video flowing
//! both ways through the SFU — run with every program at its most verbose level, over IPv4
//! and over IPv6 loopback; then every line every program wrote is read.
//!
//! Logs (the server's and the clients' stderr, and the server's stdout) may carry no address
//! in any form, no name, title, passcode or chat, no meeting token, key, link or host secret,
//! and no SDP. The one exception is the server's startup line on stdout, which names the
//! address it listens on: that is the operator's own address, which scripts read to find the
//! server (and which the operator chose), not anything about a participant.
//!
//! The clients' stdout is their user interface (`--json`): it shows people by name and shows
//! the host the invite link, so there names are allowed, and the link only on the host's
//! `invite` line; addresses, secrets and SDP nowhere else.

use parley_proto::MeetingLink;
use parley_tests::privacy::{addresses_in, sdp_in};
use parley_tests::*;
use std::time::Duration;

const HOST: &str = "Philomena Quartzbury";
const GUEST: &str = "Zebediah Wolfsgrund";
const INTRUDER: &str = "Ottoline Brackwater";
const TITLE: &str = "Tribunal preparation Zq7";
const PASSCODE: &str = "pass-Xy81";
const WRONG_PASSCODE: &str = "nope-77";
const CHAT: &str = "confidential-chat-Kp3";

#[test]
fn a_meeting_with_media_over_ipv4_leaves_no_personal_data_in_any_log() {
    meeting_leaves_no_personal_data("127.0.0.1", "v4");
}

#[test]
fn a_meeting_with_media_over_ipv6_leaves_no_personal_data_in_any_log() {
    meeting_leaves_no_personal_data("[::1]", "v6");
}

/// Run the meeting with the server and its media on `ip` (as written in a socket address).
fn meeting_leaves_no_personal_data(ip: &str, tag: &str) {
    let dir = temp_dir(&format!("logs-{tag}"));
    let config = dir.join("server.toml");
    // Over IPv4 the media address is set; over IPv6 it follows the listen address (the
    // default), so the media flows over IPv6 without being told.
    let media = if tag == "v4" {
        format!("media_listen = \"{ip}:0\"\n")
    } else {
        String::new()
    };
    std::fs::write(&config, media).unwrap();
    let server = ServerProc::start_at(
        &dir,
        &format!("{ip}:0"),
        &["--config", config.to_str().unwrap()],
        "trace",
    );
    assert!(
        server.url.contains(ip),
        "the server listens on {ip}: {}",
        server.url
    );
    let trace = [("PARLEY_LOG", "trace".to_string())];
    let save = dir.join("m.json");
    let mut host = CliProc::spawn_logged(
        &dir,
        "host",
        &[
            "--synthetic",
            "host",
            "--server",
            &server.url,
            "--name",
            HOST,
            "--title",
            TITLE,
            "--passcode",
            PASSCODE,
            "--save",
            save.to_str().unwrap(),
        ],
        &trace,
    );
    let link = host.expect("invite")["link"].as_str().unwrap().to_string();
    let host_id = host.expect("joined")["you"].as_u64().unwrap();
    let mut guest = CliProc::spawn_logged(
        &dir,
        "guest",
        &[
            "--synthetic",
            "join",
            &link,
            "--name",
            GUEST,
            "--passcode",
            PASSCODE,
        ],
        &trace,
    );
    guest.expect("waiting");
    let knock = host.expect("waiting_joined");
    host.send(&format!("admit {}", waiting_id(&knock)));
    let guest_id = guest.expect("joined")["you"].as_u64().unwrap();
    guest.send(&format!("chat {CHAT}"));
    host.expect_where("chat", |v| v["body"] == CHAT);

    // Media flows both ways through the SFU: each decodes the other's test pattern and hears
    // the other's tone. (A deadline for finishing, not a timing assertion.)
    let wait = Duration::from_secs(60);
    guest.expect_within(wait, "media", |v| {
        let from = &v["from"][host_id.to_string()];
        from["video_frames"].as_u64().unwrap_or(0) >= 30 && from["tone_of"] == host_id
    });
    host.expect_within(wait, "media", |v| {
        let from = &v["from"][guest_id.to_string()];
        from["video_frames"].as_u64().unwrap_or(0) >= 30 && from["tone_of"] == guest_id
    });

    let mut intruder = CliProc::spawn_logged(
        &dir,
        "intruder",
        &[
            "join",
            &link,
            "--name",
            INTRUDER,
            "--passcode",
            WRONG_PASSCODE,
        ],
        &trace,
    );
    intruder.expect("cli_error");
    intruder.wait_exit();
    host.send("end");
    guest.wait_exit();
    host.wait_exit();

    let parsed = MeetingLink::parse(&link).unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&save).unwrap()).unwrap();
    let host_secret = saved["host_secret"].as_str().unwrap().to_string();
    let token = parsed.token.to_text();
    let key = parsed.key.to_text();
    let secrets = [
        link.as_str(),
        token.as_str(),
        key.as_str(),
        host_secret.as_str(),
        "#k=",
    ];
    let mut personal: Vec<&str> = vec![
        TITLE,
        "Tribunal",
        PASSCODE,
        WRONG_PASSCODE,
        CHAT,
        // Loopback written as bytes, the one form the address matcher does not read.
        "127, 0, 0, 1",
    ];
    let names = [HOST, GUEST, INTRUDER];
    personal.extend(names.iter().flat_map(|n| n.split(' ')));
    personal.extend(secrets);

    // The logs really were written at the most verbose level, media included.
    let server_log = server.log_text();
    for expected in [
        "meeting created",
        "joined",
        "wrong passcode",
        "media connection",
        "media flowing",
        "offer answered",
        "meeting ended",
        " TRACE ",
    ] {
        assert!(
            server_log.contains(expected),
            "the server's log has {expected:?}:\n{server_log}"
        );
    }
    for cli in [&host, &guest] {
        let log = cli.log_text();
        for expected in [
            "media connection",
            "Connected",
            "remote track",
            "ICE gathering",
        ] {
            assert!(
                log.contains(expected),
                "{}'s log has {expected:?}:\n{log}",
                cli.label
            );
        }
    }

    // Logs: nothing, except the server's startup line naming its own address.
    let server_out = server.out_text();
    let (startup, rest_of_out) = server_out.split_once('\n').unwrap_or((&server_out, ""));
    let unbracketed = ip.trim_matches(['[', ']']);
    assert_eq!(
        addresses_in(startup),
        [unbracketed],
        "the startup line names the server's own address: {startup}"
    );
    assert!(startup.starts_with("Parley server listening on http://"));
    let mut logs = vec![
        ("server log".to_string(), server_log),
        ("server stdout".to_string(), rest_of_out.to_string()),
    ];
    for cli in [&host, &guest, &intruder] {
        logs.push((format!("{}'s log", cli.label), cli.log_text()));
    }
    let mut lines_read = 0;
    for (whose, text) in &logs {
        for line in text.lines() {
            lines_read += 1;
            assert_clean(whose, line, &personal);
        }
    }
    assert!(
        lines_read >= 40,
        "the logs are verbose ({lines_read} lines read)"
    );

    // The clients' user interface: names are its business, addresses and SDP are not; the
    // link only where the host is shown it.
    for cli in [&host, &guest, &intruder] {
        assert!(!cli.seen.is_empty(), "{} printed what happened", cli.label);
        for v in &cli.seen {
            if v["type"] == "invite" && cli.label == "host" {
                // The link, which names the server; nothing else.
                assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{v}");
                continue;
            }
            let whose = format!("{}'s output", cli.label);
            assert_clean(&whose, &v.to_string(), &secrets);
        }
    }
}

/// `line` carries no address, no SDP and none of `needles` (compared without case).
#[track_caller]
fn assert_clean(whose: &str, line: &str, needles: &[&str]) {
    let found = addresses_in(line);
    assert!(found.is_empty(), "{whose} has addresses {found:?}: {line}");
    if let Some(m) = sdp_in(line) {
        panic!("{whose} has SDP ({m}): {line}");
    }
    let lower = line.to_lowercase();
    for n in needles {
        assert!(
            !lower.contains(&n.to_lowercase()),
            "{whose} has {n:?}: {line}"
        );
    }
}

//! A participant who asks never to reveal their address to the SFU connects only through the
//! TURN server the meeting server announces (coturn, from Debian, on loopback): their media
//! reaches the other participant and theirs reaches them, all through the relay.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parley_client::call::{CallOptions, SyntheticCall};
use parley_proto::{IceServer, ServerMessage};
use parley_server::Config;
use parley_tests::bots::{self, Pump};
use parley_tests::temp_dir;

use crate::common::meeting_with;

struct Turn {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn coturn(port: u16) -> Turn {
    let dir = temp_dir("turn");
    let log = dir.join("turn.log");
    let relay = 50_000 + (port % 100) * 100;
    let child = Command::new("turnserver")
        .args([
            "-n",
            "-v",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--simple-log",
        ])
        .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
        .arg(format!("--listening-port={port}"))
        .arg(format!("--min-port={relay}"))
        .arg(format!("--max-port={}", relay + 99))
        .args([
            "--lt-cred-mech",
            "--user=parley:relay-password",
            "--realm=parley.test",
        ])
        .args(["--allow-loopback-peers", "--log-file=stdout"])
        .arg(format!("--userdb={}", dir.join("turndb").display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("start turnserver (coturn); `make test` installs it");
    Turn { child, log }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_only_participant_is_seen_and_heard_through_turn() {
    let _turn = crate::common::one_call_at_a_time().await;
    let port = free_udp_port();
    let turn = coturn(port);
    std::thread::sleep(Duration::from_millis(500));
    let config = Config {
        ice_servers: vec![IceServer {
            urls: vec![format!("turn:127.0.0.1:{port}?transport=udp")],
            username: Some("parley".into()),
            credential: Some("relay-password".into()),
        }],
        ..Config::default()
    };
    let m = meeting_with("Relayed", config).await;
    let end = Instant::now() + Duration::from_secs(8);
    let mut tasks = Vec::new();
    for (name, relay_only) in [("Ann", true), ("Bob", false)] {
        let (you, sig) = crate::common::joined_with_message(&m, name, name == "Ann").await;
        let ServerMessage::Joined { ice_servers, .. } = sig.1 else {
            panic!("not joined")
        };
        // The server announced its TURN server to the participant.
        assert_eq!(ice_servers.len(), 1);
        let options = CallOptions {
            ice_servers,
            relay_only,
            ..CallOptions::default()
        };
        let (mut call, offer) =
            SyntheticCall::start_with_options(you, "127.0.0.1:0".parse().unwrap(), options)
                .await
                .unwrap();
        let (mut tx, mut rx) = sig.0.split();
        tx.send(&offer).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let how = Pump {
                end: Some(end),
                ..Pump::default()
            };
            bots::pump(&mut call, &mut tx, &mut rx, how).await;
            let got = call.stats();
            call.close().await;
            (you, got)
        }));
    }
    let (ann, ann_got) = tasks.remove(0).await.unwrap();
    let (bob, bob_got) = tasks.remove(0).await.unwrap();
    let from_ann = bob_got.get(&ann.to_string()).cloned().unwrap_or_default();
    let from_bob = ann_got.get(&bob.to_string()).cloned().unwrap_or_default();
    println!("Bob from Ann: {from_ann:?}\nAnn from Bob: {from_bob:?}");
    assert!(from_ann.video_frames > 60, "{from_ann:?}");
    assert_eq!(from_ann.tone_of, Some(ann));
    assert!(from_bob.video_frames > 60, "{from_bob:?}");
    assert_eq!(from_bob.tone_of, Some(bob));
    // And it went through coturn: it allocated a relay and let the SFU's address use it.
    let log = std::fs::read_to_string(&turn.log).unwrap_or_default();
    for step in [
        "ALLOCATE processed, success",
        "CREATE_PERMISSION processed, success",
    ] {
        assert!(log.contains(step), "coturn never logged {step}:\n{log}");
    }
}

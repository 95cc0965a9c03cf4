//! No telemetry, no third parties: every connection and every datagram the app (and its
//! WebKit processes) sends during a whole meeting — hosting, admitting, video, chat with a
//! link, camera on — goes to the meeting server on this computer. The app runs under
//! `strace -f`, which records the destination of every `connect`, `sendto`, `sendmsg` and
//! `sendmmsg`, including DNS look-ups and UDP that never connects.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use parley_tests::desktop::Desktop;
use parley_tests::{bin, temp_dir};

use crate::common::*;

/// Every IPv4 and IPv6 destination in an strace log, as `address:port`.
fn destinations(log: &str) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for line in log.lines() {
        let mut rest = line;
        while let Some(i) = rest.find("sin_port=htons(") {
            rest = &rest[i + "sin_port=htons(".len()..];
            let port: u16 = rest
                .split(')')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let addr = if let Some(j) = rest.find("inet_addr(\"") {
                let a = &rest[j + "inet_addr(\"".len()..];
                a.split('"').next().unwrap_or_default().to_string()
            } else if let Some(j) = rest.find("inet_pton(AF_INET6, \"") {
                let a = &rest[j + "inet_pton(AF_INET6, \"".len()..];
                a.split('"').next().unwrap_or_default().to_string()
            } else {
                "(unparsed)".to_string()
            };
            out.push((addr, port));
        }
    }
    out
}

fn is_loopback(addr: &str) -> bool {
    addr.parse::<std::net::IpAddr>().is_ok_and(|a| match a {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    })
}

#[test]
fn the_app_talks_only_to_the_meeting_server() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let name = "the_app_talks_only_to_the_meeting_server";
    let dir = temp_dir(name);
    let trace = dir.join("strace.log");
    let wrapper = dir.join("parley-app-traced");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec strace -f -qq -o '{}' -e trace=connect,sendto,sendmsg,sendmmsg -e signal=none '{}' \"$@\"\n",
            trace.display(),
            bin("parley-app").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = Desktop::launch(&wrapper, &dir.join("home"), &artifacts(name));

    let link = host_here(&d, "Audit", "Hana");
    let port: u16 = link
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the embedded server's port");

    let (mut ann, ann_id) = admit_participant(&d, &dir, &link, "Ann");
    assert_tile_moves(&d, ann_id, "tile-ann");
    // The camera on: the app sends media too.
    d.click(&sel("camera-button"));
    ann.expect_within(std::time::Duration::from_secs(30), "media", |v| {
        v["from"].as_object().is_some_and(|m| {
            m.values()
                .any(|r| r["video_frames"].as_u64().unwrap_or(0) > 10)
        })
    });
    // A link in chat is shown, never fetched (no previews).
    open_panel(&d, "chat-panel", "chat-button");
    ann.send("chat agenda at https://example.org/agenda and http://192.0.2.1/x");
    d.wait_for("the chat line", |d| {
        d.text(&sel("chat-messages")).contains("agenda")
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    d.click(&sel("leave-button"));
    drop(d);

    let log = std::fs::read_to_string(&trace).expect("the strace log");
    let seen = destinations(&log);
    let outside: BTreeSet<_> = seen.iter().filter(|(a, _)| !is_loopback(a)).collect();
    let ports: BTreeSet<u16> = seen.iter().map(|(_, p)| *p).collect();
    println!(
        "{} network sends and connects traced, all to loopback ports {:?}",
        seen.len(),
        ports
    );
    assert!(
        outside.is_empty(),
        "the app reached beyond this computer: {outside:?}"
    );
    // The audit sees real traffic: the signaling connection to the server it hosts.
    assert!(
        seen.iter().any(|(a, p)| a == "127.0.0.1" && *p == port),
        "no connection to the meeting server on port {port} was traced: the audit saw nothing"
    );
}

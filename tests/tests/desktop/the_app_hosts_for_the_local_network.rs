//! The app hosts a meeting for the local network, and a guest on another computer (a network
//! namespace joined to this one by a veth pair) joins by the invite link: over TLS with the
//! certificate the link pins, with video both ways across the test network. A link with
//! another pin, or with none, is refused before anything is sent.

use parley_tests::CliProc;
use parley_tests::netns::Lan;
use serde_json::json;

use crate::common::*;

#[test]
fn the_app_hosts_for_the_local_network() {
    hosts_for_the_network(false);
}

/// The same over IPv6 (a unique local address): the link writes it in brackets.
#[test]
fn the_app_hosts_for_the_local_network_over_ipv6() {
    hosts_for_the_network(true);
}

fn hosts_for_the_network(ipv6: bool) {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let lan = Lan::create();
    let test = if ipv6 {
        "the_app_hosts_for_the_local_network_over_ipv6"
    } else {
        "the_app_hosts_for_the_local_network"
    };
    let (d, dir) = launch(test);
    let address = if ipv6 {
        lan.host_ip6.to_string()
    } else {
        lan.host_ip.to_string()
    };
    let in_link = if ipv6 {
        format!("[{address}]")
    } else {
        address.clone()
    };

    // "Who can join" offers this computer's address on the test network; the host picks it.
    d.wait_for("the test network's address under Who can join", |d| {
        d.script(
            "return Array.from(document.querySelectorAll('#host-reach-select option')).map(o => o.value).join(' ')",
            vec![],
        )
        .as_str()
        .unwrap_or("")
        .split(' ')
        .any(|v| v == address)
    });
    let picked = d.script(
        "const s = document.getElementById('host-reach-select'); s.value = arguments[0];\
         s.dispatchEvent(new Event('change', { bubbles: true })); return s.value",
        vec![json!(address)],
    );
    assert_eq!(picked, json!(address));
    d.screenshot("01-who-can-join");
    d.type_into(&sel("title-input"), "Site visit");
    d.click(&sel("host-button"));
    d.type_into(&sel("name-input"), "Hana");
    // The camera on (the test pattern stands in), so the guest has a picture to receive.
    d.click(&sel("camera-toggle"));
    d.click(&sel("enter-button"));
    d.find(&sel("meeting-screen"));

    let link = invite_link(&d);
    // This computer's network address, on the port a firewall can be told about.
    assert!(
        link.starts_with(&format!("https://{in_link}:7443/m/")),
        "the invite names this computer's network address and port 7443: {link}"
    );
    let pin = link
        .split_once("&c=")
        .map(|(_, p)| p.to_string())
        .expect("the invite pins the certificate");
    assert_eq!(pin.len(), 43, "a SHA-256 in base64: {pin}");

    // Another computer with a link naming another certificate: refused, and told why.
    let other = if pin.starts_with('A') { "B" } else { "A" };
    let forged = link.replace(&format!("&c={pin}"), &format!("&c={other}{}", &pin[1..]));
    let mut eve =
        CliProc::spawn_in_netns(&lan.name, &dir, "eve", &["join", &forged, "--name", "Eve"]);
    let e = eve.expect("cli_error");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("did not show the certificate its invite link names"),
        "{e}"
    );
    // Without the pin, no certificate authority vouches for this computer either.
    let unpinned = link.split("&c=").next().unwrap();
    let mut mallory = CliProc::spawn_in_netns(
        &lan.name,
        &dir,
        "mallory",
        &["join", unpinned, "--name", "Mallory"],
    );
    let e = mallory.expect("cli_error");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("Could not reach"),
        "{e}"
    );

    // Ann, on the other computer, joins by the real link, waits, and is admitted.
    let mut ann = CliProc::spawn_in_netns(
        &lan.name,
        &dir,
        "ann",
        &["--synthetic", "join", &link, "--name", "Ann"],
    );
    ann.expect("waiting");
    open_panel(&d, "participants-panel", "participants-button");
    d.wait_for("Ann waiting", |d| {
        d.text(&sel("participants-panel")).contains("Ann")
    });
    let panel = d.text(&sel("participants-panel"));
    assert!(
        !panel.contains("Eve") && !panel.contains("Mallory"),
        "refused connections never reached the meeting: {panel}"
    );
    d.click(&sel("admit-all"));
    let ann_id = ann.expect("joined")["you"].as_u64().expect("Ann's number");

    // Her picture crosses the test network to the host's window…
    d.find(&sel(&format!("tile-{ann_id}")));
    assert_tile_moves(&d, ann_id, "02-tile-ann");
    // …and the host's reaches her.
    let media = ann.expect_within(std::time::Duration::from_secs(30), "media", |v| {
        v["from"].as_object().is_some_and(|m| {
            m.values()
                .any(|r| r["video_frames"].as_u64().unwrap_or(0) > 10)
        })
    });
    println!("Ann receives: {media}");
    d.screenshot("03-meeting");
}

//! What must not reach a log: network addresses in any textual form and SDP. Used by the
//! cross-process test that reads every line the server and the clients write.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The IP addresses written in `line`, in the forms programs write them: `127.0.0.1`,
/// `127.0.0.1:54321`, SDP's `127.0.0.1 54321`, `::1`, `[::1]:54321`, `fe80::1%eth0`,
/// `::ffff:127.0.0.1`, a full eight-group IPv6 address. Words that merely contain digits,
/// dots and colons are not addresses: versions (`0.21.3`), times (`12:30:45`), hex ids,
/// Rust paths (`parley_client::call`).
pub fn addresses_in(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    // A word: a run of the characters an address (with port and zone) is written with.
    // Anything else (space, brackets, `=`, quotes, commas) separates words.
    let is_word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '%');
    for word in line.split(|c: char| !is_word(c)) {
        // A full stop or colon ending a sentence or a field is not part of the address.
        let word = word.trim_end_matches(['.', ':']);
        if word.is_empty() {
            continue;
        }
        if let Some(a) = ipv6_in(word) {
            found.push(a.to_string());
            continue;
        }
        // `a.b.c.d` or `a.b.c.d:port` (or `udp:a.b.c.d`): the address is one colon-separated part.
        for part in word.split(':') {
            if let Some(a) = ipv4_in(part) {
                found.push(a.to_string());
            }
        }
    }
    found
}

/// The SDP marker in `line`, if it carries a piece of a session description.
pub fn sdp_in(line: &str) -> Option<&'static str> {
    const MARKERS: [&str; 14] = [
        "a=candidate",
        "candidate:",
        "typ host",
        "typ srflx",
        "typ relay",
        "a=fingerprint",
        "ice-ufrag",
        "ice-pwd",
        "a=setup",
        "a=mid",
        "a=rtpmap",
        "m=audio",
        "m=video",
        "c=IN IP",
    ];
    let lower = line.to_ascii_lowercase();
    if let Some(m) = MARKERS
        .iter()
        .find(|m| lower.contains(&m.to_ascii_lowercase()))
    {
        return Some(m);
    }
    // `v=0` opens every SDP; as a whole word only (`prev=0` is not SDP).
    let bytes = line.as_bytes();
    line.match_indices("v=0")
        .any(|(i, _)| {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + 3);
            !before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !after.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.')
        })
        .then_some("v=0")
}

/// An IPv6 address making up the whole word (with an optional `%zone`). At least two colons
/// and a decimal digit: `::` alone and Rust paths such as `a::b` (valid IPv6, made of hex
/// letters) are not taken for addresses, nor is `12:30:45`, which does not parse.
fn ipv6_in(word: &str) -> Option<Ipv6Addr> {
    let addr = word.split_once('%').map_or(word, |(a, _)| a);
    if addr.matches(':').count() < 2 || !addr.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    addr.parse().ok()
}

/// An IPv4 address making up the whole part: four decimal numbers up to 255.
fn ipv4_in(part: &str) -> Option<Ipv4Addr> {
    let part = part.trim_matches('.');
    if part.split('.').count() != 4 || !part.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    part.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn finds(line: &str, expected: &[&str]) {
        assert_eq!(addresses_in(line), expected, "in {line:?}");
    }

    #[test]
    fn ipv4_addresses_are_found_in_every_form() {
        finds("peer 127.0.0.1", &["127.0.0.1"]);
        finds("addr=127.0.0.1:54321 conn=3", &["127.0.0.1"]);
        finds(
            "a=candidate:1 1 udp 2130706431 127.0.0.1 54321 typ host",
            &["127.0.0.1"],
        );
        finds(
            "source: 127.0.0.1:40000, destination: 10.1.2.3:5000",
            &["127.0.0.1", "10.1.2.3"],
        );
        finds("c=IN IP4 192.168.1.20", &["192.168.1.20"]);
        finds("connect to http://127.0.0.1:7880/ws.", &["127.0.0.1"]);
        finds("Host(V4(127.0.0.1))", &["127.0.0.1"]);
        finds("udp:203.0.113.9:3478", &["203.0.113.9"]);
        finds("\"127.0.0.1\"", &["127.0.0.1"]);
    }

    #[test]
    fn ipv6_addresses_are_found_in_every_form() {
        finds("peer ::1", &["::1"]);
        finds("addr=[::1]:54321", &["::1"]);
        finds("[::1]", &["::1"]);
        finds(
            "a=candidate:1 1 udp 2130706431 ::1 54321 typ host",
            &["::1"],
        );
        finds("c=IN IP6 2001:db8::7", &["2001:db8::7"]);
        finds("from fe80::1%eth0:", &["fe80::1"]);
        finds(
            "mapped ::ffff:127.0.0.1:5000",
            // Not a valid IPv6 with the port glued on; the IPv4 inside is still found.
            &["127.0.0.1"],
        );
        finds("mapped [::ffff:127.0.0.1]:5000", &["::ffff:127.0.0.1"]);
        finds(
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
            &["2001:db8::ff00:42:8329"],
        );
        finds("http://[::1]:7880/ws", &["::1"]);
        finds("SocketAddr [::1]:9 and 127.0.0.1:9", &["::1", "127.0.0.1"]);
    }

    #[test]
    fn numbers_times_ids_and_paths_are_not_addresses() {
        for line in [
            "2026-12-05T21:52:28.123456Z DEBUG parley_server::sfu: media connected conn=3",
            "parley_client::peer: media connection state=connected",
            "str0m 0.21.3 webrtc 0.14.0",
            "at 12:30:45 and 12:30:45.250",
            "id=7f3a9c0e12b4 ssrc=2864434397 epoch 4",
            "room=4 outputs=2 handle_ms=21 total_ms=25",
            "a::b and Foo :: bar and std::net::SocketAddr",
            "version 1.2.3.4.5",
            "fingerprint AB:CD:EF:01:23:45",
            "256.1.1.1 is not an address",
            "elapsed 1.5s 0.25 2.0",
            "",
        ] {
            finds(line, &[]);
        }
    }

    #[test]
    fn sdp_is_recognised_and_plain_fields_are_not() {
        for (line, marker) in [
            ("sdp=\"v=0\\r\\no=- 1 2 IN IP4 0.0.0.0\\r\\n", "v=0"),
            (
                "a=candidate:1 1 udp 2130706431 ::1 54321 typ host",
                "a=candidate",
            ),
            (
                "candidate:1 1 UDP 2130706431 10.0.0.1 5000 typ host",
                "candidate:",
            ),
            ("a=fingerprint:sha-256 AB:CD", "a=fingerprint"),
            ("a=ice-ufrag:abcd", "ice-ufrag"),
            ("ICE-PWD xyz", "ice-pwd"),
            ("m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video"),
        ] {
            assert_eq!(sdp_in(line), Some(marker), "in {line:?}");
        }
        for line in [
            "prev=0 next=1",
            "v=0.21.3",
            "media connection state=connected conn=2",
            "parley_server::sfu: track added kind=video",
        ] {
            assert_eq!(sdp_in(line), None, "in {line:?}");
        }
    }
}

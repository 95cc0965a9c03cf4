//! No telemetry, no third parties: every connection and every datagram the app (and its
//! WebKit processes) sends during a whole meeting — hosting on a meeting server, admitting,
//! video, chat with a link, camera on — goes to exactly that meeting server: its signaling
//! port over TCP, its SFU's media address over UDP. The app runs under `strace -f`, which
//! records the destination of every `connect`, `sendto`, `sendmsg` and `sendmmsg`, IPv4 and
//! IPv6, including DNS look-ups and UDP that never connects.
//!
//! The meeting server is a separate `parley-server` process (not traced), so what the app
//! sends is the client's doing alone. Besides the server, only talk between the app's own
//! parts is allowed: Unix sockets, netlink queries to the kernel (which interfaces exist),
//! and TCP to a socket the app's own processes listen on (the window's video socket,
//! `src-tauri/src/video_socket.rs`, and WebKit's automation endpoint under WebDriver).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;

use parley_tests::desktop::Desktop;
use parley_tests::{ServerProc, bin, temp_dir};

use crate::common::*;

/// The transport of the socket a call used, from strace's `-yy` annotation (`41<TCP:[…]>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
    /// Anything else, or not annotated.
    Other,
}

/// Where one traced call sends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dest {
    /// An IPv4 or IPv6 address and port (IPv4-mapped IPv6 addresses as IPv4).
    Ip(SocketAddr),
    /// A Unix socket: talk between programs on this computer.
    Unix,
    /// Netlink to the kernel itself (`nl_pid=0`): a question about this computer's
    /// interfaces, not a message to anyone.
    Kernel,
    /// `AF_UNSPEC` on `connect`: dissolving a datagram socket's association, no destination.
    Unspec,
    /// A family or form this parser does not know: never allowed.
    Unknown(String),
}

/// What one strace line shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Traced {
    /// A `connect`, `sendto`, `sendmsg` or `sendmmsg` on a `proto` socket, to these
    /// destinations (`sendmmsg` may carry several; a call on a connected socket carries none
    /// here, its destination was traced at its `connect`).
    Send { proto: Proto, to: Vec<Dest> },
    /// A socket the traced processes listen on.
    Listen(SocketAddr),
    /// Anything else (a resumed call, an exit line).
    Nothing,
}

/// Parse one line of `strace -f -yy` (with or without `-Y`'s `PID<comm>` prefix).
fn parse_line(line: &str) -> Traced {
    // The call is the first word followed by `(`, after the optional PID<comm> prefix.
    let rest = line.trim_start();
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = match rest.strip_prefix('<') {
        Some(r) => r.split_once("> ").map_or(r, |(_, r)| r).trim_start(),
        None => rest.trim_start(),
    };
    let Some((call, args)) = rest.split_once('(') else {
        return Traced::Nothing;
    };
    let proto = socket_proto(args);
    match call {
        "listen" => annotated_addr(args).map_or(Traced::Nothing, Traced::Listen),
        "connect" | "sendto" | "sendmsg" | "sendmmsg" => Traced::Send {
            proto,
            to: sockaddrs(args).into_iter().map(parse_sockaddr).collect(),
        },
        _ => Traced::Nothing,
    }
}

/// `TCP`/`UDP` from the fd annotation at the start of the arguments (`41<TCPv6:[…]>`).
fn socket_proto(args: &str) -> Proto {
    let Some(kind) = args
        .split_once('<')
        .and_then(|(fd, r)| fd.chars().all(|c| c.is_ascii_digit()).then_some(r))
        .and_then(|r| r.split(':').next())
    else {
        return Proto::Other;
    };
    match kind {
        "TCP" | "TCPv6" => Proto::Tcp,
        "UDP" | "UDPv6" => Proto::Udp,
        _ => Proto::Other,
    }
}

/// The local address in the fd annotation (`6<TCP:[127.0.0.1:35887]>`, `3<TCPv6:[[::1]:52189]>`),
/// if the socket is bound.
fn annotated_addr(args: &str) -> Option<SocketAddr> {
    let inner = args.split_once(":[")?.1;
    let inner = inner.rsplit_once("]>")?.0;
    inner.parse::<SocketAddr>().ok().map(canonical)
}

/// Every socket address structure in the arguments (`{sa_family=…}`), skipping anything
/// inside quoted data (a payload that happens to read `{sa_family=` is not an address).
fn sockaddrs(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in args.char_indices() {
        if quoted {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
        } else if c == '"' {
            quoted = true;
        } else if args[i..].starts_with("{sa_family=") {
            let body = &args[i + 1..];
            // The structure ends at its `}`; address literals inside are quoted but hold none.
            out.push(body.split_once('}').map_or(body, |(b, _)| b));
        }
    }
    out
}

/// One `sa_family=…, …` structure (without its braces).
fn parse_sockaddr(s: &str) -> Dest {
    let family = s
        .trim_start_matches("sa_family=")
        .split(',')
        .next()
        .unwrap_or_default();
    let between = |from: &str, to: &str| -> Option<&str> {
        let start = s.find(from)? + from.len();
        s[start..].split(to).next()
    };
    let ip = |addr: Option<&str>, port: Option<&str>| -> Dest {
        match (
            addr.and_then(|a| a.parse::<IpAddr>().ok()),
            port.and_then(|p| p.parse::<u16>().ok()),
        ) {
            (Some(a), Some(p)) => Dest::Ip(canonical(SocketAddr::new(a, p))),
            _ => Dest::Unknown(s.to_string()),
        }
    };
    match family {
        "AF_INET" => ip(
            between("sin_addr=inet_addr(\"", "\""),
            between("sin_port=htons(", ")"),
        ),
        "AF_INET6" => ip(
            between("inet_pton(AF_INET6, \"", "\""),
            between("sin6_port=htons(", ")"),
        ),
        "AF_UNIX" => Dest::Unix,
        "AF_NETLINK" if between("nl_pid=", ",") == Some("0") => Dest::Kernel,
        "AF_UNSPEC" => Dest::Unspec,
        _ => Dest::Unknown(s.to_string()),
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) as the IPv4 address they are.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// Where the app may send: the meeting server, and its own listening sockets.
struct Allowed {
    /// The server's signaling (HTTP and WebSocket), over TCP.
    signaling: SocketAddr,
    /// The server's SFU, over UDP.
    media: SocketAddr,
    /// Sockets the traced processes themselves listen on.
    own: BTreeSet<SocketAddr>,
}

impl Allowed {
    /// Whether a `proto` call to `to` is allowed; why not if not.
    fn check(&self, proto: Proto, to: &Dest) -> Result<(), String> {
        match (to, proto) {
            (Dest::Unix | Dest::Kernel | Dest::Unspec, _) => Ok(()),
            (Dest::Ip(a), Proto::Tcp) if *a == self.signaling => Ok(()),
            (Dest::Ip(a), Proto::Udp) if *a == self.media => Ok(()),
            (Dest::Ip(a), Proto::Tcp) if a.ip().is_loopback() && self.own.contains(a) => Ok(()),
            (Dest::Ip(a), _) => Err(format!(
                "{proto:?} to {a}, which is neither the meeting server's signaling \
                 ({} over TCP) nor its media ({} over UDP) nor the app's own socket",
                self.signaling, self.media
            )),
            (Dest::Unknown(s), _) => Err(format!("an address not understood: {{{s}}}")),
        }
    }
}

/// Every call in an strace log that the app may not make, with the reason.
fn violations(log: &str, allowed: &Allowed) -> Vec<String> {
    let mut out = Vec::new();
    for line in log.lines() {
        if let Traced::Send { proto, to } = parse_line(line) {
            for d in &to {
                if let Err(why) = allowed.check(proto, d) {
                    out.push(format!(
                        "{why}\n    {}",
                        line.chars().take(300).collect::<String>()
                    ));
                }
            }
        }
    }
    out
}

/// The sockets the traced processes listen on.
fn listeners(log: &str) -> BTreeSet<SocketAddr> {
    log.lines()
        .filter_map(|l| match parse_line(l) {
            Traced::Listen(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port on loopback")
}

#[test]
fn the_app_talks_only_to_the_meeting_server() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let name = "the_app_talks_only_to_the_meeting_server";
    let dir = temp_dir(name);

    // The meeting server, with its SFU on a port the test knows.
    let media_port = free_udp_port();
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        // One worker: its port is the SFU's only media port.
        format!("media_listen = \"127.0.0.1:{media_port}\"\nmedia_workers = 1\n"),
    )
    .unwrap();
    let server = ServerProc::start_with(&dir, &["--config", config.to_str().unwrap()], "info");
    let signaling = SocketAddr::from(([127, 0, 0, 1], server.port));
    let media = SocketAddr::from(([127, 0, 0, 1], media_port));

    let trace = dir.join("strace.log");
    let wrapper = dir.join("parley-app-traced");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec strace -f -qq -Y -yy -o '{}' -e trace=connect,sendto,sendmsg,sendmmsg,listen -e signal=none '{}' \"$@\"\n",
            trace.display(),
            bin("parley-app").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = Desktop::launch(&wrapper, &dir.join("home"), &artifacts(name));

    // Host on the meeting server.
    d.type_into(&sel("title-input"), "Audit");
    d.type_into(&sel("host-server-input"), &server.url);
    d.click(&sel("host-button"));
    d.type_into(&sel("name-input"), "Hana");
    d.click(&sel("enter-button"));
    d.find(&sel("meeting-screen"));
    let link = invite_link(&d);
    assert!(
        link.starts_with(&format!("{}/m/", server.url)),
        "the meeting is on the server: {link}"
    );

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
    let allowed = Allowed {
        signaling,
        media,
        own: listeners(&log),
    };
    let sends: Vec<(Proto, Dest)> = log
        .lines()
        .filter_map(|l| match parse_line(l) {
            Traced::Send { proto, to } => Some(to.into_iter().map(move |d| (proto, d))),
            _ => None,
        })
        .flatten()
        .collect();
    let kinds: BTreeSet<String> = sends
        .iter()
        .map(|(p, d)| match d {
            Dest::Ip(a) => format!("{p:?} {a}"),
            other => format!("{other:?}"),
        })
        .collect();
    println!(
        "{} connects and sends traced; destinations: {kinds:?}; the app listens on {:?}",
        sends.len(),
        allowed.own
    );
    let bad = violations(&log, &allowed);
    assert!(
        bad.is_empty(),
        "the app sent somewhere other than the meeting server ({} calls):\n{}",
        bad.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    // The audit sees real traffic of both kinds: signaling and media to the server.
    assert!(
        sends
            .iter()
            .any(|(p, d)| *p == Proto::Tcp && *d == Dest::Ip(signaling)),
        "no connection to the meeting server's signaling at {signaling} was traced: the audit saw nothing"
    );
    assert!(
        sends
            .iter()
            .filter(|(p, d)| *p == Proto::Udp && *d == Dest::Ip(media))
            .count()
            > 100,
        "hardly any media to the SFU at {media} was traced: the audit saw nothing"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Allowed {
        Allowed {
            signaling: "127.0.0.1:33289".parse().unwrap(),
            media: "127.0.0.1:52256".parse().unwrap(),
            own: ["127.0.0.1:46207".parse().unwrap()].into(),
        }
    }

    fn verdicts(line: &str) -> Vec<Result<(), String>> {
        let Traced::Send { proto, to } = parse_line(line) else {
            panic!("not a send: {line}")
        };
        assert!(!to.is_empty(), "no destination in {line}");
        to.iter().map(|d| allowed().check(proto, d)).collect()
    }

    #[test]
    fn the_servers_signaling_and_media_pass() {
        let signaling = r#"11116<tokio-rt-worker> connect(41<TCP:[150632]>, {sa_family=AF_INET, sin_port=htons(33289), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)"#;
        let media = r#"11115<tokio-rt-worker> sendmsg(41<UDP:[127.0.0.1:33503]>, {msg_name={sa_family=AF_INET, sin_port=htons(52256), sin_addr=inet_addr("127.0.0.1")}, msg_namelen=16, msg_iov=[{iov_base="\0\1\0\\!\22\244B", iov_len=112}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 112"#;
        // The same server reached over IPv6 as an IPv4-mapped address.
        let mapped = r#"812 connect(7<TCPv6:[161055]>, {sa_family=AF_INET6, sin6_port=htons(33289), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 0"#;
        for line in [signaling, media, mapped] {
            assert_eq!(verdicts(line), [Ok(())], "{line}");
        }
    }

    #[test]
    fn a_local_dns_stub_is_not_the_meeting_server() {
        let dns = r#"7591<pool-spawner> sendto(37<UDP:[1611]>, "\0224\1\0\0\1\0\0\0\0\0\0\7example\3org\0", 29, MSG_NOSIGNAL, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 29"#;
        let verdict: [Result<(), String>; 1] = verdicts(dns).try_into().unwrap();
        let [Err(why)] = verdict else {
            panic!("127.0.0.53:53 passed")
        };
        assert!(why.contains("127.0.0.53:53"), "{why}");
    }

    #[test]
    fn ipv6_to_anywhere_else_is_refused() {
        let foreign = r#"8579<WebKitNetworkPr> connect(22<TCPv6:[140513]>, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2606:2800:21f:cb07:6820:80da:af6b:8b2c", &sin6_addr), sin6_scope_id=0}, 28) = -1 EINPROGRESS (Operation now in progress)"#;
        let udp = r#"sendto(3<UDPv6:[161050]>, "x", 1, 0, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = 1"#;
        // Loopback, but not the server: another program on this computer.
        let loopback = r#"connect(5<TCPv6:[161053]>, {sa_family=AF_INET6, sin6_port=htons(52189), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0"#;
        for line in [foreign, udp, loopback] {
            assert!(verdicts(line)[0].is_err(), "{line}");
        }
    }

    #[test]
    fn the_right_port_over_the_wrong_transport_or_another_port_is_refused() {
        // Media port over TCP, signaling port over UDP, the server's address on another port.
        for line in [
            r#"connect(9<TCP:[1]>, {sa_family=AF_INET, sin_port=htons(52256), sin_addr=inet_addr("127.0.0.1")}, 16) = 0"#,
            r#"sendto(9<UDP:[2]>, "x", 1, 0, {sa_family=AF_INET, sin_port=htons(33289), sin_addr=inet_addr("127.0.0.1")}, 16) = 1"#,
            r#"connect(9<TCP:[3]>, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, 16) = 0"#,
        ] {
            assert!(verdicts(line)[0].is_err(), "{line}");
        }
    }

    #[test]
    fn the_apps_own_sockets_unix_and_kernel_queries_pass() {
        let own = r#"8579<WebKitNetworkPr> connect(22<TCP:[149572]>, {sa_family=AF_INET, sin_port=htons(46207), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)"#;
        let x11 = r#"10190<parley-app> connect(4<UNIX-STREAM:[148211]>, {sa_family=AF_UNIX, sun_path=@"/tmp/.X11-unix/X268"}, 22) = 0"#;
        let netlink = r#"7591<tokio-rt-worker> sendto(37<NETLINK:[ROUTE:7591]>, [{nlmsg_len=20, nlmsg_type=RTM_GETLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_DUMP, nlmsg_seq=1796484245, nlmsg_pid=0}, {ifi_family=AF_UNSPEC, ...}], 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20"#;
        for line in [own, x11, netlink] {
            assert_eq!(verdicts(line), [Ok(())], "{line}");
        }
        // A message to another process over netlink is not a question to the kernel.
        let other = r#"sendto(5<NETLINK:[1]>, "x", 1, 0, {sa_family=AF_NETLINK, nl_pid=4242, nl_groups=00000000}, 12) = 1"#;
        assert!(verdicts(other)[0].is_err());
        // The app's listeners come from its `listen` calls, IPv4 and IPv6.
        let log = "10190<parley-app> listen(46<TCP:[127.0.0.1:46207]>, 1024) = 0\n\
                   listen(3<TCPv6:[[::1]:52189]>, 128)     = 0\n";
        assert_eq!(
            listeners(log),
            [
                "127.0.0.1:46207".parse().unwrap(),
                "[::1]:52189".parse().unwrap()
            ]
            .into()
        );
    }

    #[test]
    fn every_address_of_a_batch_is_checked_and_payloads_are_not_addresses() {
        let batch = r#"sendmmsg(40<UDP:[127.0.0.1:5000]>, [{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(52256), sin_addr=inet_addr("127.0.0.1")}, msg_namelen=16, msg_iov=[{iov_base="a", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=1}, {msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(3478), sin_addr=inet_addr("192.0.2.7")}, msg_namelen=16, msg_iov=[{iov_base="b", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=1}], 2, 0) = 2"#;
        let v = verdicts(batch);
        assert_eq!(v.len(), 2);
        assert!(v[0].is_ok() && v[1].is_err(), "{v:?}");
        // Data that reads like an address is data: the destination is the server's.
        let tricky = r#"sendto(41<UDP:[1]>, "{sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"8.8.8.8\")}", 70, 0, {sa_family=AF_INET, sin_port=htons(52256), sin_addr=inet_addr("127.0.0.1")}, 16) = 70"#;
        assert_eq!(verdicts(tricky), [Ok(())]);
        // A family nobody expected is refused, not skipped.
        let packet = r#"sendto(6<PACKET:[1]>, "x", 1, 0, {sa_family=AF_PACKET, sll_protocol=htons(ETH_P_ALL), sll_ifindex=2}, 20) = 1"#;
        assert!(verdicts(packet)[0].is_err());
        // Resumed calls and exits carry no destination.
        assert_eq!(
            parse_line("7301  <... connect resumed>) = -1 EINPROGRESS"),
            Traced::Nothing
        );
        assert_eq!(parse_line("7301  +++ exited with 0 +++"), Traced::Nothing);
    }
}

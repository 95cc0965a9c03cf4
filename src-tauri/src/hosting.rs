//! Meetings hosted on this computer: the app runs `parley-server` in its own process.
//!
//! Two reaches, each its own server:
//! - **this computer only**: plain WebSocket on the loopback address, as a development server
//!   runs; nothing outside this computer can connect.
//! - **the local network**, through one address of this computer the host picks: TLS with a
//!   certificate made at that moment and held in memory only. The invite link pins it (`&c=`,
//!   the SHA-256 of the certificate, in the fragment), so a guest's client accepts exactly that
//!   certificate and needs no certificate authority; someone in between cannot pose as the
//!   server. Only the app may create meetings there: it holds a per-launch host API token that
//!   never leaves this process. Media (the SFU) listens on the same address.
//!
//! A server lives until the app quits; a new meeting reuses it.

use std::net::{IpAddr, SocketAddr};

use parley_proto::ServerAddr;
use serde::Serialize;

use crate::error::{AppError, ErrorCode};

/// One address of this computer that other computers may reach it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct NetworkAddress {
    /// The network interface's name (e.g. `wlan0`), to help the host pick.
    pub interface: String,
    /// The address, as the host would type it (`192.168.1.20`, or an IPv6 address).
    pub address: String,
}

/// A meeting server running in this process.
struct Embedded {
    /// The address it serves on (loopback for "this computer only").
    ip: IpAddr,
    task: tokio::task::JoinHandle<()>,
    /// How clients reach it (pinned for the network server).
    server: ServerAddr,
    /// The host API token that creates meetings on it (the network server only).
    api_token: Option<String>,
}

/// The meeting servers this app runs: at most one per address.
#[derive(Default)]
pub struct Hosting {
    servers: Vec<Embedded>,
}

/// Where a new meeting hosted here is reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Only this computer (loopback).
    ThisComputer,
    /// Other computers, through this address of this computer.
    Network(IpAddr),
}

impl Reach {
    /// Read the host's choice: none or empty is this computer; anything else must be one of
    /// this computer's [`network_addresses`].
    pub fn parse(address: Option<&str>) -> Result<Reach, AppError> {
        let Some(text) = address.map(str::trim).filter(|a| !a.is_empty()) else {
            return Ok(Reach::ThisComputer);
        };
        let not_here = || {
            AppError::new(
                ErrorCode::BadAddress,
                "That is not a network address of this computer. Pick one from the list, or host for this computer only.",
            )
        };
        let ip: IpAddr = text.parse().map_err(|_| not_here())?;
        let known = network_addresses()
            .iter()
            .any(|a| a.address.parse::<IpAddr>() == Ok(ip));
        if !known {
            return Err(not_here());
        }
        Ok(Reach::Network(ip))
    }
}

impl Hosting {
    /// The server for `reach`, started on first use; and the host API token it needs.
    pub async fn server(&mut self, reach: Reach) -> Result<(ServerAddr, Option<String>), AppError> {
        let ip = match reach {
            Reach::ThisComputer => IpAddr::from([127, 0, 0, 1]),
            Reach::Network(ip) => ip,
        };
        self.servers.retain(|s| !s.task.is_finished());
        if let Some(s) = self.servers.iter().find(|s| s.ip == ip) {
            return Ok((s.server.clone(), s.api_token.clone()));
        }
        let started = match reach {
            Reach::ThisComputer => start_local().await?,
            Reach::Network(ip) => start_network(ip).await?,
        };
        let answer = (started.server.clone(), started.api_token.clone());
        self.servers.push(started);
        Ok(answer)
    }
}

/// Limits for a meeting server on a personal computer: a few meetings, a few hundred
/// connections (a server's defaults allow 20,000, which a flood from the local network could
/// turn into gigabytes here).
fn embedded_limits() -> parley_server::config::LimitsConfig {
    parley_server::config::LimitsConfig {
        max_rooms: 64,
        max_connections: 512,
        max_connections_per_address: 128,
        max_waiting: 200,
        passcode_limiter_entries: 4_096,
        ..parley_server::config::LimitsConfig::default()
    }
}

fn start_error(e: impl std::fmt::Display) -> AppError {
    AppError::new(
        ErrorCode::ServerStart,
        format!("Could not start the meeting server on this computer: {e}"),
    )
}

async fn start_local() -> Result<Embedded, AppError> {
    let config = parley_server::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        // One meeting runs here, and a meeting's media runs on one worker.
        media_workers: Some(1),
        // Firefox on this computer gathers no loopback candidate: media is also on this
        // computer's own addresses (answering only the meeting's ICE checks).
        media_on_interfaces: true,
        limits: embedded_limits(),
        ..parley_server::Config::default()
    };
    let server = parley_server::Server::bind(config)
        .await
        .map_err(start_error)?;
    let addr = server.local_addr();
    let task = tokio::spawn(server.run());
    tracing::info!("meeting server for this computer started");
    Ok(Embedded {
        ip: addr.ip(),
        task,
        server: ServerAddr::parse(&format!("http://{addr}"))
            .map_err(parley_client::ClientError::from)?,
        api_token: None,
    })
}

/// The port a meeting hosted for the network listens on, TCP (signaling) and UDP (media), so a
/// firewall on this computer can let exactly that in; another is picked if it is taken.
pub const NETWORK_PORT: u16 = 7443;

async fn start_network(ip: IpAddr) -> Result<Embedded, AppError> {
    let identity = parley_server::TlsIdentity::self_signed().map_err(start_error)?;
    let pin = parley_client::tls::pin_of(identity.certificate_der());
    // 256 bits from the OS, only ever in this process: nobody else can create meetings here.
    let api_token = parley_proto::HostSecret::random().to_text();
    let config = |port: u16| parley_server::Config {
        listen: SocketAddr::new(ip, port),
        media_listen: Some(SocketAddr::new(ip, port)),
        // One meeting, one worker: the firewall opens this one UDP port.
        media_workers: Some(1),
        mode: parley_server::Mode::Standalone,
        api_tokens: vec![api_token.clone()],
        tls_identity: Some(identity.clone()),
        limits: embedded_limits(),
        ..parley_server::Config::default()
    };
    let server = match parley_server::Server::bind(config(NETWORK_PORT)).await {
        Ok(s) => s,
        // Taken (another Parley, another program): any free port still works for the link.
        Err(parley_server::StartError::Bind { .. }) => parley_server::Server::bind(config(0))
            .await
            .map_err(start_error)?,
        Err(e) => return Err(start_error(e)),
    };
    let addr = server.local_addr();
    let task = tokio::spawn(server.run());
    tracing::info!(
        port = addr.port(),
        "meeting server for the local network started"
    );
    let server = ServerAddr::parse(&format!("https://{addr}"))
        .map_err(parley_client::ClientError::from)?
        .pinned(pin);
    Ok(Embedded {
        ip,
        task,
        server,
        api_token: Some(api_token),
    })
}

/// This computer's addresses that another computer could use to reach a meeting hosted here,
/// IPv4 first. Empty where the system cannot list them.
pub fn network_addresses() -> Vec<NetworkAddress> {
    let mut found: Vec<(String, IpAddr)> = parley_server::interfaces::all()
        .into_iter()
        .filter(|(_, ip)| parley_server::interfaces::reachable(*ip))
        .collect();
    found.sort_by_key(|(name, ip)| (ip.is_ipv6(), name.clone(), *ip));
    found.dedup();
    found
        .into_iter()
        .map(|(interface, ip)| NetworkAddress {
            interface,
            address: ip.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_others_can_reach_are_offered() {
        for a in network_addresses() {
            let ip: IpAddr = a.address.parse().unwrap();
            assert!(parley_server::interfaces::reachable(ip), "{a:?}");
        }
    }

    #[test]
    fn the_host_may_pick_only_an_address_of_this_computer() {
        assert_eq!(Reach::parse(None).unwrap(), Reach::ThisComputer);
        assert_eq!(Reach::parse(Some("  ")).unwrap(), Reach::ThisComputer);
        // TEST-NET-3: never configured on a real machine.
        for bad in ["203.0.113.9", "not an address", "127.0.0.1", "0.0.0.0"] {
            assert_eq!(
                Reach::parse(Some(bad)).unwrap_err().kind,
                ErrorCode::BadAddress,
                "{bad}"
            );
        }
        if let Some(a) = network_addresses().first() {
            assert_eq!(
                Reach::parse(Some(&a.address)).unwrap(),
                Reach::Network(a.address.parse().unwrap())
            );
        }
    }

    #[tokio::test]
    async fn the_network_server_is_pinned_and_needs_the_apps_token() {
        // Loopback stands in for a network address here (no other address is used in unit
        // tests); the window test hosts on a veth address another namespace reaches.
        let ip = IpAddr::from([127, 0, 0, 1]);
        let mut hosting = Hosting::default();
        let started = start_network(ip).await.unwrap();
        let (server, token) = (started.server.clone(), started.api_token.clone().unwrap());
        // The fixed port when free; a second server on the same address takes another.
        let second = start_network(ip).await.unwrap();
        assert_ne!(second.server.port, started.server.port);
        if ![started.server.port, second.server.port].contains(&Some(NETWORK_PORT)) {
            // Only because another program on this computer holds the port already.
            assert!(
                std::net::TcpListener::bind((ip, NETWORK_PORT)).is_err(),
                "port {NETWORK_PORT} was free, yet the servers took {:?} and {:?}",
                started.server.port,
                second.server.port
            );
        }
        second.task.abort();
        hosting.servers.push(started);
        assert!(server.tls);
        assert!(server.pin.is_some());
        assert!(token.len() >= 40);
        // The same reach reuses the server.
        let again = hosting.server(Reach::Network(ip)).await.unwrap();
        assert_eq!(again.0, server);
        let tls = parley_client::tls::client_config(None).unwrap();
        let request = parley_proto::api::CreateMeeting {
            title: parley_proto::Title::new("Board").unwrap(),
            passcode: None,
            policy: parley_proto::PolicyChange::default(),
        };
        let refused = parley_client::api::create_meeting(&server, None, &request, tls.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(refused, parley_client::ClientError::Api { .. }),
            "{refused:?}"
        );
        // A server that shows another certificate than the link pins is refused, with the
        // words for it (someone in between, or an old link).
        let impostor = server
            .clone()
            .pinned(parley_proto::CertPin::from_bytes([7; 32]));
        let refused =
            parley_client::api::create_meeting(&impostor, Some(&token), &request, tls.clone())
                .await
                .unwrap_err();
        assert!(
            matches!(
                refused,
                parley_client::ClientError::CertificateMismatch { .. }
            ),
            "{refused:?}"
        );
        let refused = parley_client::Signaling::connect(&impostor, tls.clone())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                refused,
                parley_client::ClientError::CertificateMismatch { .. }
            ),
            "{refused:?}"
        );
        // Without the pin, the web's authorities do not vouch for it either.
        let mut unpinned = server.clone();
        unpinned.pin = None;
        let refused = parley_client::Signaling::connect(&unpinned, tls.clone())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(refused, parley_client::ClientError::Connect { .. }),
            "{refused:?}"
        );
        let created =
            parley_client::api::create_meeting(&server, Some(&token), &request, tls.clone())
                .await
                .unwrap();
        assert!(created.public_url.is_none());
        // The pinned connection reaches the server and is greeted.
        let sig = parley_client::Signaling::connect(&server, tls)
            .await
            .unwrap();
        assert_eq!(sig.media_bind().ip(), ip);
    }
}

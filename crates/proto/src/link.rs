//! Meeting links: `https://<host>[:port]/m/<room-token>#k=<meeting-key>[&c=<cert-pin>]`.
//!
//! `&c=` pins the server's TLS certificate (its SHA-256 fingerprint) for a meeting hosted on
//! someone's own computer, whose self-made certificate no authority signed: a client with a
//! pinned link accepts exactly that certificate, for any host name, and no other.
//!
//! `parley://<host>[:port]/m/<token>#k=…` is the same link for the desktop app's URL scheme.
//! `http://` is accepted only for a server on this computer (loopback), where a locally hosted
//! meeting runs without TLS. The fragment (`#k=`) is split off here, on the device, and is never
//! sent to the server: [`MeetingLink::server`] and [`MeetingLink::token`] are all that leave it.
//!
//! Parsing is strict: anything that is not exactly a meeting link gets its own [`LinkError`]
//! with a sentence a person understands. What pasting typically adds (surrounding spaces and
//! quotes, `<…>` from e-mail, line breaks inside a wrapped link) is removed first.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::secret::{CertPin, MeetingKey, RoomToken};

/// Longest text accepted as a link, before trimming. A real link is about 100 characters.
pub const MAX_LINK_LEN: usize = 2048;

/// The URL scheme a link was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `https://` — the normal, TLS-protected form.
    Https,
    /// `parley://` — the desktop app's scheme; the server is reached over TLS like `https://`.
    Parley,
    /// `http://` — only for a server on this computer (loopback).
    Http,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Parley => "parley",
            Scheme::Http => "http",
        }
    }

    /// Whether the server behind this scheme is reached over TLS.
    pub fn is_tls(self) -> bool {
        !matches!(self, Scheme::Http)
    }
}

/// The host part of a link.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lower-cased.
    Domain(String),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written in brackets in a link).
    V6(Ipv6Addr),
}

impl Host {
    /// Whether this host is this computer (loopback or `localhost`).
    pub fn is_loopback(&self) -> bool {
        match self {
            Host::Domain(d) => d == "localhost",
            Host::V4(a) => a.is_loopback(),
            Host::V6(a) => a.is_loopback(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Where a meeting's server is: what the client connects to. Carries no secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    /// Whether to use TLS (`https`/`wss`).
    pub tls: bool,
    /// Host name or address.
    pub host: Host,
    /// Port, if not the scheme's default (443 for TLS, 80 without).
    pub port: Option<u16>,
    /// The server's certificate fingerprint when the link pins it (TLS only): then that
    /// certificate is trusted instead of the web's certificate authorities.
    pub pin: Option<CertPin>,
}

impl ServerAddr {
    /// Parse a server address given as `https://host[:port]` or `http://host[:port]` (plain
    /// HTTP only for loopback), with an optional trailing `/`.
    pub fn parse(text: &str) -> Result<Self, LinkError> {
        let text = text.trim();
        let (scheme, rest) = split_scheme(text)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(LinkError::NotAServerAddress);
        }
        let (host, port) = parse_authority(rest)?;
        if scheme == Scheme::Http && !host.is_loopback() {
            return Err(LinkError::InsecureRemote);
        }
        Ok(ServerAddr {
            tls: scheme.is_tls(),
            host,
            port,
            pin: None,
        })
    }

    /// The same server, reached over TLS with exactly the certificate `pin` names.
    pub fn pinned(self, pin: CertPin) -> Self {
        ServerAddr {
            tls: true,
            pin: Some(pin),
            ..self
        }
    }

    fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }

    /// `https://host[:port]` (or `http://` for a local server without TLS).
    pub fn http_base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.authority())
    }

    /// The signaling WebSocket URL: `wss://host[:port]/ws` (or `ws://` without TLS).
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.authority())
    }

    /// The host name to verify the server's certificate against.
    pub fn host_name(&self) -> String {
        match &self.host {
            Host::Domain(d) => d.clone(),
            Host::V4(a) => a.to_string(),
            Host::V6(a) => a.to_string(),
        }
    }

    /// The port to connect to.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.tls { 443 } else { 80 })
    }
}

/// A parsed invite link. Its `Debug` output hides the token and key; `Display` writes the whole
/// invite and is for the host who asked to copy it, never for logs.
#[derive(Clone, PartialEq, Eq)]
pub struct MeetingLink {
    /// The scheme it was written with (kept so formatting round-trips).
    pub scheme: Scheme,
    /// The server to connect to.
    pub server: ServerAddr,
    /// The meeting's room token (sent to the server).
    pub token: RoomToken,
    /// The meeting key from the fragment (never sent to the server).
    pub key: MeetingKey,
}

impl MeetingLink {
    /// Build the invite for a meeting on `server`.
    pub fn new(server: ServerAddr, token: RoomToken, key: MeetingKey) -> Self {
        let scheme = if server.tls {
            Scheme::Https
        } else {
            Scheme::Http
        };
        MeetingLink {
            scheme,
            server,
            token,
            key,
        }
    }

    /// Parse a pasted link. See the module docs for what is accepted.
    pub fn parse(input: &str) -> Result<Self, LinkError> {
        if input.len() > MAX_LINK_LEN {
            return Err(LinkError::TooLong);
        }
        let cleaned = clean_pasted(input)?;
        let text = cleaned.as_str();
        let (scheme, rest) = split_scheme(text)?;
        let (before_fragment, fragment) = match rest.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (rest, None),
        };
        if before_fragment.contains('?') {
            return Err(LinkError::QueryNotAllowed);
        }
        let (authority, path) = match before_fragment.find('/') {
            Some(i) => before_fragment.split_at(i),
            None => (before_fragment, ""),
        };
        let (host, port) = parse_authority(authority)?;
        if scheme == Scheme::Http && !host.is_loopback() {
            return Err(LinkError::InsecureRemote);
        }
        let token_text = match path.strip_prefix("/m/") {
            Some(t) => t.strip_suffix('/').unwrap_or(t),
            None if path.is_empty() || path == "/" || path == "/m" || path == "/m/" => {
                return Err(LinkError::MissingToken);
            }
            None => return Err(LinkError::NotAMeetingPath),
        };
        if token_text.is_empty() {
            return Err(LinkError::MissingToken);
        }
        if token_text.contains('/') {
            return Err(LinkError::NotAMeetingPath);
        }
        let token = RoomToken::parse(token_text).map_err(|_| LinkError::MalformedToken)?;
        let fragment = fragment.ok_or(LinkError::MissingKey)?;
        let (key_part, pin_part) = match fragment.split_once('&') {
            Some((k, p)) => (k, Some(p)),
            None => (fragment, None),
        };
        let key_text = key_part.strip_prefix("k=").ok_or(if fragment.is_empty() {
            LinkError::MissingKey
        } else {
            LinkError::UnexpectedFragment
        })?;
        if key_text.is_empty() {
            return Err(LinkError::MissingKey);
        }
        let key = MeetingKey::parse(key_text).map_err(|_| LinkError::MalformedKey)?;
        let pin = match pin_part {
            None => None,
            Some(p) => {
                let text = p.strip_prefix("c=").ok_or(LinkError::UnexpectedFragment)?;
                if !scheme.is_tls() {
                    return Err(LinkError::PinWithoutTls);
                }
                Some(CertPin::parse(text).map_err(|_| LinkError::MalformedPin)?)
            }
        };
        Ok(MeetingLink {
            scheme,
            server: ServerAddr {
                tls: scheme.is_tls(),
                host,
                port,
                pin,
            },
            token,
            key,
        })
    }

    /// The same link written with the `parley://` scheme (TLS servers only).
    pub fn to_app_link(&self) -> Option<String> {
        if !self.server.tls {
            return None;
        }
        Some(self.format_with(Scheme::Parley))
    }

    fn format_with(&self, scheme: Scheme) -> String {
        let mut link = format!(
            "{}://{}/m/{}#k={}",
            scheme.as_str(),
            self.server.authority(),
            self.token.to_text(),
            self.key.to_text()
        );
        if let Some(pin) = &self.server.pin {
            link.push_str("&c=");
            link.push_str(&pin.to_text());
        }
        link
    }
}

impl fmt::Display for MeetingLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_with(self.scheme))
    }
}

impl fmt::Debug for MeetingLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeetingLink")
            .field("scheme", &self.scheme)
            .field("server", &self.server)
            .field("token", &self.token)
            .field("key", &self.key)
            .finish()
    }
}

/// Why a pasted text is not a meeting link. Each message says what is wrong and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Nothing was pasted.
    #[error("The link is empty. Paste the whole invite link you were sent.")]
    Empty,
    /// Longer than any meeting link.
    #[error("That text is far too long to be a meeting link. Paste only the invite link.")]
    TooLong,
    /// Spaces or other characters that cannot be part of a link.
    #[error(
        "The link contains spaces or invisible characters. Copy the link again without surrounding text."
    )]
    Whitespace,
    /// Not `https://`, `parley://` or (local only) `http://`.
    #[error("This is not a Parley meeting link: it must start with https:// or parley://.")]
    WrongScheme,
    /// `http://` to another computer would send everything unencrypted.
    #[error(
        "This link uses http:// to another computer, which is not secure. Ask for an https:// link."
    )]
    InsecureRemote,
    /// `user@` or `user:password@` before the host: never part of a Parley link.
    #[error(
        "The link contains a user name or password before the server name. Parley links never do; ask for a new link."
    )]
    UserInfo,
    /// No server name.
    #[error("The link has no server name. Copy the whole link again.")]
    MissingHost,
    /// The server name has characters a host name cannot have.
    #[error("The server name in the link is not valid. Copy the whole link again.")]
    BadHost,
    /// The port is not a number from 1 to 65535.
    #[error("The port number in the link is not valid. Copy the whole link again.")]
    BadPort,
    /// The path is not `/m/<token>`.
    #[error(
        "This link does not point to a meeting (it should contain /m/). Check you copied the invite link."
    )]
    NotAMeetingPath,
    /// `/m/` with nothing after it.
    #[error("The link is missing the meeting part after /m/. Copy the whole link again.")]
    MissingToken,
    /// The meeting part is cut off or altered.
    #[error("The meeting part of the link is damaged or cut off. Copy the whole link again.")]
    MalformedToken,
    /// A `?…` query: Parley links carry no passcode or other secret in the query.
    #[error(
        "The link has extra parameters after '?'. Parley links never carry a passcode; remove them or ask for a new link."
    )]
    QueryNotAllowed,
    /// No `#k=` meeting key.
    #[error(
        "The link is missing its key (the part starting with #k=). Copy the whole link, including the end."
    )]
    MissingKey,
    /// The `#k=` key is cut off or altered.
    #[error("The link's key (after #k=) is damaged or cut off. Copy the whole link again.")]
    MalformedKey,
    /// A fragment that is not `k=…` (optionally followed by `&c=…`).
    #[error("The end of the link (after #) is not a Parley key. Copy the whole link again.")]
    UnexpectedFragment,
    /// The `&c=` certificate fingerprint is cut off or altered.
    #[error(
        "The link's certificate check (after &c=) is damaged or cut off. Copy the whole link again."
    )]
    MalformedPin,
    /// A certificate fingerprint on an `http://` link, which has no certificate.
    #[error(
        "This link names a certificate but uses http://, which has none. Ask the host for a new link."
    )]
    PinWithoutTls,
    /// A server address was expected, with no path.
    #[error("A server address looks like https://meet.example.org with nothing after it.")]
    NotAServerAddress,
}

impl LinkError {
    /// A stable snake_case name for what is wrong (`missing_key`, `wrong_scheme`, …), for
    /// clients that explain each defect in the person's language.
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::Empty => "empty",
            LinkError::TooLong => "too_long",
            LinkError::Whitespace => "whitespace",
            LinkError::WrongScheme => "wrong_scheme",
            LinkError::InsecureRemote => "insecure_remote",
            LinkError::UserInfo => "user_info",
            LinkError::MissingHost => "missing_host",
            LinkError::BadHost => "bad_host",
            LinkError::BadPort => "bad_port",
            LinkError::NotAMeetingPath => "not_a_meeting_path",
            LinkError::MissingToken => "missing_token",
            LinkError::MalformedToken => "malformed_token",
            LinkError::QueryNotAllowed => "query_not_allowed",
            LinkError::MissingKey => "missing_key",
            LinkError::MalformedKey => "malformed_key",
            LinkError::UnexpectedFragment => "unexpected_fragment",
            LinkError::MalformedPin => "malformed_pin",
            LinkError::PinWithoutTls => "pin_without_tls",
            LinkError::NotAServerAddress => "not_a_server_address",
        }
    }
}

/// Remove what pasting adds: surrounding whitespace, quotes and `<…>`, and line breaks (with
/// the indentation around them) inside a link wrapped by an e-mail program. Any other
/// whitespace or control character inside is an error.
fn clean_pasted(input: &str) -> Result<String, LinkError> {
    let mut t = input.trim();
    loop {
        let before = t;
        for (open, close) in [('<', '>'), ('"', '"'), ('\'', '\''), ('(', ')')] {
            if t.len() >= 2 && t.starts_with(open) && t.ends_with(close) {
                t = t[1..t.len() - 1].trim();
            }
        }
        if t == before {
            break;
        }
    }
    if t.is_empty() {
        return Err(LinkError::Empty);
    }
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' || c == '\n' {
            // Drop the break and any indentation after it; drop trailing spaces before it.
            while out.ends_with([' ', '\t']) {
                out.pop();
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            continue;
        }
        if c.is_whitespace() || c.is_control() || is_invisible(c) {
            return Err(LinkError::Whitespace);
        }
        out.push(c);
    }
    Ok(out)
}

/// Zero-width and direction-changing characters that could hide inside a pasted link.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

fn split_scheme(text: &str) -> Result<(Scheme, &str), LinkError> {
    let (scheme, rest) = text.split_once("://").ok_or(LinkError::WrongScheme)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => Scheme::Https,
        "parley" => Scheme::Parley,
        "http" => Scheme::Http,
        _ => return Err(LinkError::WrongScheme),
    };
    Ok((scheme, rest))
}

fn parse_authority(authority: &str) -> Result<(Host, Option<u16>), LinkError> {
    if authority.contains('@') {
        return Err(LinkError::UserInfo);
    }
    if authority.is_empty() {
        return Err(LinkError::MissingHost);
    }
    let (host_text, port_text) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(LinkError::BadHost)?;
        let v6: Ipv6Addr = inside.parse().map_err(|_| LinkError::BadHost)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(LinkError::BadPort)?),
        };
        return Ok((Host::V6(v6), port.map(parse_port).transpose()?));
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host_text.is_empty() {
        return Err(LinkError::MissingHost);
    }
    let port = port_text.map(parse_port).transpose()?;
    let host = parse_host(host_text)?;
    Ok((host, port))
}

fn parse_port(p: &str) -> Result<u16, LinkError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LinkError::BadPort);
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(LinkError::BadPort),
        Ok(n) => Ok(n),
    }
}

fn parse_host(h: &str) -> Result<Host, LinkError> {
    if h.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return h
            .parse::<Ipv4Addr>()
            .map(Host::V4)
            .map_err(|_| LinkError::BadHost);
    }
    let lower = h.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid {
        return Err(LinkError::BadHost);
    }
    Ok(Host::Domain(name.to_string()))
}

impl From<IpAddr> for Host {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => Host::V4(a),
            IpAddr::V6(a) => Host::V6(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> MeetingLink {
        MeetingLink {
            scheme: Scheme::Https,
            server: ServerAddr {
                tls: true,
                host: Host::Domain("meet.example.org".into()),
                port: None,
                pin: None,
            },
            token: RoomToken::from_bytes([0x11; 16]),
            key: MeetingKey::from_bytes([0x22; 32]),
        }
    }

    #[test]
    fn formats_and_parses_back() {
        let link = sample();
        let text = link.to_string();
        assert!(text.starts_with("https://meet.example.org/m/"), "{text}");
        assert!(text.contains("#k="));
        assert_eq!(MeetingLink::parse(&text).unwrap(), link);
    }

    #[test]
    fn parley_scheme_is_equivalent() {
        let link = sample();
        let app = link.to_app_link().unwrap();
        assert!(app.starts_with("parley://meet.example.org/m/"));
        let parsed = MeetingLink::parse(&app).unwrap();
        assert_eq!(parsed.server, link.server);
        assert_eq!(parsed.token, link.token);
        assert_eq!(parsed.key, link.key);
        assert_eq!(parsed.server.ws_url(), "wss://meet.example.org/ws");
    }

    #[test]
    fn server_side_of_the_link_carries_no_key() {
        let link = sample();
        let key = link.key.to_text();
        assert!(!link.server.ws_url().contains(&key));
        assert!(!link.server.http_base().contains(&key));
        let dbg = format!("{link:?}");
        assert!(
            !dbg.contains(&key) && !dbg.contains(&link.token.to_text()),
            "{dbg}"
        );
    }

    #[test]
    fn pasting_noise_is_removed() {
        let text = sample().to_string();
        let (a, b) = text.split_at(30);
        for noisy in [
            format!("  {text}\n"),
            format!("<{text}>"),
            format!("\"{text}\""),
            format!("{a}\r\n   {b}"),
            format!("{a}\n{b}"),
        ] {
            assert_eq!(MeetingLink::parse(&noisy).unwrap(), sample(), "{noisy:?}");
        }
    }

    #[test]
    fn each_defect_has_its_own_error() {
        let t = RoomToken::from_bytes([0x11; 16]).to_text();
        let k = MeetingKey::from_bytes([0x22; 32]).to_text();
        let cases: Vec<(String, LinkError)> = vec![
            ("".into(), LinkError::Empty),
            ("   ".into(), LinkError::Empty),
            ("x".repeat(3000), LinkError::TooLong),
            (format!("https://h.org/m/{t} #k={k}"), LinkError::Whitespace),
            (
                format!("https://h.org/m/{t}\u{200B}#k={k}"),
                LinkError::Whitespace,
            ),
            (format!("ftp://h.org/m/{t}#k={k}"), LinkError::WrongScheme),
            (format!("file://h.org/m/{t}#k={k}"), LinkError::WrongScheme),
            ("h.org/m/abc".into(), LinkError::WrongScheme),
            (
                format!("http://h.org/m/{t}#k={k}"),
                LinkError::InsecureRemote,
            ),
            (
                format!("https://u:p@h.org/m/{t}#k={k}"),
                LinkError::UserInfo,
            ),
            (format!("https:///m/{t}#k={k}"), LinkError::MissingHost),
            (format!("https://h_x.org/m/{t}#k={k}"), LinkError::BadHost),
            (format!("https://h.org:0/m/{t}#k={k}"), LinkError::BadPort),
            (
                format!("https://h.org:99999/m/{t}#k={k}"),
                LinkError::BadPort,
            ),
            (
                format!("https://h.org/x/{t}#k={k}"),
                LinkError::NotAMeetingPath,
            ),
            (format!("https://h.org/m/#k={k}"), LinkError::MissingToken),
            (format!("https://h.org#k={k}"), LinkError::MissingToken),
            (
                format!("https://h.org/m/abc#k={k}"),
                LinkError::MalformedToken,
            ),
            (
                format!("https://h.org/m/{t}?pwd=123#k={k}"),
                LinkError::QueryNotAllowed,
            ),
            (format!("https://h.org/m/{t}"), LinkError::MissingKey),
            (format!("https://h.org/m/{t}#k="), LinkError::MissingKey),
            (
                format!("https://h.org/m/{t}#k=short"),
                LinkError::MalformedKey,
            ),
            (
                format!("https://h.org/m/{t}#x=1"),
                LinkError::UnexpectedFragment,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(MeetingLink::parse(&input), Err(want), "{input:?}");
            // Every error reads as a sentence that says what to do.
            assert!(want.to_string().ends_with('.'));
        }
    }

    #[test]
    fn http_is_accepted_for_loopback_only() {
        let t = RoomToken::from_bytes([0x11; 16]).to_text();
        let k = MeetingKey::from_bytes([0x22; 32]).to_text();
        for host in ["127.0.0.1:8080", "localhost:9", "[::1]:4000"] {
            let link = MeetingLink::parse(&format!("http://{host}/m/{t}#k={k}")).unwrap();
            assert!(!link.server.tls);
            assert!(link.server.ws_url().starts_with("ws://"));
            assert!(link.to_app_link().is_none());
        }
    }

    #[test]
    fn a_pinned_link_names_the_certificate_after_the_key() {
        let pin = CertPin::from_bytes([0x33; 32]);
        let mut link = sample();
        link.server.host = Host::V4(Ipv4Addr::new(192, 168, 1, 20));
        link.server.port = Some(7443);
        link.server = link.server.pinned(pin.clone());
        let text = link.to_string();
        assert!(
            text.ends_with(&format!("&c={}", pin.to_text())),
            "the pin follows the key in the fragment: {text}"
        );
        let parsed = MeetingLink::parse(&text).unwrap();
        assert_eq!(parsed.server.pin, Some(pin.clone()));
        assert_eq!(parsed, link);
        // The pin never reaches the server: it is in the fragment, like the key.
        assert!(!parsed.server.ws_url().contains(&pin.to_text()));
        assert!(!format!("{parsed:?}").contains(&pin.to_text()));
        assert!(parsed.to_app_link().unwrap().ends_with(&pin.to_text()));
    }

    #[test]
    fn a_damaged_or_misplaced_pin_is_refused() {
        let t = RoomToken::from_bytes([0x11; 16]).to_text();
        let k = MeetingKey::from_bytes([0x22; 32]).to_text();
        let c = CertPin::from_bytes([0x33; 32]).to_text();
        let base = format!("https://10.0.0.2:7443/m/{t}");
        let cases = [
            (
                format!("{base}#k={k}&c={}", &c[..20]),
                LinkError::MalformedPin,
            ),
            (format!("{base}#k={k}&c={c}x"), LinkError::MalformedPin),
            (format!("{base}#k={k}&c="), LinkError::MalformedPin),
            (format!("{base}#k={k}&x={c}"), LinkError::UnexpectedFragment),
            (format!("{base}#k={k}&c={c}&c={c}"), LinkError::MalformedPin),
            (format!("{base}#c={c}&k={k}"), LinkError::UnexpectedFragment),
            (
                format!("http://127.0.0.1:7443/m/{t}#k={k}&c={c}"),
                LinkError::PinWithoutTls,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(MeetingLink::parse(&text), Err(want), "{text}");
        }
    }

    #[test]
    fn server_addresses() {
        let s = ServerAddr::parse("https://meet.example.org:8443/").unwrap();
        assert_eq!(s.ws_url(), "wss://meet.example.org:8443/ws");
        assert_eq!(
            ServerAddr::parse("http://10.0.0.1"),
            Err(LinkError::InsecureRemote)
        );
        assert_eq!(
            ServerAddr::parse("https://h.org/m/x"),
            Err(LinkError::NotAServerAddress)
        );
    }

    fn arb_host() -> impl Strategy<Value = Host> {
        prop_oneof![
            "[a-z][a-z0-9]{0,10}(\\.[a-z][a-z0-9-]{0,8}[a-z0-9]){0,3}".prop_map(Host::Domain),
            any::<[u8; 4]>().prop_map(|b| Host::V4(Ipv4Addr::from(b))),
            any::<[u8; 16]>().prop_map(|b| Host::V6(Ipv6Addr::from(b))),
        ]
    }

    proptest! {
        #[test]
        fn any_link_round_trips(
            host in arb_host(),
            port in proptest::option::of(1u16..),
            token in any::<[u8; 16]>(),
            key in any::<[u8; 32]>(),
            pin in proptest::option::of(any::<[u8; 32]>()),
            parley in any::<bool>(),
        ) {
            let mut link = MeetingLink::new(
                ServerAddr { tls: true, host, port, pin: pin.map(CertPin::from_bytes) },
                RoomToken::from_bytes(token),
                MeetingKey::from_bytes(key),
            );
            if parley { link.scheme = Scheme::Parley; }
            let text = link.to_string();
            prop_assert_eq!(MeetingLink::parse(&text).unwrap(), link);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
            let _ = MeetingLink::parse(&s);
        }

        #[test]
        fn mutated_links_never_panic_and_never_lose_the_key(
            pos in 0usize..120, byte in any::<u8>()
        ) {
            let mut bytes = sample().to_string().into_bytes();
            let pos = pos % bytes.len();
            bytes[pos] = byte;
            if let Ok(text) = String::from_utf8(bytes)
                && let Ok(link) = MeetingLink::parse(&text)
            {
                // If it still parses, the key came from the fragment, not elsewhere.
                let expected = format!("#k={}", link.key.to_text());
                prop_assert!(text.contains(&expected));
            }
        }
    }
}

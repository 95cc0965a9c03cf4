//! Server configuration: a TOML file, overridden by flags. With nothing configured the server
//! runs for this computer only: plain WebSocket on loopback, meetings creatable without a token.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Who may create meetings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Anyone on this computer (loopback only): the app's embedded server and development.
    Local,
    /// Only callers with a host API token from the configuration.
    Standalone,
}

/// TLS certificate and key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
}

/// A certificate and its key held in memory only: what the desktop app makes for a meeting it
/// hosts for other computers. Nothing is read from or written to a file; invite links pin the
/// certificate (`&c=`), so no certificate authority is needed.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsIdentity {
    cert_der: Vec<u8>,
    key_der: zeroize::Zeroizing<Vec<u8>>,
}

impl TlsIdentity {
    /// A fresh self-signed certificate (ECDSA P-256) with a fresh key.
    pub fn self_signed() -> Result<Self, String> {
        let certified = rcgen::generate_simple_self_signed(vec!["parley.invalid".to_string()])
            .map_err(|e| e.to_string())?;
        Ok(TlsIdentity {
            cert_der: certified.cert.der().to_vec(),
            key_der: zeroize::Zeroizing::new(certified.key_pair.serialize_der()),
        })
    }

    /// The certificate, DER: what clients pin.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The private key, PKCS #8 DER.
    pub(crate) fn key_der(&self) -> &[u8] {
        &self.key_der
    }
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_der", &format!("[{} bytes]", self.cert_der.len()))
            .field("key_der", &"[redacted]")
            .finish()
    }
}

/// Default largest file participants may send (`max_file_mib`), in MiB.
pub const DEFAULT_MAX_FILE_MIB: u64 = 16;
/// Highest `max_file_mib`: files travel through the signaling connection, sealed.
pub const MAX_FILE_MIB: u64 = 256;

/// Longest `reconnect_grace_secs`: a place kept longer holds a seat nobody uses.
pub const MAX_RECONNECT_GRACE_SECS: u64 = 300;

fn default_breakout_countdown() -> u64 {
    30
}

/// Limits that protect the server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Most meetings at once.
    pub max_rooms: usize,
    /// Most signaling connections at once.
    pub max_connections: usize,
    /// Most signaling connections from one address (IPv6: one /64) at once. TCP connections
    /// that have not become signaling yet are bounded too: at most a quarter more than these.
    pub max_connections_per_address: usize,
    /// Sustained messages per second per connection.
    pub messages_per_second: u32,
    /// Burst above that.
    pub burst: u32,
    /// Highest capacity a host may give a meeting.
    pub max_room_capacity: u32,
    /// Most people in one waiting room.
    pub max_waiting: usize,
    /// Messages queued for one slow client before it is disconnected.
    pub send_queue: usize,
    /// Bytes of messages not yet complete that all connections together may make the server
    /// hold (each connection: 64 KiB before it is in the encryption group, 1.5 MiB after).
    pub max_unfinished_bytes: usize,
    /// Addresses remembered by the wrong-passcode limiter.
    pub passcode_limiter_entries: usize,
    /// Hours an empty meeting is kept before it expires.
    pub empty_room_hours: u64,
    /// Seconds a participant whose connection dropped keeps their place (role, mute, stage,
    /// encryption) so they can reconnect; 0 to 300. 0: they leave at once.
    pub reconnect_grace_secs: u64,
    /// Largest file participants may send when a host allows file transfer, in MiB (0 to
    /// 256; 0: none). Files travel sealed through the signaling connection.
    pub max_file_mib: u64,
    /// Seconds between a host closing the breakout rooms (or their time running out) and
    /// everyone being back in the main meeting; 0 to 300 (everyone sees the countdown).
    pub breakout_countdown_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_rooms: 10_000,
            max_connections: 20_000,
            max_connections_per_address: 2_500,
            messages_per_second: 20,
            burst: 60,
            max_room_capacity: parley_proto::policy::MAX_CAPACITY,
            max_waiting: 1_000,
            send_queue: 1_024,
            max_unfinished_bytes: 128 << 20,
            passcode_limiter_entries: 65_536,
            empty_room_hours: 24,
            reconnect_grace_secs: 20,
            max_file_mib: DEFAULT_MAX_FILE_MIB,
            breakout_countdown_secs: default_breakout_countdown(),
        }
    }
}

/// Most media workers a server may start.
pub const MAX_MEDIA_WORKERS: usize = 256;

/// Participants of one meeting a media worker takes before the meeting spreads (see
/// [`Config::media_spread_after`]).
pub const DEFAULT_MEDIA_SPREAD_AFTER: usize = 32;

/// Most voices a server may forward at once per meeting (`loudest_voices`).
pub const MAX_LOUDEST_VOICES: usize = 16;

/// The whole configuration.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// UDP address for media (WebRTC). Its IP is announced to clients as the ICE candidate, so
    /// it must be one they can reach (not 0.0.0.0). Default: the IP of `listen`, on a free
    /// port; a server that listens on every address (0.0.0.0 or ::) must set it.
    pub media_listen: Option<SocketAddr>,
    /// Also listen for media on this machine's own network addresses (of `media_listen`'s
    /// family, at most 4), on the same ports, each announced as a further ICE candidate. For a
    /// server on loopback: a browser that gathers no loopback candidates (Firefox) can reach
    /// media on the same machine only that way. The ports then answer on those addresses too,
    /// only to ICE checks that carry a participant's credentials. The app's own server for this
    /// computer turns it on.
    pub media_on_interfaces: bool,
    /// Media workers, each on its own core and UDP port: worker *i* listens on
    /// `media_listen`'s port + *i*, so a firewall opens that many ports from `media_listen`'s
    /// (with port 0, each picks a free port). `None`: one per core available to the process.
    pub media_workers: Option<usize>,
    /// Participants of one meeting a media worker takes before the meeting's next participants
    /// go to the least loaded worker (each frame is then handed once to every other worker
    /// carrying the meeting). Small meetings stay on one worker; a large one uses every core.
    pub media_spread_after: usize,
    /// Voices of a meeting forwarded at once: the loudest current speakers, chosen by the
    /// audio level clients send with each audio packet (outside the encrypted payload), with
    /// hysteresis so nobody is cut mid-word. Others' audio is not sent to anyone.
    pub loudest_voices: usize,
    /// Who may create meetings.
    pub mode: Mode,
    /// How invite links name this server, e.g. `https://meet.example.org`. Defaults to the
    /// listen address.
    pub public_url: Option<String>,
    /// Host API tokens that may create meetings in standalone mode.
    pub api_tokens: Vec<String>,
    /// A file with one host API token per line (instead of, or besides, `api_tokens`).
    pub api_tokens_file: Option<PathBuf>,
    /// TLS; without it the server only listens on loopback.
    pub tls: Option<TlsConfig>,
    /// TLS from a certificate in memory (set by code that embeds the server, never from a
    /// file); used instead of `tls`.
    #[serde(skip)]
    pub tls_identity: Option<TlsIdentity>,
    /// STUN/TURN servers admitted participants gather ICE candidates with (coturn is the TURN
    /// server a deployment would run). None by default: the SFU's own address is enough when
    /// participants can reach it directly.
    pub ice_servers: Vec<parley_proto::IceServer>,
    /// Protective limits.
    pub limits: LimitsConfig,
    /// The browser guest (`make web` builds it into `web/dist`): with it, an invite link
    /// opened in a browser offers to join there, end-to-end encrypted like the app. Without
    /// it, the page only says to open the link in the Parley app.
    pub guest_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("media_listen", &self.media_listen)
            .field("media_on_interfaces", &self.media_on_interfaces)
            .field("media_workers", &self.media_workers)
            .field("media_spread_after", &self.media_spread_after)
            .field("loudest_voices", &self.loudest_voices)
            .field("mode", &self.mode)
            .field("public_url", &self.public_url)
            .field(
                "api_tokens",
                &format!("[{} redacted]", self.api_tokens.len()),
            )
            .field("api_tokens_file", &self.api_tokens_file)
            .field("tls", &self.tls)
            .field("tls_identity", &self.tls_identity)
            .field("ice_servers", &self.ice_servers)
            .field("limits", &self.limits)
            .field("guest_dir", &self.guest_dir)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7880)),
            media_listen: None,
            media_on_interfaces: false,
            media_workers: None,
            media_spread_after: DEFAULT_MEDIA_SPREAD_AFTER,
            loudest_voices: crate::speakers::DEFAULT_LOUDEST_VOICES,
            mode: Mode::Local,
            public_url: None,
            api_tokens: Vec::new(),
            api_tokens_file: None,
            tls: None,
            tls_identity: None,
            ice_servers: Vec::new(),
            limits: LimitsConfig::default(),
            guest_dir: None,
        }
    }
}

/// Why a configuration cannot be used. Each message says what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An `[[ice_servers]]` entry is not usable.
    #[error(
        "an [[ice_servers]] entry is not usable: give 1 to 4 urls starting with stun:, stuns:, turn: or turns: (at most 8 entries, 256 characters each)"
    )]
    IceServers,
    /// The server listens on every address and no media address is set.
    #[error(
        "listen is {0}, every address: set media_listen to the IP clients reach this server at (e.g. media_listen = \"203.0.113.5:40000\"), since it is announced to them"
    )]
    MediaListenNeeded(SocketAddr),
    /// `media_workers` is out of range.
    #[error("media_workers must be 1 to {MAX_MEDIA_WORKERS} (or left out: one per core)")]
    MediaWorkers,
    /// `media_spread_after` is 0.
    #[error(
        "media_spread_after must be at least 1 (participants of a meeting per media worker before it spreads)"
    )]
    MediaSpreadAfter,
    /// `loudest_voices` is out of range.
    #[error(
        "loudest_voices must be 1 to {MAX_LOUDEST_VOICES} (voices of a meeting forwarded at once)"
    )]
    LoudestVoices,
    /// `reconnect_grace_secs` is out of range.
    #[error(
        "reconnect_grace_secs must be 0 to {MAX_RECONNECT_GRACE_SECS} (seconds a dropped participant's place is kept)"
    )]
    ReconnectGrace,
    /// `breakout_countdown_secs` is out of range.
    #[error(
        "breakout_countdown_secs must be 0 to {MAX_RECONNECT_GRACE_SECS} (seconds before everyone is back from the breakout rooms)"
    )]
    BreakoutCountdown,
    /// `max_file_mib` is out of range.
    #[error(
        "max_file_mib must be 0 to {MAX_FILE_MIB} (largest file participants may send, in MiB)"
    )]
    MaxFile,
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("the configuration file {path} is not valid: {message}")]
    Parse {
        /// Which file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// Plain WebSocket on a public address would expose everything.
    #[error(
        "refusing to listen on {0} without TLS: set [tls] cert and key in the configuration, or listen on 127.0.0.1"
    )]
    PlainOnPublicAddress(SocketAddr),
    /// Local mode lets anyone create meetings, so it is for loopback only.
    #[error(
        "mode = \"local\" lets anyone who can connect create meetings, so it only listens on loopback; use mode = \"standalone\" with api_tokens to serve {0}"
    )]
    LocalOnPublicAddress(SocketAddr),
    /// Standalone mode with no token would let nobody create meetings.
    #[error(
        "mode = \"standalone\" needs at least one host API token: set api_tokens or api_tokens_file"
    )]
    NoApiTokens,
    /// A token too short to resist guessing.
    #[error("host API tokens must be at least 24 characters long")]
    WeakApiToken,
    /// `public_url` is not an https:// (or loopback http://) address.
    #[error("public_url must look like https://meet.example.org: {0}")]
    PublicUrl(parley_proto::LinkError),
}

impl Config {
    /// Read and check a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parse TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Load the tokens file, if any, and check that the whole makes sense.
    pub fn finish(mut self) -> Result<Self, ConfigError> {
        if let Some(path) = &self.api_tokens_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            self.api_tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string),
            );
        }
        let loopback = self.listen.ip().is_loopback();
        if self.tls.is_none() && self.tls_identity.is_none() && !loopback {
            return Err(ConfigError::PlainOnPublicAddress(self.listen));
        }
        if self.mode == Mode::Local && !loopback {
            return Err(ConfigError::LocalOnPublicAddress(self.listen));
        }
        if self.mode == Mode::Standalone && self.api_tokens.is_empty() {
            return Err(ConfigError::NoApiTokens);
        }
        if self.api_tokens.iter().any(|t| t.len() < 24) {
            return Err(ConfigError::WeakApiToken);
        }
        if let Some(url) = &self.public_url {
            parley_proto::ServerAddr::parse(url).map_err(ConfigError::PublicUrl)?;
        }
        if self.ice_servers.len() > parley_proto::message::MAX_ICE_SERVERS
            || self.ice_servers.iter().any(|s| !s.is_valid())
        {
            return Err(ConfigError::IceServers);
        }
        if self
            .media_workers
            .is_some_and(|n| n == 0 || n > MAX_MEDIA_WORKERS)
        {
            return Err(ConfigError::MediaWorkers);
        }
        if self.media_spread_after == 0 {
            return Err(ConfigError::MediaSpreadAfter);
        }
        if self.loudest_voices == 0 || self.loudest_voices > MAX_LOUDEST_VOICES {
            return Err(ConfigError::LoudestVoices);
        }
        if self.limits.reconnect_grace_secs > MAX_RECONNECT_GRACE_SECS {
            return Err(ConfigError::ReconnectGrace);
        }
        if self.limits.breakout_countdown_secs > MAX_RECONNECT_GRACE_SECS {
            return Err(ConfigError::BreakoutCountdown);
        }
        if self.limits.max_file_mib > MAX_FILE_MIB {
            return Err(ConfigError::MaxFile);
        }
        if self.media_listen.is_none() && self.listen.ip().is_unspecified() {
            return Err(ConfigError::MediaListenNeeded(self.listen));
        }
        Ok(self)
    }

    /// The UDP address media workers start from: `media_listen`, or the IP of `listen` on a
    /// free port.
    pub fn media_listen(&self) -> SocketAddr {
        self.media_listen
            .unwrap_or_else(|| SocketAddr::new(self.listen.ip(), 0))
    }

    /// The IPs media workers listen on besides `media_listen`'s (see `media_on_interfaces`).
    pub fn media_also(&self) -> Vec<std::net::IpAddr> {
        if !self.media_on_interfaces {
            return Vec::new();
        }
        let main = self.media_listen().ip();
        crate::interfaces::reachable_like(main, 4)
            .into_iter()
            .filter(|ip| *ip != main)
            .collect()
    }

    /// How many media workers to start: the setting, or one per core available.
    pub fn media_workers(&self) -> usize {
        self.media_workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_MEDIA_WORKERS)
        })
    }

    /// An example configuration file with every setting and its default.
    pub fn example() -> &'static str {
        include_str!("../parley-server.example.toml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_follows_the_listen_address_unless_set() {
        let v6 = Config {
            listen: "[::1]:7880".parse().unwrap(),
            ..Config::default()
        }
        .finish()
        .unwrap();
        assert_eq!(v6.media_listen(), "[::1]:0".parse().unwrap());
        let set = Config {
            listen: "[::1]:7880".parse().unwrap(),
            media_listen: Some("127.0.0.1:40000".parse().unwrap()),
            ..Config::default()
        };
        assert_eq!(set.media_listen(), "127.0.0.1:40000".parse().unwrap());
        let everywhere = Config {
            listen: "0.0.0.0:443".parse().unwrap(),
            tls: Some(TlsConfig {
                cert: "c.pem".into(),
                key: "k.pem".into(),
            }),
            mode: Mode::Standalone,
            api_tokens: vec!["a".repeat(32)],
            ..Config::default()
        };
        assert!(matches!(
            everywhere.clone().finish(),
            Err(ConfigError::MediaListenNeeded(_))
        ));
        assert!(
            Config {
                media_listen: Some("203.0.113.5:40000".parse().unwrap()),
                ..everywhere
            }
            .finish()
            .is_ok()
        );
    }

    #[test]
    fn default_is_local_loopback_without_tls() {
        let c = Config::default().finish().unwrap();
        assert!(c.listen.ip().is_loopback());
        assert_eq!(c.mode, Mode::Local);
        assert!(c.tls.is_none());
    }

    #[test]
    fn the_example_file_parses_and_matches_the_defaults() {
        let c = Config::from_toml(Config::example()).unwrap();
        assert_eq!(c.limits, LimitsConfig::default());
        assert_eq!(c.listen, Config::default().listen);
    }

    #[test]
    fn unsafe_combinations_are_refused() {
        let public = Config {
            listen: "0.0.0.0:443".parse().unwrap(),
            ..Default::default()
        };
        assert!(matches!(
            public.clone().finish(),
            Err(ConfigError::PlainOnPublicAddress(_))
        ));
        let with_tls = Config {
            tls: Some(TlsConfig {
                cert: "c".into(),
                key: "k".into(),
            }),
            ..public
        };
        assert!(matches!(
            with_tls.clone().finish(),
            Err(ConfigError::LocalOnPublicAddress(_))
        ));
        let standalone = Config {
            mode: Mode::Standalone,
            ..with_tls
        };
        assert!(matches!(
            standalone.clone().finish(),
            Err(ConfigError::NoApiTokens)
        ));
        let weak = Config {
            api_tokens: vec!["short".into()],
            ..standalone.clone()
        };
        assert!(matches!(weak.finish(), Err(ConfigError::WeakApiToken)));
        let ok = Config {
            api_tokens: vec!["x".repeat(32)],
            media_listen: Some("203.0.113.5:40000".parse().unwrap()),
            ..standalone
        };
        assert!(ok.finish().is_ok());
    }

    #[test]
    fn media_worker_settings_out_of_range_are_refused_with_their_names() {
        for (toml, want) in [
            ("media_workers = 0", "media_workers"),
            ("media_workers = 257", "media_workers"),
            ("media_spread_after = 0", "media_spread_after"),
            ("loudest_voices = 0", "loudest_voices"),
            ("loudest_voices = 17", "loudest_voices"),
            (
                "[limits]\nreconnect_grace_secs = 301",
                "reconnect_grace_secs",
            ),
        ] {
            let e = Config::from_toml(toml).unwrap().finish().unwrap_err();
            assert!(e.to_string().contains(want), "{toml}: {e}");
        }
        let c = Config::from_toml("media_workers = 2\nmedia_spread_after = 1\nloudest_voices = 5")
            .unwrap();
        assert_eq!((c.media_workers(), c.media_spread_after), (2, 1));
        assert_eq!(c.loudest_voices, 5);
        assert_eq!(Config::default().loudest_voices, 3);
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(Config::from_toml("lisen = \"127.0.0.1:1\"").is_err());
    }

    #[test]
    fn debug_hides_tokens() {
        let c = Config {
            api_tokens: vec!["supersecrettokenvalue1234567".into()],
            ice_servers: vec![parley_proto::IceServer {
                urls: vec!["turn:turn.example.org:3478".into()],
                username: Some("turnuser".into()),
                credential: Some("turnpassword".into()),
            }],
            ..Default::default()
        };
        let d = format!("{c:?}");
        assert!(
            !d.contains("supersecret") && !d.contains("turnpassword") && !d.contains("turnuser")
        );
        assert!(d.contains("turn.example.org"));
    }

    #[test]
    fn ice_servers_are_read_and_bad_ones_refused() {
        let ok = Config::from_toml(
            "[[ice_servers]]\nurls = [\"stun:stun.example.org:3478\"]\n\
             [[ice_servers]]\nurls = [\"turn:t.example.org:3478?transport=tcp\"]\nusername = \"u\"\ncredential = \"p\"\n",
        )
        .unwrap()
        .finish()
        .unwrap();
        assert_eq!(ok.ice_servers.len(), 2);
        assert_eq!(ok.ice_servers[1].username.as_deref(), Some("u"));
        for bad in [
            "[[ice_servers]]\nurls = []\n",
            "[[ice_servers]]\nurls = [\"http://x\"]\n",
            "[[ice_servers]]\nurls = [\"turn:a b\"]\n",
        ] {
            let c = Config::from_toml(bad).unwrap();
            assert!(matches!(c.finish(), Err(ConfigError::IceServers)), "{bad}");
        }
    }
}

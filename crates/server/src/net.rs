//! The network edge: TCP (and TLS) accept loop, HTTP routes, and one task per signaling
//! WebSocket that feeds frames to its [`Session`] and writes what the rooms queue for it.
//!
//! Routes: `GET /ws` (signaling), `POST /api/meetings` (create a meeting), `GET /healthz`, and
//! `GET /m/{token}` (a plain page for someone who opened an invite in a browser).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use parley_proto::api::{ApiError, CreateMeeting, MAX_API_BODY_BYTES};
use parley_proto::message::{MAX_MLS_MESSAGE_BYTES, MESSAGE_PART_BYTES};
use parley_proto::{ErrorKind, ServerMessage};
use subtle::ConstantTimeEq;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::config::{Config, Mode};
use crate::hub::{Hub, RoomEntry};
use crate::link::{ConnLink, Outbound};
use crate::meter::{Metered, ReadMeter};
use crate::room::{ConnId, Input};
use crate::session::{Session, SessionLimits, Step};

/// How often the server pings an idle connection.
pub const PING_INTERVAL: Duration = Duration::from_secs(15);
/// A connection silent for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Time allowed from connecting to sending `join`.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed for one write to a client before it counts as stuck.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most queued frames written before one flush.
const WRITE_BATCH: usize = 64;
/// Bytes written (about) before one flush and a turn for other connections.
const WRITE_BATCH_BYTES: usize = 4 * 1024;
/// Time allowed for the TLS handshake and the HTTP request head.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a connection's HTTP requests and responses in all (before any upgrade).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The peer's socket address, attached to every request (never logged).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}. Is another program using that port?")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate or key could not be loaded.
    #[error("cannot load the TLS certificate or key: {0}")]
    Tls(String),
}

/// Raise this process's open-file limit to its hard limit (every connection is a file; the
/// usual soft limit of 1,024 is far below a server's connection limit). Returns the limit now
/// in force, `None` if it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read or write the struct passed, which lives here.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return None;
        }
        if r.rlim_cur < r.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                r = raised;
            }
        }
    }
    Some(r.rlim_cur)
}

/// A bound server, ready to [`run`](Server::run). Also what the desktop app embeds.
pub struct Server {
    listener: TcpListener,
    hub: Arc<Hub>,
    tls: Option<TlsAcceptor>,
    router: Router,
}

impl Server {
    /// Check `config`, load TLS material and bind the listening socket.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        let config = config.finish()?;
        let wanted = config.limits.max_connections + config.limits.max_connections / 4 + 64;
        match raise_open_file_limit() {
            Some(n) if n < wanted as u64 => tracing::warn!(
                open_files = n,
                wanted,
                "the open-file limit is below what max_connections needs: raise it (e.g. LimitNOFILE in the systemd unit) or lower max_connections"
            ),
            _ => {}
        }
        let tls = match (&config.tls_identity, &config.tls) {
            (Some(identity), _) => Some(tls_acceptor(
                vec![identity.certificate_der().to_vec().into()],
                rustls::pki_types::PrivatePkcs8KeyDer::from(identity.key_der().to_vec()).into(),
            )?),
            (None, Some(t)) => Some(load_tls(&t.cert, &t.key)?),
            (None, None) => None,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        // With port 0 the system picked one: the hub knows the real address (it is this
        // server's own web origin).
        let mut config = config;
        if let Ok(bound) = listener.local_addr() {
            config.listen = bound;
        }
        let media = config.media_listen();
        let also = config.media_also();
        let workers = config.media_workers();
        let (spread, voices) = (config.media_spread_after, config.loudest_voices);
        let hub = Hub::new(config);
        let sfu = crate::sfu::start(media, &also, workers, spread, voices)
            .await
            .map_err(|source| StartError::Bind {
                addr: media,
                source,
            })?;
        hub.attach_sfu(sfu);
        let router = router(hub.clone());
        Ok(Server {
            listener,
            hub,
            tls,
            router,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        // Invariant: a bound TCP listener always has a local address.
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The UDP address of the SFU's first media worker.
    pub fn media_addr(&self) -> Option<SocketAddr> {
        self.hub.media_addr()
    }

    /// The UDP addresses of all media workers (what a firewall must open).
    pub fn media_addrs(&self) -> Vec<SocketAddr> {
        self.hub.media_addrs()
    }

    /// Whether the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The hub (meetings), for embedding and tests.
    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// Serve until the task is dropped.
    pub async fn run(self) {
        let hub = self.hub.clone();
        tokio::spawn(async move {
            // Every second: places kept for those reconnecting run out; every minute: empty
            // meetings expire.
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            for n in 0u64.. {
                tick.tick().await;
                hub.tick(Instant::now());
                if n % 60 == 59 {
                    let n = hub.expire_idle(Instant::now());
                    if n > 0 {
                        tracing::info!(expired = n, "idle meetings expired");
                    }
                }
            }
        });
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and similar: back off briefly, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Every TCP connection holds a slot, idle ones and half-done handshakes too, so
            // neither one address nor all of them together can hold sockets without limit.
            if !self.hub.tcp_opened(peer.ip()) {
                tracing::debug!("connection refused: at the connection limit");
                drop(stream);
                continue;
            }
            let router = self.router.clone();
            let tls = self.tls.clone();
            let hub = self.hub.clone();
            tokio::spawn(async move {
                let meter = ReadMeter::new(hub.read_budget().clone(), Instant::now());
                serve_tcp(stream, peer, tls, router, meter).await;
                hub.tcp_closed(peer.ip());
            });
        }
    }
}

async fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    router: Router,
    meter: Arc<ReadMeter>,
) {
    let _ = stream.set_nodelay(true);
    let for_requests = meter.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(PeerAddr(peer));
        // Each request's head is read whole by now (hyper bounds it); count afresh from here.
        for_requests.reset();
        req.extensions_mut().insert(for_requests.clone());
        let mut r = router.clone();
        async move { tower::Service::call(&mut r, req).await }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .max_buf_size(MAX_API_BODY_BYTES * 2);
    // The HTTP part of a connection (requests and their responses, up to a WebSocket upgrade,
    // which then runs on its own with its own timeouts) has a time limit in all: a client that
    // never reads its response cannot hold the connection.
    let result = match tls {
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(s)) => {
                    tokio::time::timeout(
                        HTTP_TIMEOUT,
                        http.serve_connection(TokioIo::new(Metered::new(s, meter)), svc)
                            .with_upgrades(),
                    )
                    .await
                }
                _ => return,
            }
        }
        None => {
            tokio::time::timeout(
                HTTP_TIMEOUT,
                http.serve_connection(TokioIo::new(Metered::new(stream, meter)), svc)
                    .with_upgrades(),
            )
            .await
        }
    };
    match result {
        Ok(Err(e)) => tracing::debug!(error = %e, "http connection ended with an error"),
        Err(_) => tracing::debug!("http connection timed out"),
        Ok(Ok(())) => {}
    }
}

fn load_tls(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, StartError> {
    let err = |what: &str, p: &std::path::Path, e: &dyn std::fmt::Display| {
        StartError::Tls(format!("{what} {}: {e}", p.display()))
    };
    let cert_pem = std::fs::read(cert).map_err(|e| err("cannot read", cert, &e))?;
    let key_pem = std::fs::read(key).map_err(|e| err("cannot read", key, &e))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| err("bad certificate in", cert, &e))?;
    if certs.is_empty() {
        return Err(err("no certificate in", cert, &"empty"));
    }
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| err("bad key in", key, &e))?
        .ok_or_else(|| err("no private key in", key, &"empty"))?;
    tls_acceptor(certs, key_der)
}

fn tls_acceptor(
    certs: Vec<rustls::pki_types::CertificateDer<'static>>,
    key_der: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, StartError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The HTTP routes over `hub`.
pub fn router(hub: Arc<Hub>) -> Router {
    let guest = hub.config().guest_dir.as_deref().and_then(|dir| {
        crate::guest::GuestFiles::load(dir)
            .map_err(|e| tracing::error!(%e, "the browser guest is not offered"))
            .ok()
            .map(Arc::new)
    });
    let r = Router::new()
        .route("/ws", get(ws_upgrade))
        .route("/api/meetings", post(create_meeting))
        .route("/healthz", get(healthz));
    let r = match guest {
        Some(g) => {
            let files = g.clone();
            r.route("/m/{token}", get(move || async move { g.page() }))
                .route(
                    "/guest/{*path}",
                    get(
                        move |axum::extract::Path(path): axum::extract::Path<String>,
                              headers: axum::http::HeaderMap| async move {
                            files.file(&path, headers.get(axum::http::header::ACCEPT_ENCODING))
                        },
                    ),
                )
        }
        None => r.route("/m/{token}", get(invite_page)),
    };
    r.fallback(not_found).with_state(hub)
}

fn api_error(status: StatusCode, kind: ErrorKind) -> Response {
    (status, axum::Json(ApiError::new(kind))).into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found\n").into_response()
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
        .into_response()
}

async fn invite_page() -> Response {
    // The meeting key is in the link's #fragment, which browsers never send: this page cannot
    // and does not see it. It only tells the person what to do.
    let html = "<!doctype html><meta charset=utf-8><title>Parley meeting</title>\
        <p>This is an invitation to a Parley meeting.</p>\
        <p>Open the Parley app and paste the whole link (including the part after #) \
        into \"Join a meeting\".</p>";
    let mut r = Response::new(Body::from(html));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn authorised(config: &Config, peer: SocketAddr, headers: &HeaderMap) -> bool {
    match config.mode {
        Mode::Local => peer.ip().is_loopback(),
        Mode::Standalone => {
            let Some(given) = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
            else {
                return false;
            };
            // Compare with every token so the time taken does not depend on which matched.
            config.api_tokens.iter().fold(false, |ok, t| {
                ok | bool::from(t.as_bytes().ct_eq(given.as_bytes()))
            })
        }
    }
}

/// Whether a WebSocket upgrade's `Origin` may open signaling: native clients send none; a
/// browser page may only if it was served by this server. Any other page (another site, or a
/// name rebound to this server's address) is refused, so a visitor's browser cannot be used to
/// reach a meeting server on their network.
fn origin_allowed(config: &Config, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    own_origins(config)
        .iter()
        .any(|own| own.eq_ignore_ascii_case(origin))
}

/// The origins of pages this server serves: its public URL if configured, else its listening
/// address (and `localhost` when that is loopback).
fn own_origins(config: &Config) -> Vec<String> {
    if let Some(url) = &config.public_url {
        // Invariant: `Config::finish` checked it parses; the origin is scheme, host and port.
        return parley_proto::ServerAddr::parse(url)
            .map(|a| vec![a.http_base()])
            .unwrap_or_default();
    }
    let scheme = if config.tls.is_some() || config.tls_identity.is_some() {
        "https"
    } else {
        "http"
    };
    let port = config.listen.port();
    let mut own = vec![match config.listen {
        SocketAddr::V4(a) => format!("{scheme}://{}:{port}", a.ip()),
        SocketAddr::V6(a) => format!("{scheme}://[{}]:{port}", a.ip()),
    }];
    if config.listen.ip().is_loopback() {
        own.push(format!("{scheme}://localhost:{port}"));
    }
    own
}

async fn create_meeting(State(hub): State<Arc<Hub>>, req: Request) -> Response {
    let Some(PeerAddr(peer)) = req.extensions().get::<PeerAddr>().copied() else {
        return api_error(StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Internal);
    };
    if !authorised(hub.config(), peer, req.headers()) {
        return api_error(StatusCode::UNAUTHORIZED, ErrorKind::Unauthorized);
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_API_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return api_error(StatusCode::PAYLOAD_TOO_LARGE, ErrorKind::TooLarge),
    };
    let create: CreateMeeting = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(_) => return api_error(StatusCode::BAD_REQUEST, ErrorKind::BadMessage),
    };
    match hub.create_meeting(create, Instant::now()) {
        Ok(created) => (StatusCode::CREATED, axum::Json(created)).into_response(),
        Err(ErrorKind::ServerBusy) => {
            api_error(StatusCode::SERVICE_UNAVAILABLE, ErrorKind::ServerBusy)
        }
        Err(kind) => api_error(StatusCode::BAD_REQUEST, kind),
    }
}

async fn ws_upgrade(State(hub): State<Arc<Hub>>, ws: WebSocketUpgrade, req: Request) -> Response {
    let Some(PeerAddr(peer)) = req.extensions().get::<PeerAddr>().copied() else {
        return api_error(StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Internal);
    };
    if !origin_allowed(hub.config(), req.headers()) {
        return api_error(StatusCode::FORBIDDEN, ErrorKind::ForeignOrigin);
    }
    let Some(meter) = req.extensions().get::<Arc<ReadMeter>>().cloned() else {
        return api_error(StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Internal);
    };
    // The request itself is read; from here on only WebSocket messages count.
    meter.reset();
    let Some(conn) = hub.connection_opened(peer.ip()) else {
        return api_error(StatusCode::SERVICE_UNAVAILABLE, ErrorKind::ServerBusy);
    };
    // Native clients send no Origin; a page (this server's browser guest) does.
    let browser = req.headers().contains_key(header::ORIGIN);
    ws.max_message_size(MAX_MLS_MESSAGE_BYTES)
        .max_frame_size(MAX_MLS_MESSAGE_BYTES)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(WRITE_BATCH_BYTES * 2)
        .on_failed_upgrade({
            let hub = hub.clone();
            move |_| hub.connection_closed(peer.ip())
        })
        .on_upgrade(move |socket| async move {
            connection(&hub, socket, peer, conn, meter, browser).await;
            hub.connection_closed(peer.ip());
        })
}

/// A message as the WebSocket messages that carry it: itself if it is at most
/// [`MESSAGE_PART_BYTES`] long, else binary parts of that size and the rest as text (which
/// starts on a character boundary), so no connection's write buffer grows past a part.
fn in_parts(text: Utf8Bytes) -> Vec<Message> {
    let len = text.len();
    if len <= MESSAGE_PART_BYTES {
        return vec![Message::Text(text)];
    }
    let mut last = (len - 1) / MESSAGE_PART_BYTES * MESSAGE_PART_BYTES;
    while !text.as_str().is_char_boundary(last) {
        last -= 1;
    }
    let bytes = Bytes::from(text);
    let mut parts: Vec<Message> = (0..last)
        .step_by(MESSAGE_PART_BYTES)
        .map(|at| Message::Binary(bytes.slice(at..(at + MESSAGE_PART_BYTES).min(last))))
        .collect();
    // Invariant: `last` is a character boundary of valid UTF-8, so the rest is valid too.
    let rest = Utf8Bytes::try_from(bytes.slice(last..)).expect("the rest starts on a boundary");
    parts.push(Message::Text(rest));
    parts
}

/// Whether a read error is the peer exceeding the size limit.
fn is_too_large(e: axum::Error) -> bool {
    matches!(
        e.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

async fn connection(
    hub: &Arc<Hub>,
    socket: WebSocket,
    peer: SocketAddr,
    conn: ConnId,
    meter: Arc<ReadMeter>,
    browser: bool,
) {
    let limits = &hub.config().limits;
    let link = ConnLink::metered(conn, peer.ip(), limits.send_queue, Some(meter.clone()));
    let (mut sink, mut stream) = socket.split();
    let start = Instant::now();
    let mut session = Session::new(
        SessionLimits {
            messages_per_second: limits.messages_per_second,
            burst: limits.burst,
            max_file_bytes: limits.max_file_mib << 20,
            ..SessionLimits::default()
        },
        start,
    );
    let mut room: Option<Arc<RoomEntry>> = None;
    let mut closing = false;
    let mut last_heard = start;
    // The connection died without a goodbye (no close from the client, none from us): a
    // member's place is then kept while they reconnect.
    let mut dropped = false;
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + PING_INTERVAL.min(JOIN_TIMEOUT),
        PING_INTERVAL.min(JOIN_TIMEOUT),
    );
    tracing::debug!(conn = conn.0, "connection opened");
    loop {
        tokio::select! {
            biased;
            () = link.killed() => {
                tracing::info!(conn = conn.0, "slow consumer disconnected");
                let msg = ServerMessage::error(ErrorKind::SlowConsumer, true);
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    sink.send(Message::Text(msg.encode().into())),
                )
                .await;
                break;
            }
            batch = link.next_batch(WRITE_BATCH, WRITE_BATCH_BYTES) => {
                // Write everything already queued in one go, then flush once.
                let write = tokio::time::timeout(WRITE_TIMEOUT, async {
                    for out in batch {
                        match out {
                            Outbound::Text(text) => {
                                for part in in_parts(text) {
                                    sink.feed(part).await?;
                                }
                            }
                            Outbound::Close => {
                                let frame = CloseFrame { code: 1000, reason: "".into() };
                                sink.send(Message::Close(Some(frame))).await?;
                                return Ok::<bool, axum::Error>(true);
                            }
                        }
                    }
                    sink.flush().await?;
                    Ok(false)
                });
                // A client whose socket is full blocks the write; its queue then overflows
                // and the kill below ends the wait at once.
                let slow = tokio::select! {
                    r = write => match r {
                        Ok(Ok(false)) => false,
                        Ok(Ok(true)) => break,
                        Ok(Err(_)) => {
                            dropped = true;
                            break;
                        }
                        Err(_) => true,
                    },
                    () = link.killed() => true,
                };
                if slow {
                    tracing::info!(conn = conn.0, "slow consumer disconnected");
                    break;
                }
                // With more to write, let other connections write their first frames first:
                // after a bulk admission everyone gets "joined" before anyone's whole roster.
                if link.has_queued() {
                    tokio::task::yield_now().await;
                }
            }
            kind = meter.refused(), if !closing => {
                // Over what an unfinished message may hold: no longer read, closed with why.
                tracing::info!(conn = conn.0, "unfinished message over its limit");
                link.push(Outbound::Text(ServerMessage::error(kind, true).encode().into()));
                link.push(Outbound::Close);
                closing = true;
            }
            incoming = stream.next(), if !closing => {
                let now = Instant::now();
                let steps = match incoming {
                    Some(Ok(Message::Text(text))) => {
                        meter.delivered(text.len());
                        last_heard = now;
                        session.on_text(now, text.as_str())
                    }
                    Some(Ok(Message::Binary(b))) => {
                        meter.delivered(b.len());
                        session.on_binary()
                    }
                    Some(Ok(Message::Ping(b) | Message::Pong(b))) => {
                        meter.delivered(b.len());
                        last_heard = now;
                        Vec::new()
                    }
                    Some(Ok(Message::Close(_))) => break,
                    None => {
                        dropped = true;
                        break;
                    }
                    Some(Err(e)) => {
                        let too_large = is_too_large(e);
                        if !too_large {
                            dropped = true;
                            break;
                        }
                        session.on_too_large()
                    }
                };
                for step in steps {
                    match step {
                        Step::Reply(msg) => link.push(Outbound::Text(msg.encode().into())),
                        Step::Close => {
                            link.push(Outbound::Close);
                            closing = true;
                        }
                        Step::Join {
                            room: token,
                            mut request,
                        } => {
                            request.browser = browser;
                            room = hub.join(&link, &token, request, now);
                            if room.is_none() {
                                closing = true;
                            }
                        }
                        Step::ToRoom(msg) => {
                            // The room it is in now: a breakout room moves it.
                            if room.is_some()
                                && let Some(r) = hub.room_of(conn)
                            {
                                hub.input(&r, Input::Message { conn, msg }, now);
                            }
                        }
                    }
                }
            }
            () = tokio::time::sleep_until((last_heard + IDLE_TIMEOUT).into()) => {
                // Heard nothing, not even a pong, for the idle time: gone.
                dropped = true;
                break;
            }
            _ = ping.tick() => {
                let now = Instant::now();
                if meter.stalled(now) && !closing {
                    // A message started long ago and never finished (pongs keep the connection
                    // alive, so the idle limit alone would never end it).
                    link.push(Outbound::Text(ServerMessage::error(ErrorKind::Incomplete, true).encode().into()));
                    link.push(Outbound::Close);
                    closing = true;
                } else if !session.has_joined() && now.duration_since(start) >= JOIN_TIMEOUT {
                    link.push(Outbound::Text(ServerMessage::error(ErrorKind::JoinRequired, true).encode().into()));
                    link.push(Outbound::Close);
                    closing = true;
                } else {
                    let sent = tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Ping(Default::default()))).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        dropped = true;
                        break;
                    }
                }
            }
        }
    }
    if room.is_some()
        && let Some(r) = hub.forget_conn(conn)
    {
        // Once we began closing, whatever ended the connection was our own doing.
        let input = if dropped && !closing {
            Input::Dropped { conn }
        } else {
            Input::Disconnected { conn }
        };
        hub.input(&r, input, Instant::now());
    }
    // Closing handshake: read (and ignore) what the peer still sends until it answers our
    // close, so the socket is not reset with their data unread (which would lose our last
    // message, often the error that says why).
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    let drain = async {
        while let Some(Ok(m)) = stream.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    tracing::debug!(conn = conn.0, "connection closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(o: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        h
    }

    fn joined(parts: &[Message]) -> (Vec<u8>, Vec<usize>) {
        let mut all = Vec::new();
        let mut sizes = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let b: &[u8] = match p {
                Message::Binary(b) => {
                    assert!(i + 1 < parts.len(), "the last part is text");
                    b
                }
                Message::Text(t) => {
                    assert_eq!(i + 1, parts.len(), "only the last part is text");
                    t.as_bytes()
                }
                other => panic!("unexpected {other:?}"),
            };
            sizes.push(b.len());
            all.extend_from_slice(b);
        }
        (all, sizes)
    }

    #[test]
    fn a_long_message_goes_out_in_parts_that_join_to_it() {
        let short = "x".repeat(MESSAGE_PART_BYTES);
        assert!(matches!(
            in_parts(short.as_str().into()).as_slice(),
            [Message::Text(t)] if t.as_str() == short
        ));
        // Multi-byte characters across every boundary: the text part must start on one.
        for extra in [1, 2, 3, 1000, MESSAGE_PART_BYTES - 1, MESSAGE_PART_BYTES] {
            let text: String = "aé€😀"
                .chars()
                .cycle()
                .scan(0, |n, c| {
                    *n += c.len_utf8();
                    (*n <= 3 * MESSAGE_PART_BYTES + extra).then_some(c)
                })
                .collect();
            let parts = in_parts(text.as_str().into());
            let (all, sizes) = joined(&parts);
            assert_eq!(all, text.as_bytes(), "extra {extra}");
            assert_eq!(
                parts.len(),
                text.len().div_ceil(MESSAGE_PART_BYTES),
                "{} bytes",
                text.len()
            );
            assert!(
                sizes.iter().all(|&n| n <= MESSAGE_PART_BYTES + 3),
                "{sizes:?}"
            );
        }
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let n = raise_open_file_limit().expect("readable");
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in raise_open_file_limit.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
        assert_eq!(r.rlim_cur, r.rlim_max);
        assert_eq!(n, r.rlim_cur);
    }

    #[test]
    fn native_clients_and_own_pages_may_open_signaling_nothing_else() {
        let c = Config {
            listen: "127.0.0.1:7880".parse().unwrap(),
            ..Config::default()
        };
        assert!(origin_allowed(&c, &HeaderMap::new()));
        assert!(origin_allowed(&c, &with_origin("http://127.0.0.1:7880")));
        assert!(origin_allowed(&c, &with_origin("HTTP://LOCALHOST:7880")));
        for bad in [
            "http://127.0.0.1:7881",
            "https://127.0.0.1:7880",
            "http://evil.example:7880",
            "null",
            "http://127.0.0.1:7880.evil.example",
        ] {
            assert!(!origin_allowed(&c, &with_origin(bad)), "{bad}");
        }
    }

    #[test]
    fn with_a_public_url_only_that_origin_is_the_servers_own() {
        let c = Config {
            public_url: Some("https://meet.example.org/".into()),
            ..Config::default()
        };
        assert!(origin_allowed(&c, &with_origin("https://meet.example.org")));
        assert!(!origin_allowed(&c, &with_origin("http://127.0.0.1:7880")));
        assert!(!origin_allowed(
            &c,
            &with_origin("https://meet.example.org.evil")
        ));
        let v6 = Config {
            listen: "[::1]:9000".parse().unwrap(),
            ..Config::default()
        };
        assert!(origin_allowed(&v6, &with_origin("http://[::1]:9000")));
        assert!(!origin_allowed(&v6, &with_origin("http://[::2]:9000")));
    }
}

//! The window's video socket: a WebSocket on `127.0.0.1`, on a port the system picks, that
//! carries decoded pictures from [`VideoRelay`] to the app's own window — and to nothing else.
//!
//! - **Who may connect.** The handshake must come from the app's own origin (`tauri://localhost`,
//!   or `http(s)://tauri.localhost` on Windows), so a web page in a browser on this computer is
//!   refused before anything else. Then the first message must be the per-launch secret
//!   (32 random bytes, hex), within [`AUTH_TIMEOUT`]; it is never in a URL. A native process
//!   that cannot read the app's memory cannot learn it.
//! - **Pull.** After the secret, the window sends `next` for each batch it wants (the format is
//!   in [`crate::video`]), and gets one as soon as any picture is waiting. It keeps at most
//!   [`MAX_REQUESTS_AHEAD`] requests outstanding, asking again when a batch arrives, so
//!   batches travel while it draws: the backend never sends more than the window takes, and
//!   nothing piles up in either process.
//! - **Always an answer.** A request with nothing to send is answered within [`IDLE_ANSWER`]
//!   by an empty batch, so a window that hears nothing for longer knows its socket is stuck
//!   and opens a new one (api.ts). A window that takes no batch for [`SEND_LIMIT`] is let go
//!   (it then reconnects): a stuck socket must not freeze every tile for the rest of the call.
//! - **One window.** A newer authenticated connection replaces the older one (a reloaded
//!   window). Messages from the window are at most [`MAX_REQUEST_BYTES`]; anything but `next`
//!   ends the connection. At most [`MAX_PENDING`] connections may be in their handshake at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::video::VideoRelay;

/// Origins of the app's own window (Linux and macOS; Windows).
pub const APP_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];
/// Time for the handshake and the secret.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest message the window may send.
pub const MAX_REQUEST_BYTES: usize = 256;
/// Most connections in their handshake at once.
pub const MAX_PENDING: usize = 4;
/// Most requests the window may have outstanding (more are counted as this many). On a busy
/// core a request takes 30–60 ms to be answered and arrive: with two out, that capped the
/// window at 30–40 batches a second.
pub const MAX_REQUESTS_AHEAD: u32 = 4;

/// A request with no picture to send is answered with an empty batch after this long.
pub const IDLE_ANSWER: Duration = Duration::from_secs(2);
/// A batch the window does not take within this long ends its connection.
pub const SEND_LIMIT: Duration = Duration::from_secs(5);

/// Where the window connects, and the secret it sends first.
#[derive(Clone, Serialize, specta::Type)]
pub struct VideoStream {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The per-launch secret (64 hex digits).
    pub token: String,
}

impl std::fmt::Debug for VideoStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoStream")
            .field("port", &self.port)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The running socket.
#[derive(Debug)]
pub struct VideoSocket {
    stream: VideoStream,
}

/// Shared by the connections: which one is current.
struct Shared {
    relay: Arc<VideoRelay>,
    token: String,
    /// The number of the current window connection.
    current: AtomicU64,
    /// Woken when a newer window connection takes over.
    replaced: Notify,
    pending: Arc<Semaphore>,
}

impl VideoSocket {
    /// Listen on a free port of 127.0.0.1 and serve `relay`'s pictures to the app's window.
    pub async fn start(relay: Arc<VideoRelay>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let token = new_token()?;
        let shared = Arc::new(Shared {
            relay,
            token: token.clone(),
            current: AtomicU64::new(0),
            replaced: Notify::new(),
            pending: Arc::new(Semaphore::new(MAX_PENDING)),
        });
        tokio::spawn(accept_loop(listener, shared));
        Ok(Self {
            stream: VideoStream { port, token },
        })
    }

    /// Where the window connects.
    pub fn stream(&self) -> VideoStream {
        self.stream.clone()
    }
}

fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut number = 0u64;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = shared.pending.clone().try_acquire_owned() else {
            continue; // too many half-open connections: this one is dropped
        };
        number += 1;
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Err(reason) = serve(tcp, &shared, number, permit).await {
                tracing::debug!(reason, "video socket connection ended");
            }
        });
    }
}

#[allow(clippy::result_large_err)] // the signature tungstenite's handshake callback takes
fn check_origin(req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
    let origin = req
        .headers()
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .unwrap_or_default();
    if APP_ORIGINS.contains(&origin) {
        Ok(resp)
    } else {
        let mut refusal = ErrorResponse::new(Some("only the Parley window may connect".into()));
        *refusal.status_mut() = StatusCode::FORBIDDEN;
        Err(refusal)
    }
}

/// Equal without leaking where they differ through timing.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

async fn serve(
    tcp: TcpStream,
    shared: &Shared,
    number: u64,
    permit: OwnedSemaphorePermit,
) -> Result<(), &'static str> {
    let _ = tcp.set_nodelay(true);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_REQUEST_BYTES))
        .max_frame_size(Some(MAX_REQUEST_BYTES));
    let authenticated = tokio::time::timeout(AUTH_TIMEOUT, async {
        let mut ws =
            tokio_tungstenite::accept_hdr_async_with_config(tcp, check_origin, Some(config))
                .await
                .map_err(|_| "handshake refused")?;
        match ws.next().await {
            Some(Ok(Message::Text(t))) if same_secret(t.as_bytes(), shared.token.as_bytes()) => {
                Ok(ws)
            }
            _ => Err("wrong secret"),
        }
    })
    .await
    .map_err(|_| "too slow to authenticate")??;
    drop(permit);
    let mut ws = authenticated;

    // This window is the current one; an older one stops.
    shared.current.store(number, Ordering::SeqCst);
    shared.replaced.notify_waiters();
    shared.relay.set_watching(true);
    let replaced = shared.replaced.notified();
    tokio::pin!(replaced);
    let result = async {
        // Requests the window made and the backend has not answered yet.
        let mut asked = 0u32;
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) if t.as_str() == "next" => {
                        asked = (asked + 1).min(MAX_REQUESTS_AHEAD);
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    _ => return Err("the window closed its video socket"),
                },
                batch = next_or_empty(&shared.relay), if asked > 0 => {
                    asked -= 1;
                    match tokio::time::timeout(SEND_LIMIT, ws.send(Message::Binary(batch.into()))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return Err("the window stopped reading"),
                        Err(_) => {
                            tracing::warn!("the window took no video for 5 s; its socket is closed");
                            return Err("the window took no batch in time");
                        }
                    }
                }
                () = &mut replaced => return Ok(()),
            }
        }
    }
    .await;
    if shared.current.load(Ordering::SeqCst) == number {
        shared.relay.set_watching(false);
    }
    result
}

/// The next batch, or an empty one (no pictures) after [`IDLE_ANSWER`] with none.
async fn next_or_empty(relay: &VideoRelay) -> Vec<u8> {
    tokio::time::timeout(IDLE_ANSWER, relay.next_batch())
        .await
        .unwrap_or_else(|_| crate::video::batch_of(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_client::sink::MediaSink;
    use parley_media::VideoFrame;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    type Client = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    async fn connect(port: u16, origin: Option<&str>) -> Result<Client, String> {
        let mut req = format!("ws://127.0.0.1:{port}/")
            .into_client_request()
            .unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        tokio_tungstenite::connect_async(req)
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| e.to_string())
    }

    async fn window(socket: &VideoSocket) -> Client {
        let mut ws = connect(socket.stream.port, Some("tauri://localhost"))
            .await
            .expect("the window connects");
        ws.send(Message::text(socket.stream.token.clone()))
            .await
            .unwrap();
        ws
    }

    /// The next binary message within `ms`, if any.
    async fn batch_within(ws: &mut Client, ms: u64) -> Option<Vec<u8>> {
        match tokio::time::timeout(Duration::from_millis(ms), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => Some(b.to_vec()),
            _ => None,
        }
    }

    fn ids_in(batch: &[u8]) -> Vec<u32> {
        let n = u32::from_le_bytes(batch[..4].try_into().unwrap()) as usize;
        let mut at = 4;
        let mut ids = Vec::new();
        for _ in 0..n {
            let len = u32::from_le_bytes(batch[at..at + 4].try_into().unwrap()) as usize;
            ids.push(u32::from_le_bytes(
                batch[at + 4..at + 8].try_into().unwrap(),
            ));
            at += 4 + len;
        }
        ids.sort_unstable();
        ids
    }

    async fn wait_watching(relay: &VideoRelay) {
        for _ in 0..200 {
            relay.video("99", &VideoFrame::black(16, 16));
            if relay.take_batch().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the relay never started watching");
    }

    #[tokio::test]
    async fn the_window_pulls_one_batch_per_request() {
        let relay = Arc::new(VideoRelay::default());
        let socket = VideoSocket::start(relay.clone()).await.unwrap();
        let mut ws = window(&socket).await;
        wait_watching(&relay).await;
        relay.video("1", &VideoFrame::black(16, 16));
        relay.video("2", &VideoFrame::black(32, 16));
        assert!(
            batch_within(&mut ws, 300).await.is_none(),
            "nothing is sent before the window asks"
        );
        ws.send(Message::text("next")).await.unwrap();
        let batch = batch_within(&mut ws, 2000).await.expect("a batch");
        assert_eq!(ids_in(&batch), [1, 2], "one message carries every tile");
        ws.send(Message::text("next")).await.unwrap();
        assert!(
            batch_within(&mut ws, 300).await.is_none(),
            "nothing new: the request waits"
        );
        relay.video("2", &VideoFrame::black(32, 16));
        let batch = batch_within(&mut ws, 2000)
            .await
            .expect("the waiting request is answered when a picture arrives");
        assert_eq!(ids_in(&batch), [2]);

        // Asking more times ahead than allowed counts as the allowed number.
        for _ in 0..MAX_REQUESTS_AHEAD + 1 {
            ws.send(Message::text("next")).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for round in 0..=MAX_REQUESTS_AHEAD {
            relay.video("7", &VideoFrame::black(16, 16));
            let got = batch_within(&mut ws, 500).await;
            assert_eq!(
                got.is_some(),
                round < MAX_REQUESTS_AHEAD,
                "answered requests: {round} of at most {MAX_REQUESTS_AHEAD}"
            );
        }
    }

    #[tokio::test]
    async fn a_request_with_nothing_to_send_is_answered_empty_in_time() {
        let relay = Arc::new(VideoRelay::default());
        let socket = VideoSocket::start(relay.clone()).await.unwrap();
        let mut ws = window(&socket).await;
        wait_watching(&relay).await;
        ws.send(Message::text("next")).await.unwrap();
        let asked = std::time::Instant::now();
        let batch = batch_within(&mut ws, 10_000)
            .await
            .expect("an answer although no picture came");
        assert_eq!(ids_in(&batch), Vec::<u32>::new(), "an empty batch");
        assert!(
            asked.elapsed() >= IDLE_ANSWER - Duration::from_millis(100),
            "not before the idle time: {:?}",
            asked.elapsed()
        );
        // A picture after that is sent as usual.
        ws.send(Message::text("next")).await.unwrap();
        relay.video("8", &VideoFrame::black(16, 16));
        let batch = batch_within(&mut ws, 10_000).await.expect("a batch");
        assert_eq!(ids_in(&batch), [8]);
    }

    #[tokio::test]
    async fn a_browser_page_or_a_wrong_secret_gets_nothing() {
        let relay = Arc::new(VideoRelay::default());
        let socket = VideoSocket::start(relay.clone()).await.unwrap();
        let port = socket.stream.port;
        let refused = connect(port, Some("https://evil.example")).await;
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("403")),
            "another origin is refused at the handshake: {:?}",
            refused.err()
        );
        assert!(
            connect(port, None).await.is_err(),
            "no origin is refused too"
        );

        let mut guess = connect(port, Some("tauri://localhost")).await.unwrap();
        guess.send(Message::text("0".repeat(64))).await.unwrap();
        relay.video("1", &VideoFrame::black(16, 16));
        let _ = guess.send(Message::text("next")).await;
        assert!(
            batch_within(&mut guess, 500).await.is_none(),
            "a wrong secret gets no picture"
        );
        assert!(
            relay.take_batch().is_none(),
            "and nobody is watching, so nothing was converted"
        );

        // A huge first message is refused by size, not read.
        let mut flood = connect(port, Some("tauri://localhost")).await.unwrap();
        let _ = flood.send(Message::text("x".repeat(100_000))).await;
        assert!(batch_within(&mut flood, 500).await.is_none());

        // The real window still works afterwards.
        let mut ws = window(&socket).await;
        wait_watching(&relay).await;
        relay.video("5", &VideoFrame::black(16, 16));
        ws.send(Message::text("next")).await.unwrap();
        let batch = batch_within(&mut ws, 2000).await.expect("a batch");
        assert_eq!(ids_in(&batch), [5]);
    }

    #[tokio::test]
    async fn a_reloaded_window_takes_over_and_leaving_stops_the_work() {
        let relay = Arc::new(VideoRelay::default());
        let socket = VideoSocket::start(relay.clone()).await.unwrap();
        let mut old = window(&socket).await;
        wait_watching(&relay).await;
        let mut new = window(&socket).await;
        // The old connection is ended by the server.
        let ended = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match old.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    _ => {}
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "the older window's socket is closed");
        relay.video("3", &VideoFrame::black(16, 16));
        new.send(Message::text("next")).await.unwrap();
        assert_eq!(
            ids_in(&batch_within(&mut new, 2000).await.expect("a batch")),
            [3]
        );
        drop(new);
        // Once the window is gone, pictures are no longer converted.
        let mut stopped = false;
        for _ in 0..200 {
            relay.video("4", &VideoFrame::black(16, 16));
            if relay.take_batch().is_none() {
                stopped = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(stopped, "the relay stops when its window leaves");
    }

    #[test]
    fn the_secret_is_not_in_debug_output() {
        let s = VideoStream {
            port: 1,
            token: "abcdef0123".into(),
        };
        assert!(!format!("{s:?}").contains("abcdef"));
        assert_eq!(new_token().unwrap().len(), 64);
        assert_ne!(new_token().unwrap(), new_token().unwrap());
    }
}

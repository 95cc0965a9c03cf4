//! The signaling connection: WebSocket to `/ws`, `hello` → `welcome` (challenge) → signed
//! `join`, then meeting events. Split it to send and receive from different tasks.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use parley_proto::{
    Challenge, ClientMessage, DisplayName, HostSecret, Identity, PROTOCOL_VERSION, RoomToken,
    ServerAddr, ServerMessage,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::error::ClientError;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Largest message accepted from a server (a roster chunk or a long waiting list).
pub const MAX_SERVER_MESSAGE: usize = parley_proto::message::MAX_MLS_MESSAGE_BYTES;
/// Time allowed to connect and be greeted.
pub const CONNECT_TIMEOUT: Duration = crate::engine::FIRST_ATTEMPT_TIMEOUT;

/// A greeted signaling connection.
pub struct Signaling {
    ws: Ws,
    challenge: Challenge,
    /// The parts of a long message read so far (kept here, not in a future, so a `recv`
    /// dropped by a `select!` loses nothing).
    parts: Vec<u8>,
}

impl Signaling {
    /// Connect to `server`'s `/ws` and exchange `hello`/`welcome`.
    pub async fn connect(
        server: &ServerAddr,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<Self, ClientError> {
        let mut ws = open_ws(server, tls).await?;
        let hello = ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
        };
        ws.send(Message::Text(hello.encode().into()))
            .await
            .map_err(|_| ClientError::Closed)?;
        let mut parts = Vec::new();
        let first = tokio::time::timeout(CONNECT_TIMEOUT, next_message(&mut ws, &mut parts))
            .await
            .map_err(|_| ClientError::Closed)??;
        match first {
            Some(ServerMessage::Welcome { challenge, .. }) => Ok(Signaling {
                ws,
                challenge,
                parts,
            }),
            Some(ServerMessage::Error { message, .. }) => Err(ClientError::Protocol(message)),
            Some(other) => Err(ClientError::Protocol(format!(
                "expected welcome, got {}",
                type_name(&other)
            ))),
            None => Err(ClientError::Closed),
        }
    }

    /// The address to bind media to so it leaves the way this connection did: this computer's
    /// address on the route to the server (loopback for a server on this computer), port 0.
    /// Loopback alone cannot reach another computer, and every address would announce more
    /// of this computer than the meeting needs.
    pub fn media_bind(&self) -> std::net::SocketAddr {
        media_bind(&self.ws)
    }

    /// Send a signed join and wait for the first answer: `waiting` or `joined` (returned), or
    /// a refusal (returned as [`ClientError::Refused`]).
    pub async fn join(
        &mut self,
        room: &RoomToken,
        name: &DisplayName,
        identity: &Identity,
        passcode: Option<String>,
        host_secret: Option<HostSecret>,
    ) -> Result<ServerMessage, ClientError> {
        let join = ClientMessage::Join {
            room: room.clone(),
            name: name.clone(),
            identity: identity.public(),
            signature: identity.sign_join(&self.challenge, room, name),
            passcode,
            host_secret,
        };
        self.send(&join).await?;
        loop {
            match self.recv().await? {
                Some(ServerMessage::Refused {
                    kind,
                    message,
                    retry_after_ms,
                }) => {
                    return Err(ClientError::Refused {
                        kind,
                        message,
                        retry_after_ms,
                    });
                }
                Some(m @ (ServerMessage::Waiting { .. } | ServerMessage::Joined { .. })) => {
                    return Ok(m);
                }
                Some(ServerMessage::Error { message, .. }) => {
                    return Err(ClientError::Protocol(message));
                }
                Some(_) => continue,
                None => return Err(ClientError::Closed),
            }
        }
    }

    /// Send one message.
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        self.ws
            .send(Message::Text(msg.encode().into()))
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// The next message; `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        next_message(&mut self.ws, &mut self.parts).await
    }

    /// Split into a sender and a receiver for use from different tasks.
    pub fn split(self) -> (SignalingTx, SignalingRx) {
        let (sink, stream) = self.ws.split();
        let parts = self.parts;
        (SignalingTx { sink }, SignalingRx { stream, parts })
    }
}

/// A connection to a server's signaling socket, open but not greeted: the
/// [`crate::engine::MeetingEngine`] says hello and joins on it.
pub struct Opened {
    /// The sending half.
    pub tx: SignalingTx,
    /// The receiving half.
    pub rx: SignalingRx,
    /// Where media should leave from (see [`Signaling::media_bind`]).
    pub media_bind: std::net::SocketAddr,
}

/// Open `server`'s `/ws` (within [`CONNECT_TIMEOUT`]) and say nothing yet.
pub async fn open(
    server: &ServerAddr,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Opened, ClientError> {
    let ws = open_ws(server, tls).await?;
    let media_bind = media_bind(&ws);
    let (sink, stream) = ws.split();
    Ok(Opened {
        tx: SignalingTx { sink },
        rx: SignalingRx {
            stream,
            parts: Vec::new(),
        },
        media_bind,
    })
}

async fn open_ws(server: &ServerAddr, tls: Arc<rustls::ClientConfig>) -> Result<Ws, ClientError> {
    let url = server.ws_url();
    let tls = crate::tls::for_server(server, tls)?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_SERVER_MESSAGE))
        .max_frame_size(Some(MAX_SERVER_MESSAGE))
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        Some(config),
        true,
        Some(Connector::Rustls(tls)),
    );
    let (ws, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| ClientError::Connect {
            server: server.http_base(),
            detail: "timed out".into(),
        })?
        .map_err(|e| crate::tls::connect_error(server, &e))?;
    Ok(ws)
}

/// This computer's address on the route a connection took, port 0 (see
/// [`Signaling::media_bind`]).
fn media_bind(ws: &Ws) -> std::net::SocketAddr {
    let tcp = match ws.get_ref() {
        MaybeTlsStream::Plain(s) => s,
        MaybeTlsStream::Rustls(s) => s.get_ref().0,
        _ => return std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
    };
    match tcp.local_addr() {
        Ok(a) => std::net::SocketAddr::new(a.ip().to_canonical(), 0),
        Err(_) => std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
    }
}

/// What happened on a [`SignalingLink`].
#[derive(Debug)]
pub enum LinkEvent {
    /// The connection asked for is open (not greeted).
    Opened,
    /// It could not be opened.
    ConnectFailed(ClientError),
    /// A message arrived.
    Message(ServerMessage),
    /// A message arrived that this version cannot read (the connection goes on).
    Unreadable(ClientError),
    /// The open connection ended.
    Closed,
}

type OpeningFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Opened, ClientError>> + Send>>;

/// The signaling connection as a driver of the [`crate::engine::MeetingEngine`] needs it: opened
/// when asked, closed when asked, read and written in between, on tokio.
pub struct SignalingLink {
    server: ServerAddr,
    tls: Arc<rustls::ClientConfig>,
    open: Option<Opened>,
    opening: Option<OpeningFuture>,
}

impl SignalingLink {
    /// A link to `server`, not yet open.
    pub fn new(server: ServerAddr, tls: Arc<rustls::ClientConfig>) -> Self {
        SignalingLink {
            server,
            tls,
            open: None,
            opening: None,
        }
    }

    /// Start opening a new connection (the old one, if any, is dropped); [`SignalingLink::next`]
    /// says when it is open.
    pub fn connect(&mut self) {
        self.open = None;
        let (server, tls) = (self.server.clone(), self.tls.clone());
        self.opening = Some(Box::pin(async move { open(&server, tls).await }));
    }

    /// Close the connection, if one is open or opening.
    pub async fn disconnect(&mut self) {
        self.opening = None;
        if let Some(mut o) = self.open.take() {
            o.tx.close().await;
        }
    }

    /// Send on the open connection. False if it failed (the connection is then gone: tell the
    /// engine it closed); true when sent or when no connection is open (nothing to tell).
    pub async fn send(&mut self, m: &ClientMessage) -> bool {
        let Some(o) = &mut self.open else {
            return true;
        };
        if o.tx.send(m).await.is_ok() {
            return true;
        }
        self.open = None;
        false
    }

    /// Where media should leave from on the open connection's route.
    pub fn media_bind(&self) -> Option<std::net::SocketAddr> {
        self.open.as_ref().map(|o| o.media_bind)
    }

    /// The next thing that happens on the link (never, while nothing is open or opening).
    /// Cancel-safe: for `select!`.
    pub async fn next(&mut self) -> LinkEvent {
        if let Some(f) = &mut self.opening {
            let r = f.await;
            self.opening = None;
            return match r {
                Ok(o) => {
                    self.open = Some(o);
                    LinkEvent::Opened
                }
                Err(e) => LinkEvent::ConnectFailed(e),
            };
        }
        let Some(o) = &mut self.open else {
            return std::future::pending().await;
        };
        match o.rx.recv().await {
            Ok(Some(m)) => LinkEvent::Message(m),
            Ok(None) | Err(ClientError::Closed) => {
                self.open = None;
                LinkEvent::Closed
            }
            Err(e) => LinkEvent::Unreadable(e),
        }
    }
}

impl SignalingLink {
    /// Carry out the link's part of an engine output (send, connect, disconnect) and hand
    /// back the rest (events and media, the driver's part).
    pub async fn carry(
        &mut self,
        engine: &mut crate::engine::MeetingEngine,
        output: crate::engine::Output,
    ) -> Option<crate::engine::Output> {
        use crate::engine::{Action, Output};
        match output {
            Output::Transmit(m) => {
                if !self.send(&m).await {
                    engine.handle_closed(std::time::Instant::now());
                }
                None
            }
            Output::Action(Action::Connect) => {
                self.connect();
                None
            }
            Output::Action(Action::Disconnect) => {
                self.disconnect().await;
                None
            }
            other => Some(other),
        }
    }

    /// Tell the engine what happened on the link; a message this version cannot read is
    /// handed back for the driver to mention (the meeting goes on).
    pub fn feed(
        engine: &mut crate::engine::MeetingEngine,
        event: LinkEvent,
    ) -> Option<ClientError> {
        let now = std::time::Instant::now();
        match event {
            LinkEvent::Opened => engine.handle_open(now),
            LinkEvent::ConnectFailed(e) => engine.handle_connect_failed(now, e),
            LinkEvent::Message(m) => engine.handle_message(now, m),
            LinkEvent::Closed => engine.handle_closed(now),
            LinkEvent::Unreadable(e) => return Some(e),
        }
        None
    }
}

/// The engine's next wake-up, for `select!` (never, if it has none).
pub async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The sending half.
pub struct SignalingTx {
    sink: SplitSink<Ws, Message>,
}

impl SignalingTx {
    /// Send one message.
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        self.sink
            .send(Message::Text(msg.encode().into()))
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Send raw text (load generators and hostile-input tests).
    pub async fn send_text(&mut self, text: String) -> Result<(), ClientError> {
        self.sink
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Close the connection.
    pub async fn close(&mut self) {
        let _ = self.sink.close().await;
    }
}

/// The receiving half.
pub struct SignalingRx {
    stream: SplitStream<Ws>,
    /// As in [`Signaling`].
    parts: Vec<u8>,
}

impl SignalingRx {
    /// The next message; `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        next_message(&mut self.stream, &mut self.parts).await
    }

    /// The next message as the server sent it, undecoded (load generators).
    pub async fn recv_text(&mut self) -> Result<Option<Utf8Bytes>, ClientError> {
        next_text(&mut self.stream, &mut self.parts).await
    }
}

/// The next text message from a server WebSocket, a long one joined from its parts
/// (PROTOCOL.md, "Messages in parts"); `None` once the server closed the connection.
///
/// Cancel-safe as long as `parts` outlives the future: parts read before it was dropped stay
/// in `parts`, and the next call goes on from there.
pub async fn next_text<S>(ws: &mut S, parts: &mut Vec<u8>) -> Result<Option<Utf8Bytes>, ClientError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    // A long message comes in parts: binary messages, then the rest as text (PROTOCOL.md).
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => {
                if parts.len() + b.len() > MAX_SERVER_MESSAGE {
                    parts.clear();
                    return Err(ClientError::Protocol(
                        "the server sent a message in parts longer than any message may be".into(),
                    ));
                }
                parts.extend_from_slice(&b);
            }
            Some(Ok(Message::Text(t))) if parts.is_empty() => return Ok(Some(t)),
            Some(Ok(Message::Text(t))) => {
                if parts.len() + t.len() > MAX_SERVER_MESSAGE {
                    parts.clear();
                    return Err(ClientError::Protocol(
                        "the server sent a message in parts longer than any message may be".into(),
                    ));
                }
                parts.extend_from_slice(t.as_bytes());
                return Utf8Bytes::try_from(std::mem::take(parts))
                    .map(Some)
                    .map_err(|_| {
                        ClientError::Protocol(
                            "the server sent a message in parts that is not text".into(),
                        )
                    });
            }
            Some(Ok(Message::Close(_))) | None => return Ok(None),
            Some(Ok(_)) => continue,
            Some(Err(_)) => return Err(ClientError::Closed),
        }
    }
}

async fn next_message<S>(
    ws: &mut S,
    parts: &mut Vec<u8>,
) -> Result<Option<ServerMessage>, ClientError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    match next_text(ws, parts).await? {
        Some(t) => ServerMessage::decode(t.as_str())
            .map(Some)
            .map_err(|e| ClientError::Protocol(e.to_string())),
        None => Ok(None),
    }
}

/// The wire `type` of a server message, for messages and logs.
pub fn type_name(m: &ServerMessage) -> String {
    m.wire_type()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Item = Result<Message, tokio_tungstenite::tungstenite::Error>;

    fn stream(ms: Vec<Message>) -> impl futures_util::Stream<Item = Item> + Unpin {
        futures_util::stream::iter(ms.into_iter().map(Ok))
    }

    #[tokio::test]
    async fn a_message_in_parts_is_joined_and_one_too_long_is_refused() {
        let text = format!(
            "{{\"type\":\"mls_welcome\",\"x\":\"{}é\"}}",
            "a".repeat(70_000)
        );
        let (a, rest) = text.as_bytes().split_at(32 * 1024);
        let (b, c) = rest.split_at(32 * 1024);
        let mut parts = Vec::new();
        let mut ws = stream(vec![
            Message::Binary(a.to_vec().into()),
            Message::Binary(b.to_vec().into()),
            Message::Text(std::str::from_utf8(c).unwrap().into()),
            Message::Text("short".into()),
        ]);
        assert_eq!(
            next_text(&mut ws, &mut parts)
                .await
                .unwrap()
                .unwrap()
                .as_str(),
            text
        );
        assert_eq!(
            next_text(&mut ws, &mut parts)
                .await
                .unwrap()
                .unwrap()
                .as_str(),
            "short"
        );
        assert!(next_text(&mut ws, &mut parts).await.unwrap().is_none());

        let huge = vec![0x61; MAX_SERVER_MESSAGE / 2 + 1];
        let mut ws = stream(vec![
            Message::Binary(huge.clone().into()),
            Message::Binary(huge.into()),
            Message::Text("}".into()),
        ]);
        assert!(matches!(
            next_text(&mut ws, &mut parts).await,
            Err(ClientError::Protocol(_))
        ));

        // Parts that do not join to text.
        let mut ws = stream(vec![
            Message::Binary(vec![0xff, 0xfe].into()),
            Message::Text("x".into()),
        ]);
        assert!(matches!(
            next_text(&mut ws, &mut parts).await,
            Err(ClientError::Protocol(_))
        ));
    }

    /// A `select!` loop drops `recv` whenever something else is ready first: the parts read
    /// before must not be lost (the CLI's host once died of it on a long chat line).
    #[tokio::test]
    async fn a_read_dropped_between_parts_loses_nothing() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Item>();
        let mut rx = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|m| (m, rx))
        }));
        let mut parts = Vec::new();
        let text = format!("{{\"x\":\"{}\"}}", "b".repeat(40_000));
        let (a, rest) = text.as_bytes().split_at(32 * 1024);
        tx.send(Ok(Message::Binary(a.to_vec().into()))).unwrap();
        let dropped =
            tokio::time::timeout(Duration::from_millis(50), next_text(&mut rx, &mut parts)).await;
        assert!(dropped.is_err(), "the message is not complete yet");
        tx.send(Ok(Message::Text(std::str::from_utf8(rest).unwrap().into())))
            .unwrap();
        let got = next_text(&mut rx, &mut parts).await.unwrap().unwrap();
        assert_eq!(got.as_str(), text);
        assert!(parts.is_empty());
    }
}

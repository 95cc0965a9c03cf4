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
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A greeted signaling connection.
pub struct Signaling {
    ws: Ws,
    challenge: Challenge,
}

impl Signaling {
    /// Connect to `server`'s `/ws` and exchange `hello`/`welcome`.
    pub async fn connect(
        server: &ServerAddr,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<Self, ClientError> {
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
        let (mut ws, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| ClientError::Connect {
                server: server.http_base(),
                detail: "timed out".into(),
            })?
            .map_err(|e| crate::tls::connect_error(server, &e))?;
        let hello = ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
        };
        ws.send(Message::Text(hello.encode().into()))
            .await
            .map_err(|_| ClientError::Closed)?;
        let first = tokio::time::timeout(CONNECT_TIMEOUT, next_message(&mut ws))
            .await
            .map_err(|_| ClientError::Closed)??;
        match first {
            Some(ServerMessage::Welcome { challenge, .. }) => Ok(Signaling { ws, challenge }),
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
        let tcp = match self.ws.get_ref() {
            MaybeTlsStream::Plain(s) => s,
            MaybeTlsStream::Rustls(s) => s.get_ref().0,
            _ => return std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        match tcp.local_addr() {
            Ok(a) => std::net::SocketAddr::new(a.ip().to_canonical(), 0),
            Err(_) => std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        }
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
        next_message(&mut self.ws).await
    }

    /// Split into a sender and a receiver for use from different tasks.
    pub fn split(self) -> (SignalingTx, SignalingRx) {
        let (sink, stream) = self.ws.split();
        (SignalingTx { sink }, SignalingRx { stream })
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
}

impl SignalingRx {
    /// The next message; `None` once the server closed the connection.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        next_message(&mut self.stream).await
    }

    /// The next message as the server sent it, undecoded (load generators).
    pub async fn recv_text(&mut self) -> Result<Option<Utf8Bytes>, ClientError> {
        next_text(&mut self.stream).await
    }
}

async fn next_text<S>(ws: &mut S) -> Result<Option<Utf8Bytes>, ClientError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(Some(t)),
            Some(Ok(Message::Close(_))) | None => return Ok(None),
            Some(Ok(_)) => continue,
            Some(Err(_)) => return Err(ClientError::Closed),
        }
    }
}

async fn next_message<S>(ws: &mut S) -> Result<Option<ServerMessage>, ClientError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    match next_text(ws).await? {
        Some(t) => ServerMessage::decode(t.as_str())
            .map(Some)
            .map_err(|e| ClientError::Protocol(e.to_string())),
        None => Ok(None),
    }
}

/// The wire `type` of a server message, for messages and logs.
pub fn type_name(m: &ServerMessage) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

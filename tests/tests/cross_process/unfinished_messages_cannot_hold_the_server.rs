use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use parley_tests::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A greeted signaling connection (not in any meeting, so not in an encryption group).
async fn greeted(port: u16) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
        .await
        .unwrap();
    ws.send(Message::Text(r#"{"type":"hello","protocol":1}"#.into()))
        .await
        .unwrap();
    match ws.next().await {
        Some(Ok(Message::Text(t))) => assert!(t.contains("welcome"), "{t}"),
        other => panic!("{other:?}"),
    }
    ws
}

/// Write the start of one masked text frame that announces `announced` bytes, and `sent` of
/// them, straight to the socket: a message that is not finished.
async fn start_frame(ws: &mut Ws, announced: u64, sent: usize) {
    let mut frame = vec![0x81, 0x80 | 127];
    frame.extend_from_slice(&announced.to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]); // mask key 0: the payload goes as it is
    frame.extend(std::iter::repeat_n(b'x', sent));
    let MaybeTlsStream::Plain(tcp) = ws.get_mut() else {
        unreachable!("plain ws://")
    };
    // The server may stop reading part way: that is the point.
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.write_all(&frame)).await;
}

/// The next error the server sends, or None if it closed without one.
async fn error_kind(ws: &mut Ws, within: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "error" {
                    assert_eq!(v["fatal"], true, "{v}");
                    return v["kind"].as_str().map(str::to_string);
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(_) => return None,
            Err(_) => panic!("no answer within {within:?}"),
        }
    }
}

#[test]
fn before_joining_the_group_a_message_may_not_grow_past_64_kib() {
    let dir = temp_dir("unfinished-large");
    let server = ServerProc::start(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Many connections each announce a 1 MB message (under the 1.5 MiB a group member may
        // send) and send 80 KiB of it: each is refused at 64 KiB, before the rest is sent.
        let mut conns = Vec::new();
        for _ in 0..20 {
            let mut ws = greeted(server.port).await;
            start_frame(&mut ws, 1_000_000, 80 * 1024).await;
            conns.push(ws);
        }
        for ws in &mut conns {
            assert_eq!(
                error_kind(ws, Duration::from_secs(10)).await.as_deref(),
                Some("too_large")
            );
        }
        // The server carries on.
        greeted(server.port).await;
    });
}

#[test]
fn a_message_that_never_finishes_ends_its_connection() {
    let dir = temp_dir("unfinished-slow");
    let server = ServerProc::start(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut ws = greeted(server.port).await;
        let started = Instant::now();
        start_frame(&mut ws, 20_000, 5_000).await;
        // The server pings; the client keeps reading (and so answers), but the message never
        // completes: after 20 s, at the next check (every 15 s), the connection is closed.
        let kind = error_kind(&mut ws, Duration::from_secs(44)).await;
        assert_eq!(kind.as_deref(), Some("incomplete"));
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(20), "{took:?}");
        // The server carries on.
        greeted(server.port).await;
    });
}

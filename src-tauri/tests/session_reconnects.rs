//! The app's session loop gets its connection back: the signaling connection is cut (as a
//! network change or a proxy's timeout would), then restored, and the session is back in the
//! same place, encrypted with everyone again, without the person doing anything; a server that
//! restarted (and so no longer knows the meeting) is explained in plain words.
//!
//! The cut is a TCP relay on loopback between the app's session and the server, which the
//! test can sever, refuse through, restore, and point at another server.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use parley_app::model::Phase;
use parley_app::session::{Control, SessionHandle};
use parley_client::sink::MediaSink;
use parley_proto::api::MeetingCreated;
use parley_proto::{ClientMessage, MeetingKey, ParticipantId, ServerAddr, ServerMessage};
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay the test can cut.
struct Relay {
    addr: SocketAddr,
    /// Where it relays to.
    target: Arc<Mutex<SocketAddr>>,
    /// Whether it relays (closed: every connection is closed as soon as it arrives).
    open: Arc<AtomicBool>,
    /// The relayed connections, to sever.
    live: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn to(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            target: Arc::new(Mutex::new(target)),
            open: Arc::new(AtomicBool::new(true)),
            live: Arc::new(Mutex::new(Vec::new())),
        };
        let (target, open, live) = (relay.target.clone(), relay.open.clone(), relay.live.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !open.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let to = *target.lock().unwrap();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                live.lock().unwrap().push(task);
            }
        });
        relay
    }

    fn server(&self) -> ServerAddr {
        ServerAddr::parse(&format!("http://{}", self.addr)).unwrap()
    }

    /// Sever every relayed connection (both ends see it end, with no goodbye) and refuse new
    /// ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for task in self.live.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Relay again, to `target`.
    fn restore(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
        self.open.store(true, Ordering::SeqCst);
    }
}

fn socket(addr: &ServerAddr) -> SocketAddr {
    addr.http_base()
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

/// Someone joins `created` at `server` as the app does (see [`start_app`]) and the host
/// admits them. The session and their number.
#[allow(clippy::too_many_arguments)]
async fn app_joins(
    server: &ServerAddr,
    name: &str,
    created: &MeetingCreated,
    key: &MeetingKey,
    host: &mut Host,
    ui: &Arc<Recorder>,
    camera: bool,
    sinks: Vec<Arc<dyn MediaSink>>,
) -> (SessionHandle, u32) {
    let handle = start_app(server, name, created, key, ui, camera, sinks).await;
    (handle, host.admit_next(ui).await)
}

/// A meeting on a server, its host, and Ada in it through a relay the test can cut (her
/// camera and microphone off).
struct Cut {
    addr: ServerAddr,
    host: Host,
    relay: Relay,
    ui: Arc<Recorder>,
    ada: SessionHandle,
    me: u32,
}

async fn ada_through_a_relay(title: &str) -> Cut {
    let addr = server().await;
    let created = meeting(&addr, title).await;
    let key = MeetingKey::random();
    let mut host = Host::join(&addr, &created, &key).await;
    let relay = Relay::to(socket(&addr)).await;
    let ui = Arc::new(Recorder::default());
    let (ada, me) = app_joins(
        &relay.server(),
        "Ada",
        &created,
        &key,
        &mut host,
        &ui,
        false,
        Vec::new(),
    )
    .await;
    Cut {
        addr,
        host,
        relay,
        ui,
        ada,
        me,
    }
}

/// Both show the same security code for a group of two.
fn same_code(h: &Host, u: &Recorder) -> bool {
    let host_code = h.e2ee.security_code().map(|c| c.to_string());
    h.e2ee.group_size() == 2
        && u.last()
            .security
            .as_ref()
            .is_some_and(|s| Some(&s.code) == host_code.as_ref() && s.members == 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_comes_back_in_the_same_place_encrypted_again() {
    let Cut {
        addr,
        mut host,
        relay,
        ui,
        ada: handle,
        me,
        ..
    } = ada_through_a_relay("Union branch").await;
    until(&mut host, &ui, "encrypted together", same_code).await;
    let code_before = host.e2ee.security_code().map(|c| c.to_string());

    // The network goes for 3 seconds.
    relay.cut();
    until(&mut host, &ui, "the app says it is reconnecting", |_, u| {
        u.last().reconnecting && u.last().phase == Phase::InMeeting
    })
    .await;
    let away = host.next_of("away").await;
    assert_eq!(
        away,
        ServerMessage::Away {
            id: ParticipantId(me),
            away: true
        }
    );
    host.pump(Duration::from_secs(3)).await;
    relay.restore(socket(&addr));
    let restored = tokio::time::Instant::now();

    // Back: the same number, in the meeting (no waiting room), told to the host.
    until(&mut host, &ui, "back in the meeting", |_, u| {
        let v = u.last();
        !v.reconnecting && v.phase == Phase::InMeeting && v.you == Some(me)
    })
    .await;
    let back_after = restored.elapsed();
    let back = host.next_of("away").await;
    assert_eq!(
        back,
        ServerMessage::Away {
            id: ParticipantId(me),
            away: false
        }
    );
    until(&mut host, &ui, "the roster again", |_, u| {
        u.last().participants.iter().any(|p| p.name == "Hana")
    })
    .await;
    // Encrypted with the host again, under new keys (the group changed: her old leaf was
    // replaced by her new one).
    until(&mut host, &ui, "encrypted together again", |h, u| {
        same_code(h, u) && h.e2ee.security_code().map(|c| c.to_string()) != code_before
    })
    .await;
    let secured_after = restored.elapsed();
    assert!(
        !host
            .shown
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft { .. })),
        "Ada never left: {:?}",
        host.shown
    );
    // What she types now reaches the host, sealed with the new keys.
    assert!(
        handle
            .send(Control::Send(ClientMessage::Chat {
                to: None,
                body: "back again".into()
            }))
            .await
    );
    loop {
        let ServerMessage::Chat { body, from, .. } = host.next_of("chat").await else {
            unreachable!()
        };
        if from.0 == me {
            assert_eq!(body, "back again");
            break;
        }
    }
    println!(
        "reconnect: back in the meeting {} ms after the network returned, encrypted again after {} ms",
        back_after.as_millis(),
        secured_after.as_millis()
    );

    // Leaving is still a goodbye the host sees at once.
    assert!(handle.send(Control::Leave).await);
    let left = host.next_of("participant_left").await;
    assert!(matches!(left, ServerMessage::ParticipantLeft { id, .. } if id.0 == me));
    handle.finished(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_server_restart_the_app_says_the_meeting_is_gone() {
    let Cut {
        mut host,
        relay,
        ui,
        ada: handle,
        ..
    } = ada_through_a_relay("Parents' evening").await;

    // The server goes away; a new one (which knows no meetings) answers at the same address.
    relay.cut();
    until(&mut host, &ui, "reconnecting", |_, u| u.last().reconnecting).await;
    let restarted = server().await;
    host.pump(Duration::from_secs(1)).await;
    relay.restore(socket(&restarted));
    let back = tokio::time::Instant::now();
    until(&mut host, &ui, "the end, explained", |_, u| {
        u.last().phase == Phase::Ended
    })
    .await;
    let told_after = back.elapsed();
    let v = ui.last();
    assert!(!v.reconnecting);
    let message = v.ended_message.unwrap_or_default();
    assert!(
        message.contains("restarted") && message.contains("new meeting"),
        "{message}"
    );
    println!(
        "server restart: told {} ms after the server answered again",
        told_after.as_millis()
    );
    handle.finished(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_while_reconnecting_ends_the_session_at_once() {
    let Cut {
        mut host,
        relay,
        ui,
        ada: handle,
        ..
    } = ada_through_a_relay("Clinic board").await;
    relay.cut();
    until(&mut host, &ui, "reconnecting", |_, u| u.last().reconnecting).await;
    assert!(handle.send(Control::Leave).await);
    until(&mut host, &ui, "left", |_, u| {
        u.last().phase == Phase::Ended
    })
    .await;
    assert_eq!(ui.last().ended_reason.as_deref(), Some("left"));
    handle.finished(Duration::from_secs(10)).await;
}

/// Counts the pictures decoded from each sender.
#[derive(Default)]
struct Pictures(Mutex<std::collections::HashMap<String, u64>>);

impl MediaSink for Pictures {
    fn video(&self, from: &str, _frame: &parley_media::VideoFrame) {
        *self.0.lock().unwrap().entry(from.to_string()).or_default() += 1;
    }
    fn audio(&self, _from: &str, _pcm: &[i16]) {}
}

impl Pictures {
    fn from(&self, id: u32) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(&id.to_string())
            .copied()
            .unwrap_or(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_cut_the_others_see_the_camera_again() {
    let addr = server().await;
    let created = meeting(&addr, "Works council").await;
    let key = MeetingKey::random();
    let mut host = Host::join(&addr, &created, &key).await;
    let relay = Relay::to(socket(&addr)).await;
    // Ada sends her camera (the test pattern) through the relay; Bo watches, connected directly.
    let ada_ui = Arc::new(Recorder::default());
    let (ada, ada_id) = app_joins(
        &relay.server(),
        "Ada",
        &created,
        &key,
        &mut host,
        &ada_ui,
        true,
        Vec::new(),
    )
    .await;
    let bo_ui = Arc::new(Recorder::default());
    let pictures = Arc::new(Pictures::default());
    let (bo, _) = app_joins(
        &addr,
        "Bo",
        &created,
        &key,
        &mut host,
        &bo_ui,
        false,
        vec![pictures.clone() as Arc<dyn MediaSink>],
    )
    .await;
    let seen = |n: u64| {
        let pictures = pictures.clone();
        move |_: &Host, _: &Recorder| pictures.from(ada_id) >= n
    };
    until_within(
        &mut host,
        &bo_ui,
        "Bo sees Ada",
        MEDIA_CONNECT + STEP,
        seen(10),
    )
    .await;

    relay.cut();
    until(&mut host, &ada_ui, "Ada reconnecting", |_, u| {
        u.last().reconnecting
    })
    .await;
    host.pump(Duration::from_secs(3)).await;
    let before = pictures.from(ada_id);
    relay.restore(socket(&addr));
    let restored = tokio::time::Instant::now();
    until_within(
        &mut host,
        &bo_ui,
        "Bo sees Ada again",
        MEDIA_CONNECT + STEP,
        seen(before + 10),
    )
    .await;
    println!(
        "reconnect: Bo sees Ada's camera again {} ms after the network returned",
        restored.elapsed().as_millis()
    );
    assert!(!ada_ui.last().reconnecting);
    for s in [ada, bo] {
        assert!(s.send(Control::Leave).await);
        s.finished(Duration::from_secs(10)).await;
    }
}

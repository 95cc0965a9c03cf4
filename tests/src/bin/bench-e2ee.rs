//! `bench-e2ee [N] [ROUNDS]` (release: `make bench-e2ee`): how long the meeting's encryption
//! takes to follow a join and a leave with N participants already in it (default 100), over
//! the real server and real WebSockets on loopback.
//!
//! N participants (the signaling half of parley-cli: `Signaling` + `E2ee`, no media) join one
//! by one and are added to the MLS group. Then, ROUNDS times: one more joins, and the clock
//! runs from the moment it sends `join` until every participant (the newcomer included) holds
//! the new epoch's keys; then it leaves, and the clock runs from its `leave` until everyone
//! left holds the keys of the epoch that removes it. Bar (issue 6): under 1 s at 100.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_client::Signaling;
use parley_client::e2ee::{E2ee, E2eeEvent};
use parley_proto::{ClientMessage, DisplayName, Identity, MeetingKey, RoomToken, ServerAddr};
use parley_server::{Config, Server};
use tokio::sync::mpsc;

/// A participant's report: who, which epoch it now holds, with how many members, and when.
type Report = (usize, u64, usize, Instant);

struct Client {
    leave: mpsc::Sender<()>,
}

async fn participant(
    n: usize,
    srv: ServerAddr,
    tls: Arc<rustls::ClientConfig>,
    room: RoomToken,
    key: MeetingKey,
    reports: mpsc::UnboundedSender<Report>,
) -> Client {
    let me = Identity::generate();
    let mut sig = Signaling::connect(&srv, tls).await.expect("connect");
    let name = DisplayName::new(&format!("P{n}")).expect("name");
    let first = sig.join(&room, &name, &me, None, None).await.expect("join");
    let mut e2ee = E2ee::new(&key, &me).expect("e2ee");
    sig.send(&e2ee.key_package_message().expect("kp"))
        .await
        .expect("send");
    let (leave, mut leave_rx) = mpsc::channel(1);
    let (mut tx, mut rx) = sig.split();
    let report = move |events: Vec<E2eeEvent>| {
        for e in events {
            if let E2eeEvent::Secured { epoch, members, .. } = e {
                let _ = reports.send((n, epoch, members, Instant::now()));
            }
        }
    };
    let inbound = e2ee.on_message(Instant::now(), first);
    report(inbound.events);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                m = rx.recv() => {
                    let Ok(Some(m)) = m else { break };
                    let inbound = e2ee.on_message(Instant::now(), m);
                    for r in &inbound.send {
                        if tx.send(r).await.is_err() { return; }
                    }
                    report(inbound.events);
                }
                _ = tick.tick() => {
                    for r in e2ee.poll(Instant::now()) {
                        if tx.send(&r).await.is_err() { return; }
                    }
                }
                _ = leave_rx.recv() => {
                    let _ = tx.send(&ClientMessage::Leave {}).await;
                    break;
                }
            }
        }
    });
    Client { leave }
}

/// Wait until every participant in `who` reported holding a group of `members`; when the
/// last did.
async fn all_hold(
    reports: &mut mpsc::UnboundedReceiver<Report>,
    who: &[usize],
    members: usize,
    state: &mut Vec<(u64, usize)>,
) -> Instant {
    let mut last = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    if let Some(max) = who.iter().max()
        && state.len() <= *max
    {
        state.resize(max + 1, (0, 0));
    }
    while !who.iter().all(|w| state[*w].1 == members) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some((n, epoch, m, at))) = tokio::time::timeout(left, reports.recv()).await else {
            panic!("not everyone reached {members} members in time");
        };
        if n >= state.len() {
            state.resize(n + 1, (0, 0));
        }
        state[n] = (epoch, m);
        if m == members {
            last = last.max(at);
        }
    }
    last
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let server = Server::bind(Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Config::default()
    })
    .await
    .expect("server");
    let srv = ServerAddr::parse(&format!("http://{}", server.local_addr())).expect("addr");
    tokio::spawn(server.run());
    let tls = parley_client::tls::client_config(None).expect("tls");
    let created = parley_tests::bots::open_meeting(&srv, tls.clone(), "Assembly").await;
    let key = MeetingKey::random();
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let mut state: Vec<(u64, usize)> = Vec::new();
    let mut clients = Vec::new();
    let started = Instant::now();
    for i in 0..n {
        clients.push(
            participant(
                i,
                srv.clone(),
                tls.clone(),
                created.room.clone(),
                key.clone(),
                report_tx.clone(),
            )
            .await,
        );
        let who: Vec<usize> = (0..=i).collect();
        all_hold(&mut reports, &who, i + 1, &mut state).await;
        if (i + 1) % 25 == 0 {
            eprintln!(
                "{} participants in the group ({:.0} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let (mut joins, mut leaves) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let id = n + r;
        let t0 = Instant::now();
        let newcomer = participant(
            id,
            srv.clone(),
            tls.clone(),
            created.room.clone(),
            key.clone(),
            report_tx.clone(),
        )
        .await;
        let mut who: Vec<usize> = (0..n).collect();
        who.push(id);
        let done = all_hold(&mut reports, &who, n + 1, &mut state).await;
        joins.push(done.duration_since(t0));
        let t1 = Instant::now();
        newcomer.leave.send(()).await.expect("leave");
        let who: Vec<usize> = (0..n).collect();
        let done = all_hold(&mut reports, &who, n, &mut state).await;
        leaves.push(done.duration_since(t1));
        eprintln!(
            "round {}: join {:.0} ms, leave {:.0} ms",
            r + 1,
            ms(joins[r]),
            ms(leaves[r])
        );
    }
    joins.sort();
    leaves.sort();
    println!(
        "{n} participants: everyone holds the new keys {:.0} ms (median; worst {:.0} ms) after a join, {:.0} ms (worst {:.0} ms) after a leave, over {rounds} rounds",
        ms(joins[joins.len() / 2]),
        ms(*joins.last().expect("a round")),
        ms(leaves[leaves.len() / 2]),
        ms(*leaves.last().expect("a round")),
    );
    drop(clients);
}

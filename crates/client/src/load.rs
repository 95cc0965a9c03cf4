//! `parley-cli load`: many participants in one meeting, through the waiting room, admitted in
//! bulk, then chatting. Measures what BENCHMARKS.md reports.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parley_client::api::create_meeting;
use parley_client::{ClientError, Signaling};
use parley_proto::api::CreateMeeting;
use parley_proto::{
    ClientMessage, DisplayName, Identity, PolicyChange, ServerAddr, ServerMessage, Title,
};
use tokio::sync::Semaphore;

/// Options of `parley-cli load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// The server, e.g. http://127.0.0.1:7880.
    #[arg(long)]
    server: String,
    /// Participants (besides the host).
    #[arg(long, short = 'n', default_value_t = 100)]
    participants: usize,
    /// How many of them send chat messages.
    #[arg(long, default_value_t = 50)]
    chatters: usize,
    /// Chat messages each chatter sends.
    #[arg(long, default_value_t = 10)]
    chats_each: usize,
    /// Chat messages per second each chatter sends (stay under the server's rate limit).
    #[arg(long, default_value_t = 5.0)]
    chat_rate: f64,
    /// Connections opened at once.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// The server's process id, to report its memory and CPU.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Host API token, for servers that require one.
    #[arg(long, env = "PARLEY_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
}

struct Participant {
    joined: tokio::sync::oneshot::Receiver<Instant>,
    roster_done: tokio::sync::oneshot::Receiver<()>,
    tx: parley_client::signaling::SignalingTx,
}

/// Run the load test and print the report.
pub async fn run(tls: &Arc<rustls::ClientConfig>, a: &LoadArgs) -> Result<ExitCode, ClientError> {
    let server = ServerAddr::parse(&a.server)?;
    let n = a.participants;
    let created = create_meeting(
        &server,
        a.api_token.as_deref(),
        &CreateMeeting {
            title: Title::new("Load test")?,
            passcode: None,
            policy: PolicyChange {
                capacity: Some(u32::try_from(n + 1).unwrap_or(u32::MAX)),
                ..Default::default()
            },
        },
        tls.clone(),
    )
    .await?;
    let rss_start = a.server_pid.and_then(rss_kib);

    // The host.
    let mut host = Signaling::connect(&server, tls.clone()).await?;
    host.join(
        &created.room,
        &DisplayName::new("Host")?,
        &Identity::generate(),
        None,
        Some(created.host_secret.clone()),
    )
    .await?;
    let (mut host_tx, mut host_rx) = host.split();
    let delivered = Arc::new(AtomicU64::new(0));
    {
        let delivered = delivered.clone();
        tokio::spawn(async move {
            while let Ok(Some(m)) = host_rx.recv().await {
                if matches!(m, ServerMessage::Chat { .. }) {
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    // Everyone knocks.
    eprintln!("connecting {n} participants…");
    let sem = Arc::new(Semaphore::new(a.concurrency.max(1)));
    let t_connect = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let sem = sem.clone();
        let tls = tls.clone();
        let server = server.clone();
        let room = created.room.clone();
        let delivered = delivered.clone();
        let expected_roster = n + 1;
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let start = Instant::now();
            let mut sig = Signaling::connect(&server, tls).await?;
            let name = DisplayName::new(&format!("Bot {i}"))?;
            let first = sig
                .join(&room, &name, &Identity::generate(), None, None)
                .await?;
            let waited = start.elapsed();
            if !matches!(first, ServerMessage::Waiting { .. }) {
                return Err(ClientError::Protocol("expected the waiting room".into()));
            }
            let (tx, mut rx) = sig.split();
            let (joined_tx, joined) = tokio::sync::oneshot::channel();
            let (roster_tx, roster_done) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let mut joined_tx = Some(joined_tx);
                let mut roster_tx = Some(roster_tx);
                let mut roster = 0usize;
                // The bots read only the `type` (the server writes it first) and count
                // roster entries, so that one core of bots can keep up with the server. Each
                // yields after every message: a thousand bots share one core, and none should
                // read its whole roster while another's "joined" waits unread (real clients
                // each have their own machine).
                while let Ok(Some(m)) = rx.recv_text().await {
                    tokio::task::yield_now().await;
                    if m.starts_with(r#"{"type":"joined""#) {
                        if let Some(t) = joined_tx.take() {
                            let _ = t.send(Instant::now());
                        }
                    } else if m.starts_with(r#"{"type":"participants_joined""#) {
                        roster += m.matches(r#""id":"#).count();
                        if roster >= expected_roster
                            && let Some(t) = roster_tx.take()
                        {
                            let _ = t.send(());
                        }
                    } else if m.starts_with(r#"{"type":"chat""#) {
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            Ok::<_, ClientError>((
                waited,
                Participant {
                    joined,
                    roster_done,
                    tx,
                },
            ))
        }));
    }
    let mut join_to_waiting = Vec::with_capacity(n);
    let mut people = Vec::with_capacity(n);
    for t in tasks {
        let (waited, p) = t
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))??;
        join_to_waiting.push(waited);
        people.push(p);
    }
    let connect_secs = t_connect.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_waiting = a.server_pid.and_then(rss_kib);

    // Admit everyone at once.
    eprintln!("admitting {n} participants in bulk…");
    let cpu_before_admit = a.server_pid.and_then(cpu_ticks);
    let t_admit = Instant::now();
    host_tx.send(&ClientMessage::AdmitAll {}).await?;
    let mut admit_latency = Vec::with_capacity(n);
    for p in &mut people {
        let t = (&mut p.joined)
            .await
            .map_err(|_| ClientError::Protocol("a participant was never admitted".into()))?;
        admit_latency.push(t.saturating_duration_since(t_admit));
    }
    for p in &mut people {
        (&mut p.roster_done)
            .await
            .map_err(|_| ClientError::Protocol("a roster never completed".into()))?;
    }
    let admit_all_done = t_admit.elapsed();
    let cpu_after_admit = a.server_pid.and_then(cpu_ticks);

    // Idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = a.server_pid.and_then(rss_kib);

    // Chat.
    let chatters = a.chatters.min(n);
    let expected = (chatters * a.chats_each * (n + 1)) as u64;
    eprintln!(
        "{chatters} participants send {} chat messages each ({expected} deliveries)…",
        a.chats_each
    );
    delivered.store(0, Ordering::Relaxed);
    let cpu_before_chat = a.server_pid.and_then(cpu_ticks);
    let t_chat = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / a.chat_rate.max(0.1));
    let mut senders = Vec::new();
    for (i, mut p) in people.into_iter().enumerate() {
        if i >= chatters {
            senders.push(tokio::spawn(async move { Ok::<_, ClientError>(p.tx) }));
            continue;
        }
        let each = a.chats_each;
        senders.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(gap);
            for k in 0..each {
                tick.tick().await;
                p.tx.send(&ClientMessage::Chat {
                    to: None,
                    body: format!("message {k} from bot {i}"),
                })
                .await?;
            }
            Ok(p.tx)
        }));
    }
    let mut txs = Vec::new();
    for s in senders {
        txs.push(
            s.await
                .map_err(|e| ClientError::Protocol(e.to_string()))??,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let chat_secs = t_chat.elapsed().as_secs_f64();
    let got = delivered.load(Ordering::Relaxed);
    let cpu_after_chat = a.server_pid.and_then(cpu_ticks);

    // Report.
    join_to_waiting.sort();
    admit_latency.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |v: &[Duration], p: f64| {
        v.get(
            ((v.len() as f64 * p).ceil() as usize)
                .saturating_sub(1)
                .min(v.len().saturating_sub(1)),
        )
        .copied()
        .unwrap_or_default()
    };
    println!("participants: {n} (+1 host), connected in {connect_secs:.2} s");
    println!(
        "join → waiting room:   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        ms(pct(&join_to_waiting, 0.50)),
        ms(pct(&join_to_waiting, 0.99)),
        ms(pct(&join_to_waiting, 1.0))
    );
    println!(
        "admit-all → admitted:  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  (everyone's full roster after {:.1} ms)",
        ms(pct(&admit_latency, 0.50)),
        ms(pct(&admit_latency, 0.99)),
        ms(pct(&admit_latency, 1.0)),
        ms(admit_all_done)
    );
    println!(
        "chat: {got}/{expected} deliveries in {chat_secs:.2} s = {:.0} messages/s relayed",
        got as f64 / chat_secs
    );
    if let (Some(s), Some(w), Some(i)) = (rss_start, rss_waiting, rss_idle) {
        println!(
            "server RSS: {s} KiB before, {w} KiB with {n} waiting, {i} KiB with {n} admitted and idle = {:.1} KiB per participant",
            (i.saturating_sub(s)) as f64 / n as f64
        );
    }
    if let (Some(a0), Some(a1), Some(c0), Some(c1)) = (
        cpu_before_admit,
        cpu_after_admit,
        cpu_before_chat,
        cpu_after_chat,
    ) {
        let hz = 100.0;
        println!(
            "server CPU: admit-all {:.2} s, chat phase {:.2} s ({:.0} % of one core)",
            (a1 - a0) as f64 / hz,
            (c1 - c0) as f64 / hz,
            (c1 - c0) as f64 / hz / chat_secs * 100.0
        );
    }
    host_tx.send(&ClientMessage::End {}).await?;
    for mut t in txs {
        t.close().await;
    }
    Ok(if got >= expected {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Resident set size of a process, in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU time of a process, in clock ticks (Linux, 100 per second).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

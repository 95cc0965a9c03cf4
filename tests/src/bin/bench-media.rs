//! Media benchmarks with the real `parley-server` (build both in release first:
//! `cargo build --release --bins`; `make bench-media` does it all).
//!
//! ```text
//! bench-media latency [SECS]          two participants at 640x360@30: capture → decoded frame
//!                                     and capture → played audio, p50/p99
//! bench-media client [SECS]           one parley-cli sending 1280x720@30 and receiving
//!                                     4 × 640x360@30: its CPU and memory
//! bench-media soak BOTS MINUTES [CHURN_SECS]
//!                                     BOTS participants at 160x90@15 with audio for MINUTES,
//!                                     one of them replaced every CHURN_SECS (default 30):
//!                                     the server's and the bots' memory and open files,
//!                                     sampled each minute
//! bench-media sfu PUBS SUBS [SECS [video-only]]
//!                                     PUBS prerecorded publishers, SUBS receive-only
//!                                     participants: what the SFU forwards and what it costs
//! ```
//!
//! The server runs on core 0 and the bots on core 1 (`taskset`) when the machine has two cores
//! or more, so the server's CPU time is its own.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_client::call::{Call, CallOptions, RemoteMedia, VideoFormat};
use parley_proto::api::MeetingCreated;
use parley_proto::{MeetingKey, MeetingLink, ServerAddr};
use parley_tests::bots::{self, Pump};
use parley_tests::measure::{cpu_seconds, memory_mib, pin};
use parley_tests::{ServerProc, bin, temp_dir};

fn usage() -> ! {
    eprintln!(
        "usage: bench-media latency [SECS] | client [SECS] | sfu PUBLISHERS SUBSCRIBERS [SECS] \
         | soak BOTS MINUTES [CHURN_SECS]"
    );
    std::process::exit(2)
}

struct Setup {
    server: ServerProc,
    srv: ServerAddr,
    tls: Arc<rustls::ClientConfig>,
    created: MeetingCreated,
}

/// Start the server on core 0 and put this process (the bots) on `bots_core`.
async fn setup(tag: &str, bots_core: u32) -> Setup {
    let dir = temp_dir(tag);
    let level = std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into());
    let server = ServerProc::start_with(&dir, &[], &level);
    pin(server.pid(), 0);
    pin(std::process::id(), bots_core);
    let srv = ServerAddr::parse(&server.url).unwrap();
    let tls = parley_client::tls::client_config(None).unwrap();
    let created = bots::open_meeting(&srv, tls.clone(), "Bench").await;
    Setup {
        server,
        srv,
        tls,
        created,
    }
}

type Got = BTreeMap<String, RemoteMedia>;

/// A participant in this process, running until the last of `marks`; returns their number and
/// what they had received at each mark.
fn participant(
    s: &Setup,
    name: String,
    host: bool,
    options: CallOptions,
    how: Pump<'static>,
    marks: Vec<Instant>,
) -> tokio::task::JoinHandle<(u32, Vec<Got>)> {
    let (srv, tls, room) = (s.srv.clone(), s.tls.clone(), s.created.room.clone());
    let secret = host.then(|| s.created.host_secret.clone());
    tokio::spawn(async move {
        let (me, sig) = bots::join(&srv, tls, &room, &name, secret).await;
        let (mut call, offer) =
            Call::start_with_options(me, "127.0.0.1:0".parse().unwrap(), options)
                .await
                .unwrap();
        let (mut tx, mut rx) = sig.split();
        tx.send(&offer).await.unwrap();
        let mut got = Vec::new();
        for end in marks {
            let how = Pump {
                end: Some(end),
                ..how
            };
            bots::pump(&mut call, &mut tx, &mut rx, how).await;
            got.push(call.stats());
        }
        call.close().await;
        (me, got)
    })
}

fn ms(v: Option<u32>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

async fn latency(secs: u64) {
    let s = setup("bench-latency", 1).await;
    let format: VideoFormat = "640x360@30".parse().unwrap();
    let end = Instant::now() + Duration::from_secs(secs);
    let options = CallOptions {
        video: format,
        ..CallOptions::default()
    };
    let a = participant(
        &s,
        "Ann".into(),
        true,
        options.clone(),
        Pump::default(),
        vec![end],
    );
    let b = participant(&s, "Bob".into(), false, options, Pump::default(), vec![end]);
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let (a, b) = ((a.0, a.1[0].clone()), (b.0, b.1[0].clone()));
    println!(
        "latency on loopback, {secs} s, {}x{}@{}",
        format.width, format.height, format.fps
    );
    for ((me, got), (them, _)) in [(&a, &b), (&b, &a)] {
        let g = got.get(&them.to_string()).cloned().unwrap_or_default();
        println!(
            "  {me} from {them}: video {} frames, capture→decoded p50 {} ms p99 {} ms, \
             longest freeze {} ms; audio capture→played p50 {} ms p99 {} ms",
            g.video_frames,
            ms(g.video_latency_p50_ms),
            ms(g.video_latency_p99_ms),
            g.longest_freeze_ms,
            ms(g.audio_latency_p50_ms),
            ms(g.audio_latency_p99_ms),
        );
    }
    drop(s.server);
}

async fn client(secs: u64) {
    let s = setup("bench-client", 0).await;
    let end = Instant::now() + Duration::from_secs(secs + 5);
    // End-to-end encrypted like every meeting: the measured client decrypts what it decodes.
    let key = MeetingKey::random();
    let meeting = bots::SecureMeeting {
        srv: s.srv.clone(),
        tls: s.tls.clone(),
        room: s.created.room.clone(),
        key: key.clone(),
    };
    let others: Vec<_> = (0..4)
        .map(|i| {
            let options = CallOptions {
                video: "640x360@30".parse().unwrap(),
                decode: false,
                ..CallOptions::default()
            };
            let secret = (i == 0).then(|| s.created.host_secret.clone());
            bots::spawn_secure_sender(&meeting, format!("Bot {i}"), secret, options, end, true)
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let link = MeetingLink::new(s.srv.clone(), s.created.room.clone(), key);
    let dir = temp_dir("bench-client-cli");
    let mut cli = Command::new(bin("parley-cli"))
        .args(["--json", "--synthetic", "--video", "1280x720@30"])
        .args(["--duration", &format!("{secs}s")])
        .arg("--identity")
        .arg(dir.join("id.key"))
        .args(["join", &link.to_string(), "--name", "Measured"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start parley-cli (build it with --release)");
    let pid = cli.id();
    // The measured client has core 1 to itself.
    pin(pid, 1);
    // Leave the first 10 s for connecting and ramping up.
    let warm = 10.min(secs / 2);
    tokio::time::sleep(Duration::from_secs(warm)).await;
    let (c0, t0) = (cpu_seconds(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(secs - warm - 2)).await;
    let (c1, t1) = (cpu_seconds(pid), Instant::now());
    let rss = memory_mib(pid, "VmRSS");
    let peak = memory_mib(pid, "VmHWM");
    let out = std::io::read_to_string(cli.stdout.take().unwrap()).unwrap_or_default();
    let _ = cli.wait();
    let last_media = out
        .lines()
        .rfind(|l| {
            l.contains("\"type\":\"media\"") && l.contains("\"fps\":") && !l.contains("\"fps\":0.0")
        })
        .unwrap_or("{}")
        .to_string();
    for o in others {
        let _ = o.await;
    }
    let cpu = (c1 - c0) / t1.duration_since(t0).as_secs_f64();
    println!("client sending 1280x720@30 and receiving 4 x 640x360@30 ({secs} s):");
    println!(
        "  CPU {:.0} % of one core, RSS {rss:.0} MiB (peak {peak:.0} MiB)",
        cpu * 100.0
    );
    let v: serde_json::Value = serde_json::from_str(&last_media).unwrap_or_default();
    if let Some(from) = v["from"].as_object() {
        for (who, m) in from {
            println!(
                "  from {who}: {} fps, {} kbit/s, {} frames, latency p50 {} ms p99 {} ms",
                m["fps"],
                m["kbps"],
                m["video_frames"],
                m["video_latency_p50_ms"],
                m["video_latency_p99_ms"]
            );
        }
    }
    drop(s.server);
}

async fn sfu(publishers: usize, subscribers: usize, secs: u64, audio: bool) {
    let s = setup("bench-sfu", 1).await;
    let pid = s.server.pid();
    // Everyone joins, connects and settles; then the window measured; then a little more.
    let settle = Duration::from_secs(8 + (publishers + subscribers) as u64 / 10);
    let t0 = Instant::now() + settle;
    let t1 = t0 + Duration::from_secs(secs);
    let marks = vec![t0, t1, t1 + Duration::from_secs(2)];
    let mut tasks = Vec::new();
    for i in 0..publishers {
        let options = CallOptions {
            video: "640x360@30".parse().unwrap(),
            decode: false,
            prerecorded: true,
            ..CallOptions::default()
        };
        let how = Pump {
            no_audio: !audio,
            ..Pump::default()
        };
        let name = format!("Pub {i}");
        tasks.push(participant(&s, name, i == 0, options, how, marks.clone()));
    }
    for i in 0..subscribers {
        let options = CallOptions {
            decode: false,
            ..CallOptions::default()
        };
        let how = Pump {
            silent: true,
            ..Pump::default()
        };
        let name = format!("Sub {i}");
        tasks.push(participant(&s, name, false, options, how, marks.clone()));
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep_until(t0.into()).await;
    let c0 = cpu_seconds(pid);
    tokio::time::sleep_until(t1.into()).await;
    let c1 = cpu_seconds(pid);
    let rss = memory_mib(pid, "VmRSS");
    let cpu = (c1 - c0) / secs as f64;
    let (mut video_packets, mut audio_packets, mut video_bytes, mut lost) =
        (0u64, 0u64, 0u64, 0u64);
    let mut streams = 0usize;
    for t in tasks {
        let (_, got) = t.await.unwrap();
        for (who, m1) in &got[1] {
            let m0 = got[0].get(who).cloned().unwrap_or_default();
            let packets = m1.video_packets - m0.video_packets;
            if packets > 0 {
                streams += 1;
            }
            video_packets += packets;
            audio_packets += (m1.audio_ms - m0.audio_ms) / 20;
            video_bytes += m1.video_bytes - m0.video_bytes;
            lost += m1.video_packets_lost.saturating_sub(m0.video_packets_lost);
        }
    }
    let secs_f = secs as f64;
    println!(
        "SFU: {publishers} publishers (640x360@30 prerecorded, {}) to {subscribers} \
         receive-only subscribers, {secs} s measured",
        if audio { "with audio" } else { "video only" }
    );
    println!(
        "  outgoing video streams: {streams} (expected {})",
        publishers * (publishers - 1 + subscribers)
    );
    println!(
        "  forwarded {:.0} video + {:.0} audio packets/s ({:.1} Mbit/s of video); \
         video packets missing at receivers: {lost}",
        video_packets as f64 / secs_f,
        audio_packets as f64 / secs_f,
        video_bytes as f64 * 8.0 / secs_f / 1e6
    );
    println!(
        "  server CPU {:.1} % of one core, RSS {rss:.0} MiB",
        cpu * 100.0
    );
    if cpu > 0.0 {
        println!(
            "  per outgoing video stream{}: {:.3} % of a core -> {:.0} streams per core; \
             {:.0} packets/s per core",
            if audio { " (with its audio)" } else { "" },
            cpu * 100.0 / streams.max(1) as f64,
            streams as f64 / cpu,
            (video_packets + audio_packets) as f64 / secs_f / cpu
        );
    }
}

/// Open files of a process.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// One soak participant: joins, sends and receives until told to go, then leaves with a
/// goodbye. Counts the video frames it decoded into `frames` when it goes.
fn soak_bot(
    s: &Setup,
    name: String,
    host: bool,
    stop: tokio::sync::watch::Receiver<bool>,
    frames: Arc<std::sync::atomic::AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    let (srv, tls, room) = (s.srv.clone(), s.tls.clone(), s.created.room.clone());
    let secret = host.then(|| s.created.host_secret.clone());
    tokio::spawn(async move {
        let (me, sig) = bots::join(&srv, tls, &room, &name, secret).await;
        let options = CallOptions {
            video: "160x90@15".parse().unwrap(),
            ..CallOptions::default()
        };
        let (mut call, offer) =
            Call::start_with_options(me, "127.0.0.1:0".parse().unwrap(), options)
                .await
                .unwrap();
        let (mut tx, mut rx) = sig.split();
        tx.send(&offer).await.unwrap();
        let mut stop = stop;
        // Pump in 5 s slices, looking at the stop signal between them.
        while !*stop.borrow_and_update() {
            let how = Pump {
                end: Some(Instant::now() + Duration::from_secs(5)),
                ..Pump::default()
            };
            bots::pump(&mut call, &mut tx, &mut rx, how).await;
        }
        let decoded: u64 = call.stats().values().map(|m| m.video_frames).sum();
        frames.fetch_add(decoded, std::sync::atomic::Ordering::Relaxed);
        let _ = tx.send(&parley_proto::ClientMessage::Leave {}).await;
        call.close().await;
    })
}

/// Tell a soak participant to go and wait for it; one that has not finished leaving
/// within 20 s is stopped and counted in `stuck`.
async fn soak_leave(
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    stuck: Arc<std::sync::atomic::AtomicU64>,
) {
    let _ = stop.send(true);
    let abort = task.abort_handle();
    if tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .is_err()
    {
        abort.abort();
        stuck.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Many participants for a long time, some coming and going: does memory come back?
async fn soak(bots: usize, minutes: u64, churn_secs: u64) {
    let s = setup("bench-soak", 1).await;
    let me = std::process::id();
    let frames = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stuck = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut running = Vec::new();
    for i in 0..bots.max(2) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let task = soak_bot(&s, format!("Bot {i}"), i == 0, rx, frames.clone());
        running.push((tx, task));
    }
    println!(
        "soak: {} participants at 160x90@15 with audio, one replaced every {churn_secs} s, \
         {minutes} min; server pid {}",
        running.len(),
        s.server.pid()
    );
    println!("  min | server RSS MiB | server files | bots RSS MiB | bots files | replaced");
    let start = Instant::now();
    let end = start + Duration::from_secs(minutes * 60);
    let mut next_sample = start;
    let mut next_churn = start + Duration::from_secs(churn_secs.max(1));
    let (mut replaced, mut named) = (0usize, running.len());
    let mut samples: Vec<(f64, f64, usize, f64, usize)> = Vec::new();
    while Instant::now() < end {
        let now = Instant::now();
        if now >= next_sample {
            let min = now.duration_since(start).as_secs_f64() / 60.0;
            let row = (
                min,
                memory_mib(s.server.pid(), "VmRSS:"),
                open_files(s.server.pid()),
                memory_mib(me, "VmRSS:"),
                open_files(me),
            );
            println!(
                "  {:>4.0} | {:>14.1} | {:>12} | {:>12.1} | {:>10} | {replaced}",
                row.0, row.1, row.2, row.3, row.4
            );
            samples.push(row);
            next_sample += Duration::from_secs(60);
        }
        if now >= next_churn {
            // Replace the longest-running participant but the host. It leaves in the
            // background (a participant that does not finish leaving within 20 s is stopped
            // and counted), so the samples keep their pace.
            let (tx, task) = running.remove(1);
            tokio::spawn(soak_leave(tx, task, stuck.clone()));
            let (tx, rx) = tokio::sync::watch::channel(false);
            running.push((
                tx,
                soak_bot(&s, format!("Bot {named}"), false, rx, frames.clone()),
            ));
            named += 1;
            replaced += 1;
            next_churn += Duration::from_secs(churn_secs.max(1));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for (tx, task) in running {
        soak_leave(tx, task, stuck.clone()).await;
    }
    // Growth over all but the first 10 minutes (or the first sample of a short run).
    let skip = samples.iter().position(|r| r.0 >= 10.0).unwrap_or(0);
    if let (Some(a), Some(b)) = (samples.get(skip), samples.last()) {
        let pct = |x: f64, y: f64| if x > 0.0 { (y - x) / x * 100.0 } else { 0.0 };
        println!(
            "  from minute {:.0} to {:.0}: server RSS {:+.1} %, files {:+}; bots RSS {:+.1} %, files {:+}",
            a.0,
            b.0,
            pct(a.1, b.1),
            b.2 as i64 - a.2 as i64,
            pct(a.3, b.3),
            b.4 as i64 - a.4 as i64
        );
    }
    println!(
        "  {replaced} participants replaced ({} did not finish leaving within 20 s); video \
         frames decoded by those who left or stayed: {}",
        stuck.load(std::sync::atomic::Ordering::Relaxed),
        frames.load(std::sync::atomic::Ordering::Relaxed)
    );
    drop(s.server);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| -> u64 {
        args.get(i)
            .map_or(default, |v| v.parse().unwrap_or_else(|_| usage()))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("latency") => rt.block_on(latency(num(1, 30))),
        Some("client") => rt.block_on(client(num(1, 30))),
        Some("soak") => rt.block_on(soak(num(1, 20) as usize, num(2, 60), num(3, 30))),
        Some("sfu") => rt.block_on(sfu(
            num(1, 10) as usize,
            num(2, 20) as usize,
            num(3, 20),
            args.get(4).map(String::as_str) != Some("video-only"),
        )),
        _ => usage(),
    }
}

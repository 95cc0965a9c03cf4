//! Desktop app benchmarks: the real release app window under Xvfb (tauri-driver +
//! WebKitWebDriver), the real `parley-server`, and in-process bots sending prerecorded VP8
//! (cheap senders, so the app is what is measured). Build first: `cargo build --release
//! --bins` (`make bench-app` does it all).
//!
//! ```text
//! bench-app start [RUNS]   cold start: app launched → home screen drawn
//! bench-app call [SECS]    a 4-person call: the app sends 1280x720@30 (camera on) and receives
//!                          3 × 640x360@30; its CPU and memory (PSS over the app and its WebKit
//!                          processes) and the time from pressing Join to the first remote
//!                          picture on screen
//! bench-app tiles [SECS]   9 × 640x360@30 and 1 × 1280x720@30 to the window: pictures drawn
//!                          per second per tile, and what that costs
//! ```
//!
//! The server and the bots share core 0; the app and its WebKit processes get core 1.

use std::time::{Duration, Instant};

use parley_client::call::CallOptions;
use parley_proto::{MeetingKey, MeetingLink, ServerAddr};
use parley_tests::bots;
use parley_tests::desktop::{Desktop, now_ms};
use parley_tests::measure::{cpu_seconds, pin, pss_mib, rss_mib};
use parley_tests::{ServerProc, bin, temp_dir};
use serde_json::Value;

/// The camera preview's participant number in the window's statistics (`PREVIEW_ID`).
const PREVIEW: &str = "4294967295";

fn sel(name: &str) -> String {
    format!("#{name}, [data-testid=\"{name}\"]")
}

fn usage() -> ! {
    eprintln!("usage: bench-app start [RUNS] | call [SECS] | tiles [SECS]");
    std::process::exit(2)
}

fn launch(tag: &str) -> Desktop {
    let dir = temp_dir(tag);
    let artifacts = dir.join("artifacts");
    Desktop::launch(&bin("parley-app"), &dir.join("home"), &artifacts)
}

fn start(runs: u32) {
    let mut all = Vec::new();
    for i in 0..runs {
        let d = launch("bench-app-start");
        d.find(&sel("link-input"));
        let ready = d
            .script("return window.__parley.readyAt", vec![])
            .as_u64()
            .unwrap_or(0);
        let ms = ready.saturating_sub(d.launched_at_ms);
        println!("run {}: app launched → home screen drawn in {ms} ms", i + 1);
        all.push(ms);
    }
    all.sort_unstable();
    println!(
        "cold start over {runs} runs: median {} ms, min {} ms, max {} ms",
        all[all.len() / 2],
        all[0],
        all[all.len() - 1]
    );
}

/// A bot sending prerecorded video of `format` (and Opus) until `end`, end-to-end encrypted
/// as the app expects; `watch`: it also receives video.
fn bot(
    m: &bots::SecureMeeting,
    name: String,
    format: &str,
    end: Instant,
    secret: Option<parley_proto::HostSecret>,
    watch: bool,
) -> tokio::task::JoinHandle<impl Sized + use<>> {
    let options = CallOptions {
        video: format.parse().unwrap(),
        decode: false,
        // Prerecorded senders cost almost nothing; BENCH_LIVE=1 encodes every frame instead.
        prerecorded: std::env::var_os("BENCH_LIVE").is_none(),
        ..CallOptions::default()
    };
    bots::spawn_secure_sender(m, name, secret, options, end, watch)
}

/// CPU seconds of a set of processes.
fn cpu_of(pids: &[u32]) -> f64 {
    pids.iter().map(|&p| cpu_seconds(p)).sum()
}

fn video_stats(d: &Desktop) -> Value {
    d.script("return window.__parley.video", vec![])
}

/// Join `link` from the home screen, camera on or off; returns when Join was pressed (ms).
fn join(d: &Desktop, link: &str, camera: bool) -> u64 {
    d.type_into(&sel("link-input"), link);
    d.click(&sel("join-button"));
    d.type_into(&sel("name-input"), "Measured");
    if camera {
        d.click(&sel("camera-toggle"));
    }
    let pressed = now_ms();
    d.click(&sel("enter-button"));
    d.find(&sel("meeting-screen"));
    pressed
}

/// Run a call of `senders` (name, format) bots and the app; print what it cost.
async fn measure(tag: &str, senders: &[(&str, &str)], camera: bool, secs: u64) {
    let dir = temp_dir(tag);
    let server = ServerProc::start_with(&dir, &[], "warn");
    pin(server.pid(), 0);
    pin(std::process::id(), 0);
    let srv = ServerAddr::parse(&server.url).unwrap();
    let tls = parley_client::tls::client_config(None).unwrap();
    let created = bots::open_meeting(&srv, tls, "Bench").await;
    let key = MeetingKey::random();
    let link = MeetingLink::new(srv.clone(), created.room.clone(), key.clone());
    let warm = 10;
    let end = Instant::now() + Duration::from_secs(secs + warm + 20);
    let meeting = bots::SecureMeeting {
        srv: srv.clone(),
        tls: parley_client::tls::client_config(None).unwrap(),
        room: created.room.clone(),
        key: key.clone(),
    };
    let bots: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(i, (name, format))| {
            let secret = (i == 0).then(|| created.host_secret.clone());
            // In the tiles run the bots only send; in the call they receive the app's video.
            bot(&meeting, name.to_string(), format, end, secret, camera)
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let d = tokio::task::block_in_place(|| launch(&format!("{tag}-app")));
    let app = d.app_processes();
    for &p in &app {
        pin(p, 1);
    }
    let pressed = tokio::task::block_in_place(|| join(&d, &link.to_string(), camera));
    if senders.len() > 8 {
        // Room for every tile on one page.
        d.script(
            "const s = document.getElementById('per-page'); s.value = '16'; s.dispatchEvent(new Event('change', {bubbles: true})); return 1",
            vec![],
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = loop {
        let v = video_stats(&d);
        // Remote pictures only: the pre-join camera preview is drawn as participant u32::MAX.
        let firsts: Vec<u64> = v["firstDrawnAt"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(id, _)| *id != PREVIEW)
                    .filter_map(|(_, t)| t.as_u64())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(f) = firsts.iter().min() {
            break Some(f.saturating_sub(pressed));
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_secs(warm)).await;
    let app = d.app_processes();
    let (c0, s0, t0) = (cpu_of(&app), video_stats(&d), Instant::now());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (c1, s1, t1) = (cpu_of(&app), video_stats(&d), Instant::now());
    let pss: f64 = app.iter().map(|&p| pss_mib(p)).sum();
    let main_pss = app.first().map_or(0.0, |&p| pss_mib(p));
    let each: Vec<String> = app
        .iter()
        .map(|&p| {
            let name = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            format!(
                "{} {:.0} MiB PSS ({:.0} MiB RSS)",
                name.trim(),
                pss_mib(p),
                rss_mib(p)
            )
        })
        .collect();
    println!("memory by process: {}", each.join(", "));
    let dt = t1.duration_since(t0).as_secs_f64();
    let cpu = (c1 - c0) / dt;
    println!(
        "app: {} processes, CPU {:.0} % of one core, PSS {pss:.0} MiB in all (the app process {main_pss:.0} MiB, WebKit the rest)",
        app.len(),
        cpu * 100.0
    );
    match first {
        Some(ms) => println!("Join pressed → first remote picture on screen: {ms} ms"),
        None => println!("no remote picture on screen within 30 s"),
    }
    let drawn = |s: &Value, id: &str| s["drawn"][id].as_u64().unwrap_or(0);
    if let Some(ids) = s1["drawn"].as_object() {
        let mut fps: Vec<(String, f64)> = ids
            .keys()
            .filter(|id| *id != PREVIEW)
            .map(|id| {
                let n = drawn(&s1, id) - drawn(&s0, id);
                (id.clone(), n as f64 / dt)
            })
            .collect();
        fps.sort_by(|a, b| a.0.cmp(&b.0));
        let line: Vec<String> = fps.iter().map(|(id, f)| format!("#{id} {f:.1}")).collect();
        println!("pictures drawn per second, per tile: {}", line.join(", "));
    }
    let received = s1["received"].as_u64().unwrap_or(0) - s0["received"].as_u64().unwrap_or(0);
    println!(
        "pictures reaching the window: {:.1} per second in all",
        received as f64 / dt
    );
    let n = |k: &str| s1[k].as_f64().unwrap_or(0.0) - s0[k].as_f64().unwrap_or(0.0);
    println!(
        "in the window: {:.1} batches a second, {:.1} ms from request to arrival on average, {:.1} pictures a second replaced before drawn, converting took {:.0} ms a second",
        n("batches") / dt,
        n("waitedMs") / n("batches").max(1.0),
        n("replaced") / dt,
        n("convertMs") / dt
    );
    // How often the window itself gets to draw (requestAnimationFrame) during the call.
    let raf = tokio::task::block_in_place(|| {
        d.script_async(
            "const done = arguments[arguments.length - 1]; let n = 0; const t0 = performance.now(); \
             const f = () => { n++; if (performance.now() - t0 < 2000) requestAnimationFrame(f); else done(n / ((performance.now() - t0) / 1000)); }; \
             requestAnimationFrame(f);",
        )
    });
    println!("the window's animation frames: {raf} per second");
    drop(d);
    for (i, b) in bots.into_iter().enumerate() {
        b.abort();
        let _ = i;
    }
    drop(server);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let num = |i: usize, default: u64| {
        args.get(i)
            .map_or(Some(default), |a| a.parse().ok())
            .unwrap_or_else(|| usage())
    };
    match args.first().map(String::as_str) {
        Some("start") => start(num(1, 5) as u32),
        Some("call") => {
            let secs = num(1, 20);
            println!(
                "4-person call: the app sends 1280x720@30 and receives 3 × 640x360@30 ({secs} s)"
            );
            runtime.block_on(measure(
                "bench-app-call",
                &[
                    ("Bot 1", "640x360@30"),
                    ("Bot 2", "640x360@30"),
                    ("Bot 3", "640x360@30"),
                ],
                true,
                secs,
            ));
        }
        Some("tiles") => {
            let secs = num(1, 20);
            println!(
                "tiles: 9 × 640x360@30 and 1 × 1280x720@30 to the window, camera off ({secs} s)"
            );
            let mut senders: Vec<(&str, &str)> = vec![("Bot 720p", "1280x720@30")];
            let names = [
                "Bot 1", "Bot 2", "Bot 3", "Bot 4", "Bot 5", "Bot 6", "Bot 7", "Bot 8", "Bot 9",
            ];
            senders.extend(names.iter().map(|n| (*n, "640x360@30")));
            runtime.block_on(measure("bench-app-tiles", &senders, false, secs));
        }
        _ => usage(),
    }
}

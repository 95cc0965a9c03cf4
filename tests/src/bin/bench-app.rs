//! Desktop app benchmarks: the real release app window under Xvfb (tauri-driver +
//! WebKitWebDriver), the real `parley-server`, and in-process bots sending prerecorded VP8
//! (cheap senders, so the app is what is measured). Build first: `cargo build --release
//! --bins` (`make bench-app` does it all).
//!
//! ```text
//! bench-app start [RUNS]   cold start: app launched → home screen drawn
//! bench-app idle [SECS]    memory of the app on its home screen, no meeting
//! bench-app call [SECS]    a 4-person call: the app sends 1280x720@30 (camera on) and receives
//!                          3 × 640x360@30; its CPU and memory (PSS over the app and its WebKit
//!                          processes) and the time from pasting the link to the first remote
//!                          picture on screen
//! bench-app tiles [SECS]   9 × 640x360@30 and 1 × 1280x720@30 to the window: pictures drawn
//!                          per second per tile, and what that costs
//! bench-app guests-at-loss [SECS] [PCT]
//!                          Firefox and Chromium guests sending over one link that loses PCT %
//!                          each way (a network namespace, nftables), watched by a Chromium
//!                          guest: pictures a second and freezes per sender (root, nftables)
//! bench-app versus [SECS] [ROUNDS]
//!                          a 5-person call (send 1280x720@30, receive 4 × 640x360@30), the app
//!                          and then the browser guest in Chromium (`make web` first), ROUNDS
//!                          times: CPU, memory, pictures per tile
//! ```
//!
//! Memory is sampled every 0.5 s for SECS, per process (PSS and RSS from
//! `/proc/PID/smaps_rollup`): min, mean and max. The server and the bots share core 0; the app
//! and its WebKit processes get core 1.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use parley_client::call::CallOptions;
use parley_proto::{MeetingKey, MeetingLink, ServerAddr};
use parley_tests::bots;
use parley_tests::desktop::{Desktop, now_ms};
use parley_tests::measure::{cpu_seconds, name, pin, pss_mib, rss_mib, tree};
use parley_tests::{ServerProc, bin, temp_dir};
use serde_json::Value;

/// The camera preview's participant number in the window's statistics (`PREVIEW_ID`).
const PREVIEW: &str = "4294967295";

fn sel(name: &str) -> String {
    format!("#{name}, [data-testid=\"{name}\"]")
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-app start [RUNS] | idle [SECS] | call [SECS] | tiles [SECS] | versus [SECS] [ROUNDS]"
    );
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

/// Min, mean and max of a series of readings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Spread {
    n: u32,
    min: f64,
    max: f64,
    sum: f64,
}

impl Spread {
    fn add(&mut self, v: f64) {
        if self.n == 0 {
            (self.min, self.max) = (v, v);
        }
        self.n += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
    }

    fn mean(&self) -> f64 {
        self.sum / f64::from(self.n.max(1))
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} / {:.0} / {:.0}", self.min, self.mean(), self.max)
    }
}

/// PSS and RSS of a process in MiB, from one read of `/proc/PID/smaps_rollup`; `None` once it
/// has gone (a gone process is not a reading of 0).
fn pss_rss(pid: u32) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
    };
    Some((field("Pss:")?, field("Rss:")?))
}

/// Memory of a set of processes, read every 0.5 s.
#[derive(Debug, Default)]
struct MemorySamples {
    /// PSS and RSS per process.
    each: BTreeMap<u32, (Spread, Spread)>,
    /// PSS of all of them together, per reading.
    total: Spread,
}

impl MemorySamples {
    const EVERY: Duration = Duration::from_millis(500);

    /// Read `pids` every 0.5 s for `secs` seconds (the first reading at once).
    async fn take(pids: &[u32], secs: u64) -> MemorySamples {
        let mut m = MemorySamples::default();
        let mut tick = tokio::time::interval(Self::EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            tick.tick().await;
            if Instant::now() >= end {
                break;
            }
            let mut total = 0.0;
            for &p in pids {
                if let Some((pss, rss)) = pss_rss(p) {
                    let e = m.each.entry(p).or_default();
                    e.0.add(pss);
                    e.1.add(rss);
                    total += pss;
                }
            }
            m.total.add(total);
        }
        m
    }

    fn print(&self) {
        println!(
            "memory, read every {} ms ({} readings), min / mean / max in MiB:",
            Self::EVERY.as_millis(),
            self.total.n
        );
        for (&p, (pss, rss)) in &self.each {
            println!("  {} (pid {p}): PSS {pss}, RSS {rss}", name_of(p));
        }
        println!("  all of them: PSS {}", self.total);
    }
}

fn name_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The app on its home screen, no meeting: what it holds before anything happens.
async fn idle(secs: u64) {
    pin(std::process::id(), 0);
    let d = tokio::task::block_in_place(|| launch("bench-app-idle"));
    tokio::task::block_in_place(|| d.find(&sel("link-input")));
    let app = d.app_processes();
    for &p in &app {
        pin(p, 1);
    }
    // Let start-up work settle before reading.
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!("idle app on its home screen, no meeting ({secs} s)");
    MemorySamples::take(&app, secs).await.print();
    tokio::task::block_in_place(|| drop(d));
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

/// What the window has received and drawn. (WebDriver calls block: never straight on a runtime
/// thread, where reqwest's debug build refuses them.)
fn video_stats(d: &Desktop) -> Value {
    tokio::task::block_in_place(|| d.script("return window.__parley.video", vec![]))
}

/// When the steps of joining happened (ms since the epoch, the window's clock).
struct Joining {
    /// The link was pasted into the link field.
    pasted: u64,
    /// Join was pressed on the pre-join screen.
    pressed: u64,
}

/// Join `link` from the home screen by pasting it, camera on or off.
fn join(d: &Desktop, link: &str, camera: bool) -> Joining {
    let pasted = d.paste_into(&sel("link-input"), link);
    // The link was taken and checked (the server's name is shown), as a person would see.
    d.find("[data-testid=\"link-server\"]");
    d.click(&sel("join-button"));
    d.type_into(&sel("name-input"), "Measured");
    if camera {
        d.click(&sel("camera-toggle"));
    }
    let pressed = now_ms();
    d.click(&sel("enter-button"));
    d.find(&sel("meeting-screen"));
    Joining { pasted, pressed }
}

/// Seconds a call runs before it is measured.
const WARM: u64 = 10;

/// A meeting on a fresh server (on core 0, with the bench) with `senders` (name, format) bots
/// in it; `watch`: they also receive video. The server offers the browser guest.
struct BotCall {
    server: ServerProc,
    link: MeetingLink,
    bots: Vec<tokio::task::AbortHandle>,
}

async fn bot_call(tag: &str, senders: &[(&str, &str)], watch: bool, secs: u64) -> BotCall {
    let dir = temp_dir(tag);
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist");
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!("guest_dir = {:?}\n", web.canonicalize().unwrap_or(web)),
    )
    .unwrap();
    let server = ServerProc::start_with(&dir, &["--config", config.to_str().unwrap()], "warn");
    pin(server.pid(), 0);
    pin(std::process::id(), 0);
    let srv = ServerAddr::parse(&server.url).unwrap();
    let tls = parley_client::tls::client_config(None).unwrap();
    let created = bots::open_meeting(&srv, tls, "Bench").await;
    let key = MeetingKey::random();
    let link = MeetingLink::new(srv.clone(), created.room.clone(), key.clone());
    let end = Instant::now() + Duration::from_secs(secs + WARM + 40);
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
            bot(&meeting, name.to_string(), format, end, secret, watch).abort_handle()
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    BotCall { server, link, bots }
}

/// Run a call of `senders` (name, format) bots and the app; print what it cost.
async fn measure(tag: &str, senders: &[(&str, &str)], camera: bool, secs: u64) {
    // In the tiles run the bots only send; in the call they receive the app's video.
    let BotCall { server, link, bots } = bot_call(tag, senders, camera, secs).await;
    let warm = WARM;

    let d = tokio::task::block_in_place(|| launch(&format!("{tag}-app")));
    let app = d.app_processes();
    for &p in &app {
        pin(p, 1);
    }
    let joining = tokio::task::block_in_place(|| join(&d, &link.to_string(), camera));
    if senders.len() > 8 {
        // Room for every tile on one page.
        tokio::task::block_in_place(|| {
            d.script(
                "const s = document.getElementById('per-page'); s.value = '16'; s.dispatchEvent(new Event('change', {bubbles: true})); return 1",
                vec![],
            )
        });
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
        if let Some(&f) = firsts.iter().min() {
            break Some(f);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_secs(warm)).await;
    let app = d.app_processes();
    for &p in &app {
        pin(p, 1);
    }
    let (c0, s0, t0) = (cpu_of(&app), video_stats(&d), Instant::now());
    let memory = MemorySamples::take(&app, secs).await;
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
    println!("memory by process at the end: {}", each.join(", "));
    memory.print();
    let dt = t1.duration_since(t0).as_secs_f64();
    let cpu = (c1 - c0) / dt;
    println!(
        "app: {} processes, CPU {:.0} % of one core, PSS {pss:.0} MiB in all (the app process {main_pss:.0} MiB, WebKit the rest)",
        app.len(),
        cpu * 100.0
    );
    let Joining { pasted, pressed } = joining;
    println!(
        "link pasted → Join pressed: {} ms (the bench filling in the pre-join screen; in real use a person's own time)",
        pressed.saturating_sub(pasted)
    );
    match first {
        Some(at) => {
            println!(
                "link pasted → first remote picture on screen: {} ms",
                at.saturating_sub(pasted)
            );
            println!(
                "Join pressed → first remote picture on screen: {} ms",
                at.saturating_sub(pressed)
            );
        }
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
    tokio::task::block_in_place(|| drop(d));
    for b in bots {
        b.abort();
    }
    drop(server);
}

/// The same call as `measure`'s with the browser guest in Debian's Chromium instead of the
/// app (camera and microphone on; the driver `web/test/guest-driver.mjs` joins as a person
/// does); Chromium's processes get core 1. `make web` must have built `web/dist`.
async fn measure_guest(tag: &str, senders: &[(&str, &str)], secs: u64) {
    let BotCall { server, link, bots } = bot_call(tag, senders, true, secs).await;
    let driver =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/test/guest-driver.mjs");
    let mut cmd = std::process::Command::new("node");
    cmd.arg(driver).arg(link.to_string());
    let mut g = parley_tests::CliProc::spawn_program(cmd, "browser guest");
    let wait = Duration::from_secs(120);
    // The driver's answers are read blocking: never straight on a runtime thread.
    use tokio::task::block_in_place as blocking;
    blocking(|| g.expect_within(wait, "state", |v| v["state"] == "choose"));
    // Chromium's processes (not the driver's node) on core 1; some start during the call.
    let node = g.pid();
    let browser = move || -> Vec<u32> {
        tree(node)
            .into_iter()
            .filter(|&p| p != node && !name(p).starts_with("node"))
            .collect()
    };
    pin(node, 0);
    for p in browser() {
        pin(p, 1);
    }
    g.send("join Measured --camera --microphone");
    let clicked = blocking(|| g.expect_within(wait, "join_clicked", |_| true))["t"]
        .as_u64()
        .unwrap_or(0);
    let first =
        blocking(|| g.expect_within(wait, "video", |v| v["total"].as_u64().unwrap_or(0) >= 1));
    tokio::time::sleep(Duration::from_secs(WARM)).await;
    let procs = browser();
    for &p in &procs {
        pin(p, 1);
    }
    let frames = |g: &mut parley_tests::CliProc| -> Vec<u64> {
        g.send("frames");
        blocking(|| g.expect_within(Duration::from_secs(30), "frames", |_| true))["frames"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f.as_u64()).collect())
            .unwrap_or_default()
    };
    let (c0, f0, t0) = (cpu_of(&procs), frames(&mut g), Instant::now());
    let memory = MemorySamples::take(&procs, secs).await;
    let (c1, f1, t1) = (cpu_of(&procs), frames(&mut g), Instant::now());
    let dt = t1.duration_since(t0).as_secs_f64();
    memory.print();
    println!(
        "browser guest (Chromium {}): {} processes, CPU {:.0} % of one core, PSS {:.0} MiB in all (mean of the readings)",
        chromium_version(),
        procs.len(),
        (c1 - c0) / dt * 100.0,
        memory.total.mean()
    );
    println!(
        "Join pressed → first remote picture played: {} ms (the driver looks every 100 ms)",
        first["t"].as_u64().unwrap_or(0).saturating_sub(clicked)
    );
    let fps: Vec<String> = f1
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{:.1}", (n - f0.get(i).copied().unwrap_or(0)) as f64 / dt))
        .collect();
    println!("pictures played per second, per tile: {}", fps.join(", "));
    g.send("sent");
    let sent = blocking(|| g.expect_within(Duration::from_secs(30), "sent", |_| true));
    let layers: Vec<String> = sent["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            format!(
                "{} {}x{} at {} fps ({})",
                l["rid"].as_str().unwrap_or("-"),
                l["width"],
                l["height"],
                l["fps"],
                l["encoder"].as_str().unwrap_or("?")
            )
        })
        .collect();
    println!("the guest's camera sends: {}", layers.join(", "));
    g.send("quit");
    for b in bots {
        b.abort();
    }
    drop(server);
}

/// Relays TCP from 127.0.0.1:PORT inside a network namespace to TARGET (argv 1 and 2), so a
/// browser there opens the invite link at the server's own origin.
const NETNS_RELAY: &str = r#"
import asyncio, sys
port = int(sys.argv[1]); host, tport = sys.argv[2].rsplit(':', 1)
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    finally:
        w.close()
async def serve(r, w):
    ur, uw = await asyncio.open_connection(host, int(tport))
    await asyncio.gather(pipe(r, uw), pipe(ur, w), return_exceptions=True)
async def main():
    server = await asyncio.start_server(serve, '127.0.0.1', port)
    print('ready', flush=True)
    await server.serve_forever()
asyncio.run(main())
"#;

/// Run `nft` with `args`; panics with what it said (the bench needs root and nftables).
fn nft(netns: Option<&str>, args: &[&str]) {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", ns, "nft"]);
            c
        }
        None => std::process::Command::new("nft"),
    };
    let out = cmd
        .args(args)
        .output()
        .expect("nft (Debian's nftables) runs");
    assert!(
        out.status.success(),
        "nft {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Firefox and Chromium sending over the same lossy link, watched by a Chromium guest on a
/// clean one: how each sender's pictures arrive (issue 22: Chromium decoded Firefox's video at
/// 25 fps with 6 freezes in 30 s at 5 % loss each way, every other pair at 28 fps or more).
/// The two senders run in a network namespace joined to this machine by a veth pair; `pct` %
/// of the UDP packets crossing it are dropped each way (nftables, on the input hooks). A
/// `--synthetic` parley-cli hosts.
async fn guests_at_loss(secs: u64, pct: u32) {
    use parley_tests::browser::{BROWSER_WAIT, server_with_guest};
    use tokio::task::block_in_place as blocking;
    let lan = parley_tests::netns::Lan::create();
    // A way out of the namespace: a browser there finds its interface by its default route.
    let _ = std::process::Command::new("ip")
        .args(["-n", &lan.name, "route", "add", "default", "via"])
        .arg(lan.host_ip.to_string())
        .status();
    let dir = temp_dir("bench-guests-loss");
    let server = server_with_guest(&dir, "media_on_interfaces = true");
    let addr: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let relay = parley_tests::cut::CutRelay::on(lan.host_ip.into(), addr);
    let mut inner = std::process::Command::new("ip")
        .args(["netns", "exec", &lan.name, "python3", "-c", NETNS_RELAY])
        .arg(addr.port().to_string())
        .arg(relay.addr.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 relays in the namespace");
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(inner.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    let (mut hana, link) =
        blocking(|| parley_tests::host(&dir, &server, &["--synthetic", "--no-waiting-room"]));
    let spawn = |netns: Option<&str>, extra: &[&str], name: &str| {
        let driver =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/test/guest-driver.mjs");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = std::process::Command::new("ip");
                c.args(["netns", "exec", ns, "node"]);
                c
            }
            None => std::process::Command::new("node"),
        };
        cmd.arg(driver).arg(&link).args(extra);
        let mut g = parley_tests::CliProc::spawn_program(cmd, name);
        blocking(|| g.expect_within(BROWSER_WAIT, "state", |v| v["state"] == "choose"));
        g
    };
    let mut watcher = spawn(None, &[], "watcher");
    watcher.send("join Watcher");
    let mut fern = spawn(Some(&lan.name), &["--browser=firefox"], "Firefox");
    fern.send("join Fern --camera");
    let mut cleo = spawn(Some(&lan.name), &[], "Chromium");
    cleo.send("join Cleo --camera");
    for g in [&mut watcher, &mut fern, &mut cleo] {
        blocking(|| g.expect_within(BROWSER_WAIT, "state", |v| v["state"] == "in_meeting"));
    }
    let _ = &mut hana;
    // The loss: packets into the namespace (the SFU's to the senders), and packets from it
    // into this machine (the senders' to the SFU).
    let rule = format!("udp dport 1-65535 numgen random mod 100 < {pct} counter drop");
    let table = format!("parley_loss_{}", std::process::id());
    let host_rule = format!("iifname \"{}\" {rule}", lan.host_if);
    for (ns, rule) in [(Some(lan.name.as_str()), &rule), (None, &host_rule)] {
        let input = "{ type filter hook input priority 0; }";
        nft(ns, &["add", "table", "inet", &table]);
        nft(ns, &["add", "chain", "inet", &table, "c", input]);
        nft(ns, &["add", "rule", "inet", &table, "c", rule]);
    }
    println!(
        "{pct} % loss each way on the senders' link; {WARM} s to settle, then {secs} s measured"
    );
    tokio::time::sleep(Duration::from_secs(WARM)).await;
    let received = |g: &mut parley_tests::CliProc| -> Vec<Value> {
        g.send("received");
        blocking(|| g.expect_within(Duration::from_secs(30), "received", |_| true))["tiles"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let (r0, t0) = (received(&mut watcher), Instant::now());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (r1, t1) = (received(&mut watcher), Instant::now());
    let dt = t1.duration_since(t0).as_secs_f64();
    // What the rules dropped (the counters), then the loss ends.
    for ns in [None, Some(lan.name.as_str())] {
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = std::process::Command::new("ip");
                c.args(["netns", "exec", ns, "nft"]);
                c
            }
            None => std::process::Command::new("nft"),
        };
        if let Ok(o) = cmd.args(["list", "table", "inet", &table]).output() {
            let text = String::from_utf8_lossy(&o.stdout);
            if let Some(line) = text.lines().find(|l| l.contains("counter")) {
                let side = if ns.is_some() {
                    "to the senders"
                } else {
                    "from the senders"
                };
                println!("dropped {side}: {}", line.trim());
            }
        }
    }
    nft(None, &["delete", "table", "inet", &table]);
    for tile in &r1 {
        let name = tile["name"].as_str().unwrap_or("?");
        let before = r0
            .iter()
            .find(|t| t["name"] == tile["name"])
            .cloned()
            .unwrap_or_default();
        let d = |k: &str| tile[k].as_f64().unwrap_or(0.0) - before[k].as_f64().unwrap_or(0.0);
        println!(
            "the watcher shows {name}: {:.1} pictures a second, {} freezes ({:.1} s frozen), {:.1} % of packets lost after repair, {} NACKs and {} PLIs sent",
            d("framesDecoded") / dt,
            d("freezeCount"),
            d("totalFreezesDuration"),
            100.0 * d("packetsLost") / (d("packetsReceived") + d("packetsLost")).max(1.0),
            d("nackCount"),
            d("pliCount"),
        );
    }
    for (g, who) in [(&mut fern, "Firefox"), (&mut cleo, "Chromium")] {
        g.send("sent");
        let sent = blocking(|| g.expect_within(Duration::from_secs(30), "sent", |_| true));
        println!("{who} sends: {}", sent["layers"]);
        g.send("quit");
    }
    watcher.send("quit");
    let _ = inner.kill();
    let _ = inner.wait();
    drop(relay);
    drop(server);
    drop(lan);
}

/// Debian's Chromium's version, as it says.
fn chromium_version() -> String {
    std::process::Command::new("chromium")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .replace("Chromium ", "")
        })
        .unwrap_or_default()
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
        Some("idle") => runtime.block_on(idle(num(1, 20))),
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
        Some("versus") => {
            // The app and the browser guest in the same call, one after the other, ROUNDS times.
            let secs = num(1, 20);
            let rounds = num(2, 2);
            let bots = [
                ("Bot 1", "640x360@30"),
                ("Bot 2", "640x360@30"),
                ("Bot 3", "640x360@30"),
                ("Bot 4", "640x360@30"),
            ];
            for round in 1..=rounds {
                println!(
                    "round {round}: a 5-person call, sending 1280x720@30 and receiving 4 × 640x360@30 ({secs} s); the app:"
                );
                runtime.block_on(measure("bench-app-versus", &bots, true, secs));
                println!("round {round}: the same call, the browser guest in Chromium:");
                runtime.block_on(measure_guest("bench-guest-versus", &bots, secs));
            }
        }
        Some("guests-at-loss") => {
            let secs = num(1, 30);
            let pct = num(2, 5) as u32;
            runtime.block_on(guests_at_loss(secs, pct));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_keeps_min_mean_and_max() {
        let mut s = Spread::default();
        for v in [140.0, 120.0, 190.0, 150.0] {
            s.add(v);
        }
        assert_eq!((s.n, s.min, s.max), (4, 120.0, 190.0));
        assert_eq!(s.mean(), 150.0);
        assert_eq!(s.to_string(), "120 / 150 / 190");
        // A first reading above zero is the minimum, not the default 0.
        let mut one = Spread::default();
        one.add(101.0);
        assert_eq!((one.min, one.max), (101.0, 101.0));
    }

    #[tokio::test]
    async fn memory_of_a_live_process_is_read_and_a_gone_one_is_not() {
        let me = std::process::id();
        // A pid above the kernel's maximum (4,194,304) never exists.
        let m = MemorySamples::take(&[me, 4_194_305], 1).await;
        assert_eq!(m.each.len(), 1, "{m:?}");
        let (pss, rss) = m.each[&me];
        assert!(pss.n >= 1, "{m:?}");
        assert!(pss.min > 0.0 && rss.min >= pss.min, "{m:?}");
        assert_eq!(m.total.n, pss.n);
    }
}

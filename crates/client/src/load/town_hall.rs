//! `parley-cli load --town-hall`: issue 19's town hall. Every bot connects media with the SFU
//! as soon as it is admitted; bot 0 presents (simulcast camera, speaking), bots 1..=cameras
//! send simulcast cameras, the first `speakers` bots speak, everyone else only receives. Each
//! receiver shows the presenter at the middle layer's height and everyone else at the small
//! one's; what it receives is counted per stream by sequence number over the window.

use std::time::{Duration, Instant};

use parley_client::ClientError;
use parley_proto::ParticipantId;
use tokio::sync::{mpsc, oneshot};

use super::bot::Command;
use super::media::{Cmd, Part, PeerCount, Snapshot};
use super::{LoadArgs, cpu_ticks, ms};

/// How long everyone may take to connect media after being admitted.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// Media flows this long before the window opens (layers chosen, keyframes come).
const SETTLE: Duration = Duration::from_secs(5);
/// A video stream at least this fast (kbit/s) is a middle or top layer: the presenter's.
const PRESENTER_KBPS: f64 = 300.0;
/// Loss bar per receiver (issue 19): under 1 %.
const LOSS_BAR: f64 = 0.01;
/// A stream keeps up when it brings at least this share of what was sent (30 pictures, 50
/// voice packets a second): an SFU that falls behind delays rather than loses, and sequence
/// numbers alone would not show it.
const KEEPS_UP: f64 = 0.9;

/// What bot `i` sends.
pub fn part(i: usize, cameras: usize, speakers: usize) -> Part {
    Part {
        camera: i <= cameras,
        speaks: i < speakers,
    }
}

/// What the town hall needs from the load run.
pub struct Run<'a> {
    /// The options.
    pub args: &'a LoadArgs,
    /// The media engine.
    pub engine: &'a std::sync::mpsc::Sender<Cmd>,
    /// Each bot's commands.
    pub bots: &'a [mpsc::Sender<Command>],
    /// Each bot's participant number.
    pub ids: &'a [Option<ParticipantId>],
    /// When the first bot connected.
    pub t_connect: Instant,
    /// When the host admitted everyone.
    pub t_admit: Instant,
}

async fn snapshot(engine: &std::sync::mpsc::Sender<Cmd>) -> Result<Snapshot, ClientError> {
    let (tx, rx) = oneshot::channel();
    engine
        .send(Cmd::Snapshot(tx))
        .map_err(|_| ClientError::Protocol("the media engine stopped".into()))?;
    rx.await
        .map_err(|_| ClientError::Protocol("the media engine stopped".into()))
}

/// One receiver's window.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    video_expected: u64,
    video_received: u64,
    audio_expected: u64,
    audio_received: u64,
    video_streams: usize,
    audio_streams: usize,
    /// The fastest video stream (the presenter's), kbit/s...
    top_kbps: f64,
    /// ... and its pictures per second.
    top_fps: f64,
    /// Video streams at least [`PRESENTER_KBPS`]: middle or top layers.
    large: usize,
    /// The slowest video stream's pictures per second.
    min_fps: f64,
    /// The slowest voice's packets per second.
    min_voice_rate: f64,
    bytes: u64,
}

impl Window {
    fn of(before: Option<&PeerCount>, after: &PeerCount, secs: f64) -> Self {
        let mut w = Window::default();
        for s in &after.streams {
            let old = before.and_then(|b| b.streams.iter().find(|o| o.ssrc == s.ssrc));
            let (expected, received, bytes, frames) = match old {
                Some(o) => (
                    s.max_seq - o.max_seq,
                    s.packets - o.packets,
                    s.bytes - o.bytes,
                    s.frames - o.frames,
                ),
                None => (s.max_seq - s.first_seq + 1, s.packets, s.bytes, s.frames),
            };
            if received == 0 {
                continue;
            }
            w.bytes += bytes;
            if s.video {
                w.video_expected += expected;
                w.video_received += received;
                w.video_streams += 1;
                let kbps = bytes as f64 * 8.0 / secs / 1000.0;
                let fps = frames as f64 / secs;
                if kbps > w.top_kbps {
                    w.top_kbps = kbps;
                    w.top_fps = fps;
                }
                w.large += usize::from(kbps >= PRESENTER_KBPS);
                w.min_fps = if w.video_streams == 1 {
                    fps
                } else {
                    w.min_fps.min(fps)
                };
            } else {
                w.audio_expected += expected;
                w.audio_received += received;
                w.audio_streams += 1;
                let rate = received as f64 / secs;
                w.min_voice_rate = if w.audio_streams == 1 {
                    rate
                } else {
                    w.min_voice_rate.min(rate)
                };
            }
        }
        w
    }

    fn loss(expected: u64, received: u64) -> f64 {
        if expected == 0 {
            0.0
        } else {
            expected.saturating_sub(received) as f64 / expected as f64
        }
    }

    fn video_loss(&self) -> f64 {
        Self::loss(self.video_expected, self.video_received)
    }

    fn audio_loss(&self) -> f64 {
        Self::loss(self.audio_expected, self.audio_received)
    }
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

/// Bot `i`'s gallery page: the `tiles` participants after it in `ids` (join order), wrapping
/// around, itself never; each participant is on as many pages.
fn gallery_page(ids: &[ParticipantId], i: usize, tiles: usize) -> Vec<ParticipantId> {
    let n = ids.len();
    (1..n).map(|k| ids[(i + k) % n]).take(tiles).collect()
}

/// A soak's bar: memory grows less than this after the first sixth of the window.
const SOAK_GROWTH_BAR: f64 = 0.05;

/// One soak sample of a process: resident memory (KiB) and open files.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Usage {
    rss_kib: u64,
    fds: usize,
}

fn usage(pid: u32) -> Option<Usage> {
    Some(Usage {
        rss_kib: crate::load::rss_kib(pid)?,
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count(),
    })
}

/// How much the largest of `samples` after the first `skip` exceeds the one at `skip`, as a
/// share of it (0: never above it); `None` with too few samples.
fn growth(samples: &[u64], skip: usize) -> Option<f64> {
    let base = *samples.get(skip)?;
    let most = *samples[skip..].iter().max()?;
    (base > 0).then(|| most.saturating_sub(base) as f64 / base as f64)
}

/// The soak's window: every `every` seconds, the server's and the bots' memory and open files
/// and the packets received so far; at the end, the growth after the first sixth.
async fn soak(
    engine: &std::sync::mpsc::Sender<Cmd>,
    server: Option<u32>,
    window: Duration,
    every: u64,
    before: &Snapshot,
) -> Result<(), ClientError> {
    let me = std::process::id();
    let start = Instant::now();
    let packets = |s: &Snapshot| -> u64 {
        s.peers
            .iter()
            .flat_map(|p| &p.streams)
            .map(|c| c.packets)
            .sum()
    };
    let base = packets(before);
    let (mut servers, mut bots) = (Vec::new(), Vec::new());
    loop {
        let elapsed = start.elapsed();
        let s = server.and_then(usage);
        let b = usage(me);
        let got = packets(&snapshot(engine).await?) - base;
        println!(
            "soak {:>5.0} s: server RSS {} KiB, {} open files | bots RSS {} KiB, {} open files | {got} packets received",
            elapsed.as_secs_f64(),
            s.map_or(0, |u| u.rss_kib),
            s.map_or(0, |u| u.fds),
            b.map_or(0, |u| u.rss_kib),
            b.map_or(0, |u| u.fds),
        );
        servers.extend(s);
        bots.extend(b);
        if elapsed >= window {
            break;
        }
        let next = Duration::from_secs(every).min(window - elapsed);
        tokio::time::sleep(next).await;
    }
    let skip = servers.len() / 6;
    for (who, samples) in [("server", &servers), ("bots", &bots)] {
        let rss: Vec<u64> = samples.iter().map(|u| u.rss_kib).collect();
        let fds: Vec<u64> = samples.iter().map(|u| u.fds as u64).collect();
        let (Some(g), Some(f)) = (growth(&rss, skip), growth(&fds, skip)) else {
            continue;
        };
        println!(
            "soak, {who}: RSS {} → {} KiB (largest {} KiB after the first sixth: +{:.1} %, bar < {:.0} %: {}); open files {} → {} (largest +{:.1} %)",
            rss[skip],
            rss[rss.len() - 1],
            rss[skip..].iter().max().copied().unwrap_or(0),
            g * 100.0,
            SOAK_GROWTH_BAR * 100.0,
            if g < SOAK_GROWTH_BAR {
                "met"
            } else {
                "not met"
            },
            fds[skip],
            fds[fds.len() - 1],
            f * 100.0,
        );
    }
    Ok(())
}

/// Connect, settle, count; print the figures and whether the bar is met. Whether everyone
/// connected media and received every video (the presenter's alone at a middle layer) and
/// every speaker's audio.
pub async fn run(r: Run<'_>) -> Result<bool, ClientError> {
    let a = r.args;
    let n = r.bots.len();
    let publishers = (0..n)
        .filter(|&i| {
            let p = part(i, a.cameras(), a.speakers);
            p.camera || p.speaks
        })
        .count();
    eprintln!("town hall: waiting for {n} media connections ({publishers} publishers)…");
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut snap = snapshot(r.engine).await?;
    while Instant::now() < deadline
        && (snap.peers.len() < n || snap.peers.iter().any(|p| p.connected.is_none()))
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        snap = snapshot(r.engine).await?;
    }
    let mut connected: Vec<Duration> = snap
        .peers
        .iter()
        .filter_map(|p| p.connected.map(|t| t.saturating_duration_since(r.t_admit)))
        .collect();
    connected.sort();
    let all = connected.len() == n;
    let last = connected.last().copied().unwrap_or_default();
    println!(
        "town hall: media connected {}/{n}; admit-all → connected p50 {:.0} ms, p99 {:.0} ms, last {:.0} ms; first join → last connected {:.1} s (bar: 60 s)",
        connected.len(),
        ms(connected
            .get(connected.len() / 2)
            .copied()
            .unwrap_or_default()),
        ms(connected
            .get((connected.len() * 99).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or_default()),
        ms(last),
        (r.t_admit + last).duration_since(r.t_connect).as_secs_f64(),
    );
    if let Some(tiles) = a.gallery {
        let known: Vec<ParticipantId> = r.ids.iter().flatten().copied().collect();
        for (i, b) in r.bots.iter().enumerate() {
            let _ = b
                .send(Command::Gallery {
                    ids: gallery_page(&known, i, tiles),
                })
                .await;
        }
    } else {
        let Some(presenter) = r.ids.first().copied().flatten() else {
            println!("town hall: the presenter never joined");
            return Ok(false);
        };
        for b in r.bots {
            let _ = b.send(Command::Watch { presenter }).await;
        }
    }
    tokio::time::sleep(SETTLE).await;
    let pid = a.server_pid;
    let cpu0 = pid.and_then(cpu_ticks);
    let bots0 = cpu_ticks(std::process::id());
    let t0 = Instant::now();
    let before = snapshot(r.engine).await?;
    match a.sample_every {
        Some(every) => {
            soak(
                r.engine,
                pid,
                Duration::from_secs(a.measure),
                every,
                &before,
            )
            .await?
        }
        None => tokio::time::sleep(Duration::from_secs(a.measure)).await,
    }
    let after = snapshot(r.engine).await?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu1 = pid.and_then(cpu_ticks);
    let bots1 = cpu_ticks(std::process::id());

    // In a gallery everyone receives (and a speaker hears the others); in a town hall, those
    // who only receive.
    let gallery = a.gallery.is_some();
    let receiving: Vec<(usize, &PeerCount)> = after
        .peers
        .iter()
        .enumerate()
        .filter(|(_, p)| gallery || !p.publisher)
        .collect();
    let windows: Vec<Window> = receiving
        .iter()
        .map(|&(i, p)| Window::of(before.peers.get(i), p, secs))
        .collect();
    // The voices each hears: every speaker's but its own.
    let voices = a.speakers.min(n);
    let hears: Vec<usize> = receiving
        .iter()
        .map(|(_, p)| voices - usize::from(part(p.bot, a.cameras(), a.speakers).speaks))
        .collect();
    let receivers = windows.len();
    let want_video = match a.gallery {
        Some(tiles) => tiles.min(n.saturating_sub(1)),
        None => publishers.min(a.cameras + 1),
    };
    let want_audio = voices;
    let large = usize::from(!gallery);
    let complete = windows
        .iter()
        .zip(&hears)
        .filter(|&(w, &hears)| {
            // A gallery page gets exactly the tiles it shows, nobody else's.
            let videos = if gallery {
                w.video_streams == want_video
            } else {
                w.video_streams >= want_video
            };
            videos && w.audio_streams >= hears && w.large == large
        })
        .count();
    let under_bar = windows
        .iter()
        .filter(|w| w.video_loss() < LOSS_BAR && w.audio_loss() < LOSS_BAR)
        .count();
    let keeping_up = windows
        .iter()
        .filter(|w| {
            w.video_streams > 0
                && w.min_fps >= KEEPS_UP * 30.0
                && w.audio_streams > 0
                && w.min_voice_rate >= KEEPS_UP * 50.0
        })
        .count();
    // What a server over its capacity keeps whole (it sheds the other pictures first).
    let voices_first = windows
        .iter()
        .zip(&hears)
        .filter(|&(w, &hears)| {
            w.audio_streams >= hears
                && w.min_voice_rate >= KEEPS_UP * 50.0
                && w.large == 1
                && w.top_fps >= KEEPS_UP * 30.0
        })
        .count();
    let fps: Vec<f64> = windows.iter().map(|w| w.min_fps).collect();
    let voice: Vec<f64> = windows.iter().map(|w| w.min_voice_rate).collect();
    // What the receivers that fell short got, most common first.
    let mut shapes: std::collections::BTreeMap<(usize, usize, usize), usize> = Default::default();
    for w in &windows {
        *shapes
            .entry((w.video_streams, w.large, w.audio_streams))
            .or_default() += 1;
    }
    let mut shapes: Vec<_> = shapes.into_iter().collect();
    shapes.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let packets: u64 = windows
        .iter()
        .map(|w| w.video_received + w.audio_received)
        .sum();
    let bytes: u64 = windows.iter().map(|w| w.bytes).sum();
    let video_loss: Vec<f64> = windows.iter().map(Window::video_loss).collect();
    let audio_loss: Vec<f64> = windows.iter().map(Window::audio_loss).collect();
    let top: Vec<f64> = windows.iter().map(|w| w.top_kbps).collect();
    let shapes_wanted = if gallery {
        "all small".to_string()
    } else {
        format!("the presenter's alone at ≥ {PRESENTER_KBPS} kbit/s, the others smaller")
    };
    println!(
        "{} window {secs:.1} s, {receivers} receivers: {complete}/{receivers} got all {want_video} videos ({shapes_wanted}) and {want_audio} voices (a speaker the others'); {under_bar}/{receivers} under 1 % loss",
        if gallery { "gallery" } else { "town hall" },
    );
    if complete < receivers {
        let listed: Vec<String> = shapes
            .iter()
            .take(6)
            .map(|((v, l, a), c)| format!("{c} with {v} videos ({l} large) and {a} voices"))
            .collect();
        println!("  receivers: {}", listed.join("; "));
        let empty: Vec<String> = after
            .peers
            .iter()
            .filter(|p| !p.publisher && p.streams.is_empty())
            .take(5)
            .map(|p| {
                format!(
                    "bot {}: answered {}, {} offers of the SFU's answered, {} packets of unknown types, {} disconnects",
                    p.bot, p.answered, p.offers, p.unknown, p.disconnects
                )
            })
            .collect();
        if !empty.is_empty() {
            println!("  receivers that got nothing: {}", empty.join("; "));
        }
    }
    println!(
        "  received {:.0} packets/s in all ({:.0} per receiver), {:.1} Mbit/s payload; presenter's stream p50 {:.0} kbit/s",
        packets as f64 / secs,
        packets as f64 / secs / receivers.max(1) as f64,
        bytes as f64 * 8.0 / secs / 1e6,
        percentile(top, 0.5),
    );
    println!(
        "  loss, video: p50 {:.2} %, p99 {:.2} %, max {:.2} %; audio: p50 {:.2} %, p99 {:.2} %, max {:.2} %",
        percentile(video_loss.clone(), 0.5) * 100.0,
        percentile(video_loss.clone(), 0.99) * 100.0,
        percentile(video_loss, 1.0) * 100.0,
        percentile(audio_loss.clone(), 0.5) * 100.0,
        percentile(audio_loss.clone(), 0.99) * 100.0,
        percentile(audio_loss, 1.0) * 100.0,
    );
    println!(
        "  keeping up (every video ≥ 27 pictures/s, every voice ≥ 45 packets/s): {keeping_up}/{receivers}; slowest video per receiver p50 {:.1}, p1 {:.1} pictures/s; slowest voice p50 {:.1}, p1 {:.1} packets/s",
        percentile(fps.clone(), 0.5),
        percentile(fps, 0.01),
        percentile(voice.clone(), 0.5),
        percentile(voice, 0.01),
    );
    if !gallery {
        println!(
            "  the presenter's video and every voice keeping up (what a server over its capacity keeps, shedding the other pictures): {voices_first}/{receivers}"
        );
    }
    println!(
        "  publishers wrote {} video frames (all layers), {} audio packets; {} keyframe requests; {} send errors; {} ICE disconnects",
        after.frames_sent - before.frames_sent,
        after.audio_sent - before.audio_sent,
        after.keyframe_requests - before.keyframe_requests,
        after.send_errors,
        after.peers.iter().map(|p| p.disconnects).sum::<u64>(),
    );
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        let core = (c1 - c0) as f64 / 100.0 / secs;
        println!(
            "  server CPU: {:.1} % of one core ({:.1} µs per forwarded packet; {:.3} % of a core per participant)",
            core * 100.0,
            core * 1e6 / (packets as f64 / secs).max(1.0),
            core * 100.0 / (n + 1) as f64,
        );
    }
    if let (Some(b0), Some(b1)) = (bots0, bots1) {
        // The bots share one core: when it is full, what they count is theirs to blame too.
        println!(
            "  the bots' process: {:.1} % of one core",
            (b1 - b0) as f64 / 100.0 / secs * 100.0
        );
    }
    println!(
        "town hall bar (all connected within 60 s, everyone got every video and voice, under 1 % loss and keeping up): {}",
        if all
            && complete == receivers
            && under_bar == receivers
            && keeping_up == receivers
            && last + (r.t_admit - r.t_connect) <= Duration::from_secs(60)
        {
            "met"
        } else {
            "not met"
        }
    );
    Ok(all && complete == receivers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::media::StreamCount;

    fn stream(ssrc: u32, video: bool, first: u64, max: u64, packets: u64) -> StreamCount {
        StreamCount {
            ssrc,
            video,
            first_seq: first,
            max_seq: max,
            packets,
            bytes: packets * 1000,
            frames: packets / 2,
        }
    }

    fn peer(streams: Vec<StreamCount>) -> PeerCount {
        PeerCount {
            streams,
            ..Default::default()
        }
    }

    #[test]
    fn loss_is_counted_from_sequence_numbers_within_the_window() {
        let before = peer(vec![
            stream(1, true, 100, 199, 100),
            stream(2, false, 0, 49, 45),
        ]);
        // Video: 200..=299 expected, 98 came. Audio: 50..=149 expected, all came. A new
        // video stream 7..=16: 10 expected, 10 came.
        let after = peer(vec![
            stream(1, true, 100, 299, 198),
            stream(2, false, 0, 149, 145),
            stream(3, true, 7, 16, 10),
        ]);
        let w = Window::of(Some(&before), &after, 1.0);
        assert_eq!((w.video_expected, w.video_received), (110, 108));
        assert_eq!((w.audio_expected, w.audio_received), (100, 100));
        assert_eq!((w.video_streams, w.audio_streams), (2, 1));
        assert!((w.video_loss() - 2.0 / 110.0).abs() < 1e-9);
        assert_eq!(w.audio_loss(), 0.0);
        // The fastest stream: 98 packets of 1000 bytes in a second.
        assert!((w.top_kbps - 784.0).abs() < 1e-9);
        // Both video streams are fast here (80 kbit/s is the new one).
        assert_eq!(w.large, 1);
        // 49 pictures in the old stream's second, 5 in the new one's; 100 voice packets.
        assert!((w.min_fps - 5.0).abs() < 1e-9);
        assert!(
            (w.top_fps - 49.0).abs() < 1e-9,
            "the fastest stream's pictures"
        );
        assert!((w.min_voice_rate - 100.0).abs() < 1e-9);
    }

    #[test]
    fn gallery_pages_wrap_around_skip_oneself_and_show_everyone_equally() {
        let ids: Vec<ParticipantId> = (10..15).map(ParticipantId).collect();
        assert_eq!(
            gallery_page(&ids, 3, 3),
            [ParticipantId(14), ParticipantId(10), ParticipantId(11)]
        );
        // More tiles than others: everyone else, once.
        assert_eq!(gallery_page(&ids, 0, 25).len(), 4);
        let mut shown = std::collections::HashMap::new();
        for i in 0..ids.len() {
            let page = gallery_page(&ids, i, 2);
            assert!(!page.contains(&ids[i]));
            for p in page {
                *shown.entry(p).or_insert(0) += 1;
            }
        }
        assert!(shown.values().all(|&c| c == 2), "{shown:?}");
    }

    #[test]
    fn growth_is_the_largest_rise_after_the_first_samples() {
        // Warming up (1000 → 1500) does not count; 1500 → 1560 at most after it is 4 %.
        assert_eq!(growth(&[1000, 1500, 1520, 1560, 1510], 1), Some(0.04));
        // Memory that came back still counts the peak.
        assert_eq!(growth(&[1000, 1000, 1200, 1000], 1), Some(0.2));
        // Shrinking is no growth.
        assert_eq!(growth(&[1000, 900, 800], 0), Some(0.0));
        assert_eq!(growth(&[1000], 2), None);
        assert_eq!(growth(&[0, 5], 0), None);
    }

    #[test]
    fn a_stream_that_stopped_before_the_window_does_not_count() {
        let before = peer(vec![stream(1, true, 0, 99, 100)]);
        let w = Window::of(Some(&before), &before.clone(), 1.0);
        assert_eq!(w.video_streams, 0);
        assert_eq!(w.video_loss(), 0.0);
    }

    #[test]
    fn the_presenter_and_the_cameras_send_video_and_the_first_speak() {
        let parts: Vec<Part> = (0..8).map(|i| part(i, 5, 3)).collect();
        assert!(parts[0].camera && parts[0].speaks);
        assert_eq!(parts.iter().filter(|p| p.camera).count(), 6);
        assert_eq!(parts.iter().filter(|p| p.speaks).count(), 3);
        assert!(!parts[6].camera && !parts[6].speaks);
    }

    #[test]
    fn percentiles_take_the_value_at_or_above() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(v.clone(), 0.5), 50.0);
        assert_eq!(percentile(v.clone(), 0.99), 99.0);
        assert_eq!(percentile(v, 1.0), 100.0);
        assert_eq!(percentile(Vec::new(), 0.5), 0.0);
    }
}

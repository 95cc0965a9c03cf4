//! Bob watches Ann (simulcast 640x360: layers of 160x90, 320x180 and 640x360) in a large tile.
//! His downlink then narrows to 400 kbit/s behind a 300 ms drop-tail queue (someone at home
//! starts a download): the top layer (about 800 kbit/s) no longer fits, his receiver reports
//! show heavy loss, and the SFU sends him a smaller layer, on which his video goes on. When
//! the link frees up, the SFU tries the top layer again and it stays.

use std::time::{Duration, Instant};

use parley_client::call::{Call, RemoteMedia};
use parley_tests::bots::{self, Pump};
use parley_tests::relay::{LinkModel, Relay, RelayCounts};

use crate::common::{joined, meeting, sending};

/// When the downlink narrows and frees up (seconds after Bob's start), and the end.
const NARROW_AT: u64 = 6;
const WIDEN_AT: u64 = 20;
const END: u64 = 38;
const LINK_BPS: u64 = 400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_narrow_downlink_gets_the_smaller_layers_and_the_top_one_back() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = meeting("Downlink").await;

    let (ann, mut ann_call, mut atx, mut arx) = sending(&m, "Ann", true, "640x360@30").await;
    let ann_end = Instant::now() + Duration::from_secs(END + 2);
    let sender = tokio::spawn(async move {
        let until = Pump {
            end: Some(ann_end),
            ..Pump::default()
        };
        bots::pump(&mut ann_call, &mut atx, &mut arx, until).await;
        ann_call.close().await;
    });

    let (bob, sig) = joined(&m, "Bob", false).await;
    let relay = Relay::start(
        m.media,
        LinkModel {
            max_queue: Duration::from_millis(300),
            ..LinkModel::default()
        },
    )
    .await
    .unwrap();
    let (mut call, offer) = Call::start(bob, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (mut tx, mut rx) = sig.split();
    tx.send(&offer).await.unwrap();
    let start = Instant::now();
    // What Bob decodes of Ann, each second: (second, size, frames so far).
    let mut trace: Vec<(u64, String, u64)> = Vec::new();
    let mut last = RemoteMedia::default();
    for second in 1..=END {
        match second {
            NARROW_AT => relay.set_downlink_bps(Some(LINK_BPS)),
            WIDEN_AT => relay.set_downlink_bps(None),
            _ => {}
        }
        let step = Pump {
            end: Some(start + Duration::from_secs(second)),
            via: Some(&relay),
            ..Pump::default()
        };
        bots::pump(&mut call, &mut tx, &mut rx, step).await;
        last = call
            .stats()
            .get(&ann.to_string())
            .cloned()
            .unwrap_or_default();
        trace.push((
            second,
            last.video_size.clone().unwrap_or_default(),
            last.video_frames,
        ));
    }
    call.close().await;
    sender.await.unwrap();

    let queue_drops = RelayCounts::get(&relay.counts().down_queue_drops);
    println!(
        "Bob's downlink queue dropped {queue_drops} packets; Ann as Bob decoded her, each second: {trace:?}"
    );
    let size_at = |s: u64| {
        trace
            .iter()
            .find(|(t, _, _)| *t == s)
            .map(|(_, z, _)| z.as_str())
    };
    let frames_at = |s: u64| {
        trace
            .iter()
            .find(|(t, _, _)| *t == s)
            .map_or(0, |(_, _, f)| *f)
    };
    let first_small = trace
        .iter()
        .find(|(t, z, _)| *t > NARROW_AT && z != "640x360" && !z.is_empty())
        .map(|(t, _, _)| t - NARROW_AT);
    let back = trace
        .iter()
        .find(|(t, z, _)| *t > WIDEN_AT && z == "640x360")
        .map(|(t, _, _)| t - WIDEN_AT);
    println!(
        "smaller layer {first_small:?} s after the link narrowed; the top layer back {back:?} s after it freed up; longest freeze {} ms",
        last.longest_freeze_ms
    );
    assert_eq!(
        size_at(NARROW_AT),
        Some("640x360"),
        "the top layer before: {trace:?}"
    );
    assert!(queue_drops > 0, "the link never constrained Bob: {trace:?}");
    // Under the narrow link, a smaller layer (the bar is 2 s; the floor, the narrow phase).
    // The SFU may try the top layer again meanwhile, and come back down.
    assert!(
        trace
            .iter()
            .any(|(t, z, _)| (NARROW_AT + 1..=WIDEN_AT).contains(t)
                && (z == "320x180" || z == "160x90")),
        "Bob did not move to a smaller layer: {trace:?}"
    );
    // The video goes on: at least ten pictures a second over the last four narrow seconds.
    assert!(
        frames_at(WIDEN_AT) >= frames_at(WIDEN_AT - 4) + 40,
        "Bob's video stalled on the narrow link: {trace:?}"
    );
    // Back on the top layer once the link is free (bar: 5 s; the floor: by the end).
    assert_eq!(
        size_at(END),
        Some("640x360"),
        "the top layer never came back: {trace:?}"
    );
    assert!(frames_at(END) > frames_at(WIDEN_AT) + 200, "{trace:?}");
}

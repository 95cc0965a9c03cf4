//! Ann's uplink is a 300 kbit/s bottleneck but her camera would send 800: congestion control
//! (GCC over the SFU's transport-wide feedback) brings her encoders under the link's rate,
//! her top simulcast layer stops first, the bottleneck queue stops overflowing, and Bob keeps
//! seeing and hearing her, in a smaller layer.

use std::time::Duration;

use parley_client::call::{CallOptions, VideoFormat};
use parley_tests::relay::{LinkModel, RelayCounts};

use crate::common::{Party, call};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_constrained_uplink_lowers_the_video_bitrate() {
    let _turn = crate::common::one_call_at_a_time().await;
    let link_bps = 300_000;
    let ann = Party {
        name: "Ann",
        options: CallOptions {
            video: VideoFormat {
                width: 640,
                height: 360,
                fps: 30,
            },
            ..CallOptions::default()
        },
        link: Some(LinkModel {
            uplink_bps: Some(link_bps),
            max_queue: Duration::from_millis(300),
            ..LinkModel::default()
        }),
        relay_schedule: Vec::new(),
    };
    let out = call(vec![ann, Party::plain("Bob")], 15).await;
    let (ann, bob) = (&out[0], &out[1]);
    let c = ann.relay.as_ref().unwrap().counts();
    let sent_bps = RelayCounts::get(&c.up_bytes) * 8 / 15;
    println!(
        "Ann: encoder {} kbit/s, budget {} kbit/s; link carried {} kbit/s on average, \
         dropped {} of {} packets at the bottleneck",
        ann.video_kbps,
        ann.budget_kbps,
        sent_bps / 1000,
        RelayCounts::get(&c.up_queue_drops),
        RelayCounts::get(&c.up_packets),
    );
    let got = bob.from(ann);
    println!("Bob from Ann: {got:?}");
    // Started at 800 kbit/s; congestion control brought the whole send rate under the link.
    assert!(
        u64::from(ann.budget_kbps) * 1000 < link_bps,
        "budget {} kbit/s is above the {} kbit/s link",
        ann.budget_kbps,
        link_bps / 1000
    );
    assert!(
        ann.video_kbps < 300,
        "the encoder still aims at {} kbit/s",
        ann.video_kbps
    );
    // Her top layer (640x360) stopped first; Bob still sees her, in a smaller layer.
    assert!(!ann.layers.contains(&2), "layers sent: {:?}", ann.layers);
    assert!(ann.layers.contains(&0), "the smallest never stops");
    assert!(
        matches!(got.video_size.as_deref(), Some("160x90" | "320x180")),
        "{got:?}"
    );
    assert!(got.video_frames >= 150, "{got:?}");
    assert_eq!(got.tone_of, Some(ann.id), "{got:?}");
}

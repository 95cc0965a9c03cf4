//! Simulcast end to end: Ann's camera (640x360) goes out in three layers (160x90, 320x180 and
//! 640x360, each VP8 and each end-to-end sealed on its own). Cy shows her in a small tile, then
//! a large one: the SFU sends the layer that fits, so the pictures Cy decodes are 160x90, then
//! 640x360, with the video going on through the switch. Ann encodes only the layers someone
//! receives: only the small one while Cy's tile is small, all three once it is large.

use std::time::{Duration, Instant};

use parley_client::call::Call;
use parley_proto::ClientMessage;
use parley_tests::bots::{self, Pump};

use crate::common::{joined, meeting, sending};

fn tiles(height: u16) -> ClientMessage {
    ClientMessage::ReceiveVideo {
        from: None,
        height: Some(height),
        heights: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_receiver_gets_the_layer_that_fits_its_tile() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = meeting("Layers").await;
    let start = Instant::now();
    let until = move |secs: u64| Pump {
        end: Some(start + Duration::from_secs(secs)),
        ..Pump::default()
    };

    let (ann, mut ann_call, mut atx, mut arx) = sending(&m, "Ann", true, "640x360@30").await;
    let sender = tokio::spawn(async move {
        bots::pump(&mut ann_call, &mut atx, &mut arx, until(5)).await;
        let small = ann_call.video_layers();
        bots::pump(&mut ann_call, &mut atx, &mut arx, until(12)).await;
        let end = ann_call.video_layers();
        ann_call.close().await;
        (small, end)
    });

    let (cy, sig) = joined(&m, "Cy", false).await;
    let (mut call, offer) = Call::start(cy, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (mut tx, mut rx) = sig.split();
    tx.send(&offer).await.unwrap();
    tx.send(&tiles(90)).await.unwrap();
    bots::pump(&mut call, &mut tx, &mut rx, until(5)).await;
    let small = call.stats()[&ann.to_string()].clone();
    assert!(small.video_frames > 30, "{small:?}");
    assert_eq!(small.video_size.as_deref(), Some("160x90"), "{small:?}");

    tx.send(&tiles(360)).await.unwrap();
    bots::pump(&mut call, &mut tx, &mut rx, until(9)).await;
    let large = call.stats()[&ann.to_string()].clone();
    assert_eq!(large.video_size.as_deref(), Some("640x360"), "{large:?}");
    assert!(
        large.video_frames > small.video_frames + 90,
        "the video went on through the switch: {small:?} then {large:?}"
    );
    // Cy keeps watching while Ann's call ends (a layer nobody wants stops only 2 s later).
    bots::pump(&mut call, &mut tx, &mut rx, until(12)).await;
    let (small_phase, end) = sender.await.unwrap();
    call.close().await;
    assert_eq!(
        small_phase,
        vec![0],
        "while Cy shows Ann small, Ann sends only the small layer (the others stop 2 s after)"
    );
    assert_eq!(
        end,
        vec![0, 1, 2],
        "Cy shows her large: every layer up to the top"
    );
}

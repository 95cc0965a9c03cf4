//! Twenty per cent of Ann's packets are lost, both ways: Bob still hears nearly every one of
//! her tone bursts (Opus in-band FEC and concealment fill the gaps; audio is never
//! retransmitted), with no long silence, and Ann hears Bob's.

use parley_client::call::RemoteMedia;
use parley_tests::relay::LinkModel;

use crate::common::{Party, call};

const SECS: u64 = 12;

fn check(what: &str, got: &RemoteMedia, sender: u32) {
    // The tone is on for 250 ms of every 500: two bursts a second of audio played.
    let played = got.audio_ms + got.audio_concealed_ms;
    let bursts = played / 500;
    println!("{what}: {got:?}");
    println!(
        "{what}: {} of about {bursts} tone bursts heard; {} ms of {played} concealed, the longest gap {} ms; {} frames rebuilt from FEC",
        got.audio_bursts_heard,
        got.audio_concealed_ms,
        got.longest_concealed_ms,
        got.audio_recovered
    );
    assert!(played >= 8_000, "{what}: audio stopped: {got:?}");
    assert_eq!(
        got.tone_of,
        Some(sender),
        "{what}: wrong or no tone: {got:?}"
    );
    // Floors far under the figures (BENCHMARKS.md) so a busy machine cannot fail them.
    assert!(
        got.audio_bursts_heard * 4 >= bursts * 3,
        "{what}: only {} of {bursts} bursts heard",
        got.audio_bursts_heard
    );
    assert!(
        got.longest_concealed_ms <= 400,
        "{what}: {} ms of audio concealed in a row",
        got.longest_concealed_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn speech_survives_twenty_percent_loss_on_one_path() {
    let _turn = crate::common::one_call_at_a_time().await;
    let ann = Party {
        link: Some(LinkModel {
            loss: 0.20,
            seed: 7,
            ..LinkModel::default()
        }),
        ..Party::plain("Ann")
    };
    let out = call(vec![ann, Party::plain("Bob")], SECS).await;
    let (ann, bob) = (&out[0], &out[1]);
    // Opus's in-band FEC follows the loss each one's uplink has, as congestion control's
    // feedback measures it: Ann's read 18 % in the runs of 2026-12-06 (the loss guard's
    // median slot, under the relay's 20 %), Bob's none (the floor, 10 %).
    println!(
        "FEC tuned for {} % loss at Ann, {} % at Bob",
        ann.fec_loss_pct, bob.fec_loss_pct
    );
    assert!(ann.fec_loss_pct > 10, "Ann's FEC: {} %", ann.fec_loss_pct);
    assert_eq!(bob.fec_loss_pct, 10, "Bob's FEC");
    check("Bob hears Ann (Ann's uplink lossy)", &bob.from(ann), ann.id);
    check(
        "Ann hears Bob (Ann's downlink lossy)",
        &ann.from(bob),
        bob.id,
    );
}

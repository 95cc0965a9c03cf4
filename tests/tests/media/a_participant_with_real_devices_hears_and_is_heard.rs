//! The computer's own devices in a call, through cpal and ALSA (the test devices of
//! assets/alsa/test-devices.asoundrc): Bob's microphone hears 1 kHz at 44.1 kHz stereo, and
//! his speaker is a 44.1 kHz stereo file. Ann is a synthetic participant with her tone.
//!
//! Ann hears Bob's microphone (captured, resampled, Opus, encrypted-transform path, SFU,
//! decoded); Bob's speaker plays Ann's tone through his mixer; Bob chose no camera, so no video
//! of his is sent at all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_client::call::{Call, CallOptions};
use parley_client::devices::{DeviceChoice, DeviceSelection, LocalDevices};
use parley_client::sink::MediaSink;
use parley_media::VideoFrame;
use parley_media::processing::ProcessingSettings;
use parley_media::tone::participant_frequency;
use parley_tests::alsa::{self, MIC_HZ, blocks_with};
use parley_tests::bots::{self, Pump};

use crate::common::{joined, meeting};

/// Keeps the audio received, per sender.
#[derive(Default)]
struct Heard(Mutex<BTreeMap<String, Vec<i16>>>);

impl MediaSink for Heard {
    fn video(&self, _: &str, _: &VideoFrame) {}
    fn audio(&self, from: &str, pcm: &[i16]) {
        self.0
            .lock()
            .unwrap()
            .entry(from.to_string())
            .or_default()
            .extend_from_slice(pcm);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_microphone_reaches_the_others_and_the_speaker_plays_them() {
    let _turn = crate::common::one_call_at_a_time().await;
    let devices = alsa::devices();
    let m = meeting("Devices").await;
    let start = Instant::now();

    let heard = Arc::new(Heard::default());
    let (ann, sig) = joined(&m, "Ann", true).await;
    let options = CallOptions {
        sinks: vec![heard.clone()],
        ..CallOptions::default()
    };
    let (mut ann_call, offer) =
        Call::start_with_options(ann, "127.0.0.1:0".parse().unwrap(), options)
            .await
            .unwrap();
    let (mut tx, mut rx) = sig.split();
    tx.send(&offer).await.unwrap();
    let ann_task = tokio::spawn(async move {
        let how = Pump {
            end: Some(start + Duration::from_secs(9)),
            ..Pump::default()
        };
        bots::pump(&mut ann_call, &mut tx, &mut rx, how).await;
        let stats = ann_call.stats();
        ann_call.close().await;
        stats
    });

    // Bob: the test microphone and speaker, no camera. The sound is sent as captured (the
    // canceller and noise suppression would treat a steady tone as noise; they are measured
    // on speech in parley-media's echo_cancellation test).
    let (bob, sig) = joined(&m, "Bob", false).await;
    let selection = DeviceSelection {
        microphone: Some(DeviceChoice::Named("parley_test_mic".into())),
        speaker: Some(DeviceChoice::Named("parley_test_speaker".into())),
        processing: ProcessingSettings::original_sound(),
        ..DeviceSelection::default()
    };
    let mut local = tokio::task::spawn_blocking(move || LocalDevices::open(&selection))
        .await
        .unwrap();
    assert!(local.problems.is_empty(), "{:?}", local.problems);
    assert!(
        local.camera.is_none(),
        "no camera was chosen, none is opened"
    );
    let options = CallOptions {
        sinks: vec![local.sink()],
        ..CallOptions::default()
    };
    let (mut bob_call, offer) =
        Call::start_with_options(bob, "127.0.0.1:0".parse().unwrap(), options)
            .await
            .unwrap();
    bob_call.set_camera(local.take_camera());
    bob_call.set_microphone(local.take_microphone());
    let (mut tx, mut rx) = sig.split();
    tx.send(&offer).await.unwrap();
    let how = Pump {
        end: Some(start + Duration::from_secs(9)),
        ..Pump::default()
    };
    bots::pump(&mut bob_call, &mut tx, &mut rx, how).await;
    let bob_stats = bob_call.stats();
    bob_call.close().await;
    drop(local);
    let ann_stats = ann_task.await.unwrap();

    // Ann heard Bob's microphone: 1 kHz, not Ann's own 400 Hz.
    let from_bob = heard
        .0
        .lock()
        .unwrap()
        .get(&bob.to_string())
        .cloned()
        .unwrap_or_default();
    let (loud, carrying) = blocks_with(&from_bob, 48_000, MIC_HZ, &[participant_frequency(ann)]);
    assert!(
        loud > 200,
        "Ann heard only {loud} loud 10 ms blocks from Bob"
    );
    assert!(
        carrying * 10 >= loud * 8,
        "of {loud} loud blocks from Bob only {carrying} carry his microphone's {MIC_HZ} Hz"
    );
    let bob_seen = ann_stats.get(&bob.to_string()).cloned().unwrap_or_default();
    assert_eq!(
        bob_seen.video_frames, 0,
        "Bob chose no camera: {bob_seen:?}"
    );

    // Bob's speaker played Ann's tone.
    let ann_hz = participant_frequency(ann);
    let played = devices.played();
    let (loud, carrying) = blocks_with(&played, 44_100, ann_hz, &[MIC_HZ]);
    assert!(
        loud > 100,
        "Bob's speaker played only {loud} loud 10 ms blocks"
    );
    assert!(
        carrying * 10 >= loud * 8,
        "of {loud} loud blocks played only {carrying} carry Ann's {ann_hz} Hz"
    );
    let ann_heard = bob_stats.get(&ann.to_string()).cloned().unwrap_or_default();
    assert!(ann_heard.audio_ms > 3_000, "{ann_heard:?}");
}

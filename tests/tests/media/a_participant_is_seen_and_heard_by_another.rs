use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_client::Signaling;
use parley_client::peer::{MediaPeer, PeerSettings, request_keyframe};
use parley_media::audio_codec::{FRAME_SAMPLES, OpusConfig, OpusDecoder, OpusEncoder};
use parley_media::pattern::{TestPattern, read_stamp};
use parley_media::tone::{Tone, power_at};
use parley_media::vp8::{Vp8Config, Vp8Decoder, Vp8Encoder};
use parley_media::{AudioSource, VideoSource};
use parley_proto::{ClientMessage, DisplayName, Identity, ServerMessage};
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtp::codec::vp8::Vp8Packet;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Decode every Opus packet of an audio track; report the samples.
async fn listen(track: Arc<dyn TrackRemote>, heard: mpsc::UnboundedSender<Vec<i16>>) {
    let mut dec = OpusDecoder::new().unwrap();
    while let Some(ev) = track.poll().await {
        if let TrackRemoteEvent::OnRtpPacket(pkt) = ev
            && let Ok(pcm) = dec.decode(&pkt.payload)
        {
            let _ = heard.send(pcm);
        }
    }
}

/// The codec of `track`, lower case (`""` if none is known yet).
async fn mime_of(track: &dyn TrackRemote) -> (u32, String) {
    let ssrc = track.ssrcs().await.first().copied().unwrap_or_default();
    let mime = track
        .codec(ssrc)
        .await
        .map(|c| c.mime_type.to_ascii_lowercase())
        .unwrap_or_default();
    (ssrc, mime)
}

/// Decode every VP8 frame of `track` and report the test-pattern stamps read from it (or, for
/// an Opus track, the samples).
async fn watch(
    track: Arc<dyn TrackRemote>,
    seen: mpsc::UnboundedSender<u32>,
    heard: mpsc::UnboundedSender<Vec<i16>>,
) {
    let (ssrc, mime) = mime_of(track.as_ref()).await;
    if mime == "audio/opus" {
        return listen(track, heard).await;
    }
    assert_eq!(mime, "video/vp8");
    // Like a real receiver: ask for a keyframe until the decoder has one (at most twice a second).
    let mut last_pli: Option<Instant> = None;
    let mut need_keyframe = true;
    let mut sb = SampleBuilder::new(128, Vp8Packet::default(), 90_000)
        .with_max_time_delay(Duration::from_millis(500));
    let mut dec = Vp8Decoder::new().unwrap();
    let (mut packets, mut samples) = (0u32, 0u32);
    while let Some(ev) = track.poll().await {
        if let TrackRemoteEvent::OnRtpPacket(pkt) = ev {
            packets += 1;
            if packets % 200 == 0 {
                eprintln!("Bob: {packets} VP8 packets, {samples} frames assembled");
            }
            if need_keyframe && last_pli.is_none_or(|t| t.elapsed() > Duration::from_millis(500)) {
                last_pli = Some(Instant::now());
                request_keyframe(track.as_ref(), ssrc).await;
            }
            sb.push(Instant::now(), pkt);
            while let Some(s) = sb.pop(Instant::now()) {
                samples += 1;
                match dec.decode(&s.data) {
                    Ok(Some(frame)) => {
                        need_keyframe = false;
                        if let Some(stamp) = read_stamp(&frame) {
                            let _ = seen.send(stamp.seq);
                        }
                    }
                    _ => need_keyframe = true,
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_and_microphone_reach_the_other_participant_through_the_sfu() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = crate::common::meeting("Media").await;
    let (srv, tls, created) = (&m.srv, m.tls.clone(), &m.created);
    let mut ann = Signaling::connect(srv, tls.clone()).await.unwrap();
    ann.join(
        &created.room,
        &DisplayName::new("Ann").unwrap(),
        &Identity::generate(),
        None,
        Some(created.host_secret.clone()),
    )
    .await
    .unwrap();
    let mut bob = Signaling::connect(srv, tls.clone()).await.unwrap();
    let joined = bob
        .join(
            &created.room,
            &DisplayName::new("Bob").unwrap(),
            &Identity::generate(),
            None,
            None,
        )
        .await
        .unwrap();
    assert!(matches!(joined, ServerMessage::Joined { .. }));

    // Bob: offer, then answer whatever the SFU offers, and watch every track he gets.
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let (heard_tx, mut heard_rx) = mpsc::unbounded_channel();
    let mut bob_peer = MediaPeer::new("127.0.0.1:0".parse().unwrap(), &PeerSettings::default())
        .await
        .unwrap();
    let (mut btx, mut brx) = bob.split();
    let offer = bob_peer.offer().await.unwrap();
    btx.send(&ClientMessage::SdpOffer { sdp: offer })
        .await
        .unwrap();
    let (stop_bob, mut stop) = oneshot::channel::<()>();
    let bob_task = tokio::spawn(async move {
        let mut watching = JoinSet::new();
        let mut tracks = Vec::new();
        loop {
            tokio::select! {
                _ = &mut stop => break,
                m = brx.recv() => match m {
                    Ok(Some(ServerMessage::SdpAnswer { sdp })) => bob_peer.accept_answer(sdp).await.unwrap(),
                    Ok(Some(ServerMessage::SdpOffer { sdp })) => {
                        let answer = bob_peer.answer_offer(sdp).await.unwrap();
                        btx.send(&ClientMessage::SdpAnswer { sdp: answer }).await.unwrap();
                    }
                    Ok(Some(_)) => {}
                    other => panic!("Bob's signaling ended: {other:?}"),
                },
                t = bob_peer.next_track() => {
                    let t = t.expect("Bob's connection stays open");
                    let (_, mime) = mime_of(t.as_ref()).await;
                    eprintln!("Bob got a {mime} track");
                    tracks.push(mime);
                    watching.spawn(watch(t, seen_tx.clone(), heard_tx.clone()));
                }
            }
        }
        // A watcher that ended early (its assertion failed) fails the test; the rest would
        // watch for ever.
        watching.abort_all();
        while let Some(done) = watching.join_next().await {
            if let Err(e) = done
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        tracks.sort();
        tracks
    });

    // Ann: offer, then send her camera (the test pattern, VP8) at 30 fps for a few seconds,
    // answering the SFU's offers and keyframe requests as they come.
    let mut ann_peer = MediaPeer::new("127.0.0.1:0".parse().unwrap(), &PeerSettings::default())
        .await
        .unwrap();
    let (mut atx, mut arx) = ann.split();
    let offer = ann_peer.offer().await.unwrap();
    atx.send(&ClientMessage::SdpOffer { sdp: offer })
        .await
        .unwrap();
    let mut camera = TestPattern::new(320, 180, 1);
    let mut config = Vp8Config::realtime(320, 180, 300);
    config.keyframe_interval = 600;
    let mut enc = Vp8Encoder::new(config).unwrap();
    let mut tick = tokio::time::interval(Duration::from_millis(33));
    let mut microphone = Tone::for_participant(1);
    let mut opus = OpusEncoder::new(&OpusConfig::default()).unwrap();
    let mut audio_tick = tokio::time::interval(Duration::from_millis(20));
    let start = Instant::now();
    let mut connected = false;
    let mut sent = 0u32;
    while start.elapsed() < Duration::from_secs(8) {
        tokio::select! {
            m = arx.recv() => match m {
                Ok(Some(ServerMessage::SdpAnswer { sdp })) => {
                    ann_peer.accept_answer(sdp).await.unwrap();
                    ann_peer.connected(Duration::from_secs(10)).await.unwrap();
                    connected = true;
                }
                Ok(Some(ServerMessage::SdpOffer { sdp })) => {
                    let answer = ann_peer.answer_offer(sdp).await.unwrap();
                    atx.send(&ClientMessage::SdpAnswer { sdp: answer }).await.unwrap();
                }
                Ok(Some(_)) => {}
                other => panic!("Ann's signaling ended: {other:?}"),
            },
            _ = tick.tick(), if connected => {
                let frame = camera.next_frame(start.elapsed().as_micros() as u64).unwrap();
                // One layer only (the top one): a sender without simulcast is carried too.
                let keyframe = ann_peer.take_keyframe_requests() != 0;
                for e in enc.encode(&frame, keyframe).unwrap() {
                    ann_peer.send_video(2, e.data, 3000).await.unwrap();
                }
                sent += 1;
            }
            _ = audio_tick.tick(), if connected => {
                let f = microphone.next_frame(start.elapsed().as_micros() as u64, FRAME_SAMPLES).unwrap();
                ann_peer.send_audio(opus.encode(&f).unwrap(), f.level()).await.unwrap();
            }
        }
    }
    // (Refused only if Bob's task has already ended; awaiting it says why.)
    let _ = stop_bob.send(());
    let tracks = bob_task.await.unwrap();
    assert_eq!(tracks, ["audio/opus", "video/vp8"], "Bob's tracks from Ann");
    // What Bob decoded: many frames, in order, the first ones after a keyframe request.
    let mut got = Vec::new();
    while let Ok(seq) = seen_rx.try_recv() {
        got.push(seq);
    }
    eprintln!(
        "Ann sent {sent} frames; Bob decoded {} (first #{:?}, last #{:?})",
        got.len(),
        got.first(),
        got.last()
    );
    assert!(sent > 150, "Ann sent {sent} frames");
    assert!(
        got.len() > 90,
        "Bob decoded {} of {sent} frames: {got:?}",
        got.len()
    );
    assert!(got.windows(2).all(|w| w[1] > w[0]), "in order: {got:?}");
    // And what Bob heard: Ann's tone (participant 1: 400 Hz), not another participant's.
    let mut pcm = Vec::new();
    while let Ok(p) = heard_rx.try_recv() {
        pcm.extend(p);
    }
    eprintln!("Bob heard {:.1} s of audio", pcm.len() as f64 / 48_000.0);
    assert!(pcm.len() > 48_000 * 4, "Bob heard {} samples", pcm.len());
    let tail = &pcm[pcm.len() - 48_000 * 3..];
    let (at, other) = (power_at(tail, 400.0), power_at(tail, 700.0));
    assert!(
        at > 0.003 && at > 20.0 * other,
        "{at} at 400 Hz, {other} at 700 Hz"
    );
}

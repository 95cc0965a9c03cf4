//! A call with synthetic media: the test pattern as camera, a tone as microphone, VP8 and Opus
//! encoding, one peer connection with the SFU, and every remote track decoded and measured.
//! `parley-cli --synthetic` and the load tests use it; real devices plug into the same place.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parley_media::audio_codec::{FRAME_SAMPLES, OpusConfig, OpusDecoder, OpusEncoder};
use parley_media::pattern::{TestPattern, read_stamp};
use parley_media::tone::{Tone, participant_frequency, power_at};
use parley_media::vp8::{Vp8Config, Vp8Decoder, Vp8Encoder};
use parley_media::{AudioSource, VideoSource};
use parley_proto::{ClientMessage, ServerMessage};
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::codec::vp8::Vp8Packet;
use serde::Serialize;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::error::ClientError;
use crate::peer::MediaPeer;

/// What this participant receives from one other participant.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RemoteMedia {
    /// Video frames decoded.
    pub video_frames: u64,
    /// The test-pattern frame number last decoded.
    pub last_frame: Option<u32>,
    /// Capture-to-decode time of the last frame, in ms (same wall clock on both ends).
    pub video_latency_ms: Option<u32>,
    /// Milliseconds of audio decoded.
    pub audio_ms: u64,
    /// The participant number whose tone the last second of audio carries, if recognisable.
    pub tone_of: Option<u32>,
    /// Milliseconds from the start of this call to the first decoded frame from them.
    pub first_video_ms: Option<u64>,
}

#[derive(Debug)]
struct StatsInner {
    started: Instant,
    by_sender: BTreeMap<String, RemoteMedia>,
}

type Stats = Arc<Mutex<StatsInner>>;

/// Whether a frame is audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// An Opus packet.
    Audio,
    /// A VP8 frame.
    Video,
}

/// Where end-to-end encryption plugs in: every encoded frame passes through [`seal`] after the
/// encoder and before packetisation, and every received frame through [`open`] after
/// depacketisation and before the decoder. The SFU forwards what comes out of `seal` without
/// looking inside (it needs no more than the RTP headers).
///
/// [`seal`]: FrameTransform::seal
/// [`open`]: FrameTransform::open
pub trait FrameTransform: Send + Sync {
    /// Transform an outgoing frame.
    fn seal(&self, kind: FrameKind, frame: Vec<u8>) -> Vec<u8>;
    /// Undo [`FrameTransform::seal`] for a frame from `sender` (their stream id); `None` if
    /// it cannot be opened (the frame is dropped and counted).
    fn open(&self, kind: FrameKind, sender: &str, frame: Vec<u8>) -> Option<Vec<u8>>;
}

/// The transform that changes nothing (until end-to-end encryption lands).
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl FrameTransform for Plain {
    fn seal(&self, _: FrameKind, frame: Vec<u8>) -> Vec<u8> {
        frame
    }
    fn open(&self, _: FrameKind, _: &str, frame: Vec<u8>) -> Option<Vec<u8>> {
        Some(frame)
    }
}

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn update(stats: &Stats, who: &str, f: impl FnOnce(&mut RemoteMedia, Duration)) {
    let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
    let since = s.started.elapsed();
    f(s.by_sender.entry(who.to_string()).or_default(), since);
}

/// One participant's synthetic media.
pub struct SyntheticCall {
    peer: MediaPeer,
    camera: TestPattern,
    video: Vp8Encoder,
    microphone: Tone,
    audio: OpusEncoder,
    connected: bool,
    stats: Stats,
    transform: Arc<dyn FrameTransform>,
}

impl SyntheticCall {
    /// Set up media for participant number `me` (which picks the colour and the tone) and make
    /// the offer to send as `sdp_offer`.
    pub async fn start(
        me: u32,
        bind: std::net::SocketAddr,
    ) -> Result<(Self, ClientMessage), ClientError> {
        Self::start_with(me, bind, Arc::new(Plain)).await
    }

    /// [`SyntheticCall::start`] with a frame transform (end-to-end encryption).
    pub async fn start_with(
        me: u32,
        bind: std::net::SocketAddr,
        transform: Arc<dyn FrameTransform>,
    ) -> Result<(Self, ClientMessage), ClientError> {
        let mut peer = MediaPeer::new(bind).await?;
        let sdp = peer.offer().await?;
        let stats: Stats = Arc::new(Mutex::new(StatsInner {
            started: Instant::now(),
            by_sender: BTreeMap::new(),
        }));
        // Every remote track is decoded and measured in its own task.
        if let Some(mut tracks) = peer.take_tracks() {
            let stats = stats.clone();
            let transform = transform.clone();
            tokio::spawn(async move {
                while let Some(t) = tracks.recv().await {
                    tokio::spawn(receive(t, stats.clone(), transform.clone()));
                }
            });
        }
        let codec = |e: parley_media::vp8::CodecError| ClientError::Media(e.to_string());
        let call = SyntheticCall {
            peer,
            camera: TestPattern::new(320, 180, me),
            video: Vp8Encoder::new(Vp8Config::realtime(320, 180, 300)).map_err(codec)?,
            microphone: Tone::for_participant(me),
            audio: OpusEncoder::new(&OpusConfig::default()).map_err(codec)?,
            connected: false,
            stats,
            transform,
        };
        Ok((call, ClientMessage::SdpOffer { sdp }))
    }

    /// Handle a media message from the server; returns the reply to send, if any.
    pub async fn on_message(
        &mut self,
        msg: &ServerMessage,
    ) -> Result<Option<ClientMessage>, ClientError> {
        match msg {
            ServerMessage::SdpAnswer { sdp } => {
                self.peer.accept_answer(sdp.clone()).await?;
                self.peer.connected(Duration::from_secs(15)).await?;
                self.connected = true;
                Ok(None)
            }
            ServerMessage::SdpOffer { sdp } => {
                let sdp = self.peer.answer_offer(sdp.clone()).await?;
                Ok(Some(ClientMessage::SdpAnswer { sdp }))
            }
            _ => Ok(None),
        }
    }

    /// Send the next video frame (call at the frame rate).
    pub async fn send_video(&mut self) -> Result<(), ClientError> {
        if !self.connected {
            return Ok(());
        }
        let frame = self
            .camera
            .next_frame(wall_us())
            .map_err(|e| ClientError::Media(e.to_string()))?;
        let keyframe = self.peer.take_keyframe_request();
        let encoded = self
            .video
            .encode(&frame, keyframe)
            .map_err(|e| ClientError::Media(e.to_string()))?;
        for e in encoded {
            let frame = self.transform.seal(FrameKind::Video, e.data);
            self.peer.send_video(frame, 3000).await?;
        }
        Ok(())
    }

    /// Send the next 20 ms of audio (call every 20 ms).
    pub async fn send_audio(&mut self) -> Result<(), ClientError> {
        if !self.connected {
            return Ok(());
        }
        let f = self
            .microphone
            .next_frame(wall_us(), FRAME_SAMPLES)
            .map_err(|e| ClientError::Media(e.to_string()))?;
        let packet = self
            .audio
            .encode(&f)
            .map_err(|e| ClientError::Media(e.to_string()))?;
        let packet = self.transform.seal(FrameKind::Audio, packet);
        self.peer.send_audio(packet).await
    }

    /// What has been received so far, by sending participant.
    pub fn stats(&self) -> BTreeMap<String, RemoteMedia> {
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_sender
            .clone()
    }

    /// Hang up.
    pub async fn close(&self) {
        self.peer.close().await;
    }
}

/// The participant whose tone `pcm` carries: a clear winner among the tone frequencies, well
/// above the runner-up, or `None` (noise, speech, silence, undecryptable garbage).
fn recognise_tone(pcm: &[i16]) -> Option<u32> {
    let mut powers: Vec<(u32, f64)> = (0..13)
        .map(|n| (n, power_at(pcm, participant_frequency(n))))
        .collect();
    powers.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (best, p) = powers[0];
    let second = powers[1].1;
    (p > 0.002 && p > 8.0 * second).then_some(best)
}

async fn receive(track: Arc<dyn TrackRemote>, stats: Stats, transform: Arc<dyn FrameTransform>) {
    let who = track.stream_id().await.to_string();
    let ssrc = track.ssrcs().await.first().copied().unwrap_or_default();
    let mime = track
        .codec(ssrc)
        .await
        .map(|c| c.mime_type.to_ascii_lowercase())
        .unwrap_or_default();
    if mime == "audio/opus" {
        let Ok(mut dec) = OpusDecoder::new() else {
            return;
        };
        let mut recent: Vec<i16> = Vec::new();
        while let Some(ev) = track.poll().await {
            if let TrackRemoteEvent::OnRtpPacket(pkt) = ev
                && let Some(packet) = transform.open(FrameKind::Audio, &who, pkt.payload.to_vec())
                && let Ok(pcm) = dec.decode(&packet)
            {
                recent.extend(&pcm);
                let ms = (pcm.len() / 48) as u64;
                let tone = if recent.len() >= 48_000 {
                    let t = recognise_tone(&recent);
                    recent.clear();
                    t
                } else {
                    None
                };
                update(&stats, &who, |s, _| {
                    s.audio_ms += ms;
                    if tone.is_some() {
                        s.tone_of = tone;
                    }
                });
            }
        }
        return;
    }
    let Ok(mut dec) = Vp8Decoder::new() else {
        return;
    };
    let mut sb = SampleBuilder::new(128, Vp8Packet::default(), 90_000)
        .with_max_time_delay(Duration::from_millis(500));
    let mut need_keyframe = true;
    let mut last_pli: Option<Instant> = None;
    while let Some(ev) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(pkt) = ev else {
            continue;
        };
        // Until the decoder has a keyframe, ask for one (at most every 300 ms).
        if need_keyframe && last_pli.is_none_or(|t| t.elapsed() > Duration::from_millis(300)) {
            last_pli = Some(Instant::now());
            let pli: Vec<Box<dyn rtc::rtcp::Packet>> = vec![Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            })];
            let _ = track.write_rtcp(pli).await;
        }
        sb.push(Instant::now(), pkt);
        while let Some(s) = sb.pop(Instant::now()) {
            let Some(frame) = transform.open(FrameKind::Video, &who, s.data.to_vec()) else {
                need_keyframe = true;
                continue;
            };
            match dec.decode(&frame) {
                Ok(Some(frame)) => {
                    need_keyframe = false;
                    let stamp = read_stamp(&frame);
                    let now_ms = (wall_us() / 1000) as u32;
                    update(&stats, &who, |st, since| {
                        st.video_frames += 1;
                        st.first_video_ms
                            .get_or_insert(u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
                        if let Some(stamp) = stamp {
                            st.last_frame = Some(stamp.seq);
                            st.video_latency_ms = Some(now_ms.wrapping_sub(stamp.capture_ms));
                        }
                    });
                }
                Ok(None) => {}
                Err(_) => need_keyframe = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_are_recognised_and_noise_is_not() {
        let mut t = Tone::for_participant(5);
        let pcm = t.next_frame(0, 48_000).unwrap().samples;
        assert_eq!(recognise_tone(&pcm), Some(5));
        let mut x = 1u32;
        let noise: Vec<i16> = (0..48_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 20) as i16 - 2048
            })
            .collect();
        assert_eq!(recognise_tone(&noise), None);
        assert_eq!(recognise_tone(&[0; 48_000]), None);
    }
}

//! The media half of the call engine: one WebRTC peer connection (webrtc-rs) with the SFU. It
//! publishes this participant's Opus and VP8 tracks from already-encoded frames (frame
//! encryption will sit between the encoder and [`MediaPeer::send_video`]) and hands out the
//! remote tracks the SFU offers. SDP travels over the signaling WebSocket; ICE uses the host
//! candidate of the address it binds (bind an explicit IP: `0.0.0.0` skips loopback).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{
    Attribute, BandwidthEstimator, EstimatorStats, Gcc, PacerBuilder, Packet as IPacket,
    PacketReport, Slot, TaggedPacket,
};
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::CongestionFeedback;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateType, RTCIceGatheringState, RTCIceServer,
    RTCIceTransportPolicy, RTCPeerConnectionState, RTCSessionDescription, Registry,
    SettingEngineBuilder, configure_congestion_control, configure_simulcast_extension_headers,
    register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;
use webrtc::runtime::{Receiver, Sender, channel};

use parley_proto::IceServer;
use parley_proto::message::MAX_ICE_SERVERS;

use crate::congestion::{Arrival, DelayGuard, LossGuard};
use crate::error::ClientError;
use crate::feedback::{FeedbackTap, SharedCoverage};
use crate::repair::{MID_URI, RID_URI, RetransmitInStream};
use crate::tap::{Tap, Tapped};

/// The RTP header extension that carries an audio packet's level (RFC 6464).
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// The RTP header extension on what the SFU forwards: whose it is (the sender's participant
/// number, 4 bytes big-endian). The SFU's slots carry whoever speaks or is shown.
pub const SENDER_EXTENSION: &str = "urn:parley:rtp-hdrext:sender";

/// The id `a=extmap` gives `uri` in a session description, if any.
fn extmap_id(sdp: &str, uri: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("a=extmap:")?;
        let (id, name) = rest.split_once(' ')?;
        let id = id.split('/').next()?.parse::<u8>().ok()?;
        (name.split_whitespace().next()? == uri && (1..=14).contains(&id)).then_some(id)
    })
}
/// The simulcast layers of the camera's video, smallest first: their rids (RFC 8851), each
/// half the width and height of the next (`l` a quarter of the camera's size, `m` half, `h`
/// all of it). Each is encoded and end-to-end encrypted on its own; the SFU forwards each
/// receiver the one that fits its tile.
pub const LAYERS: [&str; 3] = ["l", "m", "h"];

/// A header extension whose value is a short text (a mid or rid).
#[derive(Debug, Clone)]
struct TextExtension(Bytes);

impl rtc::shared::marshal::MarshalSize for TextExtension {
    fn marshal_size(&self) -> usize {
        self.0.len()
    }
}

impl rtc::shared::marshal::Marshal for TextExtension {
    fn marshal_to(&self, buf: &mut [u8]) -> rtc::shared::error::Result<usize> {
        let n = self.0.len();
        match buf.get_mut(..n) {
            Some(b) => {
                b.copy_from_slice(&self.0);
                Ok(n)
            }
            None => Err(rtc::shared::error::Error::ErrBufferTooSmall),
        }
    }
}

fn text_extension(uri: &'static str, text: &str) -> HeaderExtension {
    HeaderExtension::Custom {
        uri: uri.into(),
        extension: Box::new(TextExtension(Bytes::copy_from_slice(text.as_bytes()))),
    }
}

/// The mid of the first video m-line of a session description.
fn video_mid(sdp: &str) -> Option<String> {
    let mut in_video = false;
    for line in sdp.lines().map(str::trim) {
        if line.starts_with("m=") {
            in_video = line.starts_with("m=video");
        } else if in_video && let Some(mid) = line.strip_prefix("a=mid:") {
            return Some(mid.to_owned());
        }
    }
    None
}

/// Levels below this (louder than -50 dBov) are flagged as voice.
const VOICE_BELOW: u8 = 50;

fn media_err(e: impl std::fmt::Display) -> ClientError {
    ClientError::Media(e.to_string())
}

fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Delivers incoming keyframe requests (PLI/FIR) to the application; webrtc-rs consumes all
/// incoming RTCP otherwise.
#[derive(Default)]
struct KeyframeRequestForwarder;

impl Tap for KeyframeRequestForwarder {
    fn read(&mut self, msg: &mut TaggedPacket) -> bool {
        if let IPacket::Rtcp(pkts) = &msg.message.packet {
            let keep: Vec<Box<dyn rtc::rtcp::Packet>> = pkts
                .iter()
                .filter(|p| {
                    let a = p.as_any();
                    a.is::<PictureLossIndication>() || a.is::<FullIntraRequest>()
                })
                .cloned()
                .collect();
            if keep.is_empty() {
                return false;
            }
            msg.message.packet = IPacket::Rtcp(keep);
            msg.message.add(Attribute::DeliverToApplication);
        }
        true
    }
}

/// The congestion controller: GCC's delay half over the SFU's transport-wide feedback, capped
/// by our queue-delay guard and our loss guard ([`crate::congestion`]), the target published
/// for the encoder after every report. GCC's own loss half is not used: it reads random loss
/// as a full link (above 10 % it only ever decreases), where the loss guard backs off only for
/// loss that comes with the rate. The pacer is told [`PACING_FACTOR`] times the target, as libwebrtc does: the encoder
/// aims at the target on average, and the pacer smooths bursts (a keyframe) without letting
/// them sit in its queue for long.
struct PublishedEstimate {
    gcc: Gcc,
    guard: DelayGuard,
    loss: LossGuard,
    /// Lowest and highest target.
    range: (f64, f64),
    target_bps: Arc<AtomicU64>,
    /// What the SFU's feedback named: a packet no feedback named is not counted as lost
    /// (see [`crate::feedback`]).
    coverage: SharedCoverage,
    /// The loss our uplink has whatever the rate, in percent (for the audio's FEC).
    uplink_loss_pct: Arc<AtomicU8>,
}

impl PublishedEstimate {
    fn target(&self) -> f64 {
        self.gcc
            .delay_based_bitrate()
            .min(self.guard.cap_bps())
            .min(self.loss.cap_bps())
            .clamp(self.range.0, self.range.1)
    }

    fn publish(&self) {
        self.target_bps
            .store(self.target().to_bits(), Ordering::Relaxed);
    }
}

impl BandwidthEstimator for PublishedEstimate {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        self.gcc.on_reports(now, reports);
        let batch: Vec<Arrival> = reports
            .iter()
            .map(|r| Arrival {
                departure: r.departure,
                arrival: r.arrival.filter(|_| r.arrived),
                size: r.size,
            })
            .collect();
        self.guard.on_feedback(now, &batch);
        // Lost means the SFU said so; a packet whose feedback was itself lost says nothing.
        let (mut reported, mut lost) = (0u32, 0u32);
        if let Ok(c) = self.coverage.lock() {
            for r in reports {
                if r.arrived {
                    reported += 1;
                } else if !r.is_twcc || c.covers(r.twcc_sequence_number) {
                    reported += 1;
                    lost += 1;
                }
            }
        }
        if let Some(l) = self.loss.inherent_loss() {
            let pct = (l * 100.0).round().clamp(0.0, 100.0) as u8;
            self.uplink_loss_pct.store(pct, Ordering::Relaxed);
        }
        self.loss.on_feedback(
            now,
            reported,
            lost,
            self.guard.received_bps(),
            self.guard.room_bps(),
        );
        self.publish();
    }
    fn target_bitrate(&self) -> f64 {
        self.target() * PACING_FACTOR
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.gcc.handle_timeout(now);
        self.publish();
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.gcc.poll_timeout()
    }
    fn stats(&self) -> EstimatorStats {
        self.gcc.stats()
    }
}

/// Ask the sender of remote track `track` (media SSRC `ssrc`) for a keyframe (RTCP PLI).
pub async fn request_keyframe(track: &dyn TrackRemote, ssrc: u32) {
    let pli: Vec<Box<dyn rtc::rtcp::Packet>> = vec![Box::new(PictureLossIndication {
        sender_ssrc: 0,
        media_ssrc: ssrc,
    })];
    // A closed track cannot ask; its receiver is going away anyway.
    let _ = track.write_rtcp(pli).await;
}

/// How a [`MediaPeer`] sends and connects.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    /// Sending starts here (everything: video, audio, headers), in bit/s.
    pub start_bps: f64,
    /// Congestion control moves the rate between [`MIN_SEND_BPS`] and this as the SFU's
    /// feedback shows the link.
    pub max_bps: f64,
    /// The STUN/TURN servers the meeting server announced; unusable entries are ignored.
    pub ice_servers: Vec<IceServer>,
    /// Only connect through a TURN relay (the SFU never sees this computer's address).
    pub relay_only: bool,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            start_bps: 400_000.0,
            max_bps: 600_000.0,
            ice_servers: Vec::new(),
            relay_only: false,
        }
    }
}

/// The usable announced servers, as webrtc-rs takes them.
fn rtc_ice_servers(servers: &[IceServer]) -> Vec<RTCIceServer> {
    servers
        .iter()
        .filter(|s| s.is_valid())
        .take(MAX_ICE_SERVERS)
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect()
}

/// How media reaches the SFU: the kind of this side's address in the candidate pair ICE
/// selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// From this computer's own address.
    Direct,
    /// From this computer's address as a NAT shows it (seen by a STUN server or the SFU).
    Reflexive,
    /// Through the TURN relay: the SFU sees only the relay's address.
    Relayed,
}

/// Lowest send rate the controller goes to: audio and a small moving picture still fit.
pub const MIN_SEND_BPS: f64 = 150_000.0;

/// How much faster than the target the pacer lets packets out (libwebrtc uses 2.5).
pub const PACING_FACTOR: f64 = 2.5;

#[derive(Clone)]
struct Handler {
    gather: Sender<()>,
    state: Sender<RTCPeerConnectionState>,
    tracks: Sender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    // What is logged here is states and kinds only: webrtc-rs's own log (switched off, see
    // parley_proto::log) is where candidates and addresses would be.
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        tracing::debug!(state = ?s, "ICE gathering");
        if s == RTCIceGatheringState::Complete {
            let _ = self.gather.try_send(());
        }
    }
    async fn on_connection_state_change(&self, s: RTCPeerConnectionState) {
        tracing::debug!(state = ?s, "media connection");
        let _ = self.state.try_send(s);
    }
    async fn on_track(&self, t: Arc<dyn TrackRemote>) {
        let kind = t.kind().await;
        tracing::debug!(?kind, "remote track");
        let _ = self.tracks.try_send(t);
    }
}

struct Outgoing {
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    /// One SSRC per encoding (per simulcast layer, in [`LAYERS`] order, for video).
    ssrcs: Vec<u32>,
    mime: &'static str,
    pt: Option<u8>,
}

/// One participant's peer connection with the SFU.
pub struct MediaPeer {
    pc: Arc<dyn PeerConnection>,
    gather_rx: Receiver<()>,
    state_rx: Receiver<RTCPeerConnectionState>,
    /// The connection came up (ICE and DTLS) at least once.
    up: bool,
    /// Since when the connection, once up, has been down (disconnected or failed).
    down_since: Option<Instant>,
    tracks_rx: Option<Receiver<Arc<dyn TrackRemote>>>,
    video: Outgoing,
    audio: Outgoing,
    /// The video m-line's mid, as simulcast packets name it (known once the offer is made).
    video_mid: Option<String>,
    /// Which layers the SFU asked a keyframe of (bit *i*: [`LAYERS`]\[*i*\]).
    keyframe_wanted: Arc<AtomicU8>,
    target_bps: Arc<AtomicU64>,
    uplink_loss_pct: Arc<AtomicU8>,
    /// The id the SFU's sender extension has in this session (0 until it offers it).
    sender_ext: Arc<AtomicU8>,
    /// An offer of ours waits for its answer.
    offer_pending: bool,
}

/// RTP ticks as a duration, rounded so webrtc-rs's truncation gives exactly `ticks`.
fn ticks(t: u64, clock: u64) -> Duration {
    Duration::from_nanos(t * 1_000_000_000 / clock + 1)
}

impl MediaPeer {
    /// A peer connection bound to `bind` (e.g. `127.0.0.1:0`), with one VP8 and one Opus track.
    pub async fn new(
        bind: std::net::SocketAddr,
        settings: &PeerSettings,
    ) -> Result<Self, ClientError> {
        let (start_bps, max_bps) = (settings.start_bps, settings.max_bps);
        let mut me = MediaEngine::default();
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: opus(),
                payload_type: 111,
            },
            RtpCodecKind::Audio,
        )
        .map_err(media_err)?;
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: vp8(),
                payload_type: 96,
            },
            RtpCodecKind::Video,
        )
        .map_err(media_err)?;
        // Simulcast: each video packet names its m-line and layer.
        configure_simulcast_extension_headers(&mut me).map_err(media_err)?;
        // Each audio packet says how loud it is (RFC 6464, outside the encrypted payload): the
        // SFU forwards only a meeting's loudest voices.
        for (uri, kind) in [
            (AUDIO_LEVEL_URI, RtpCodecKind::Audio),
            (SENDER_EXTENSION, RtpCodecKind::Audio),
            (SENDER_EXTENSION, RtpCodecKind::Video),
        ] {
            me.register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: uri.to_owned(),
                },
                kind,
                None,
            )
            .map_err(media_err)?;
        }
        // Send-side congestion control: transport-wide sequence numbers on everything we send,
        // GCC on the SFU's feedback, and a pacer that keeps the wire rate at GCC's target (so
        // a keyframe burst or an encoder overshoot queues here instead of flooding the link).
        let max_bps = max_bps.max(MIN_SEND_BPS);
        let start_bps = start_bps.clamp(MIN_SEND_BPS, max_bps);
        let target_bps = Arc::new(AtomicU64::new(start_bps.to_bits()));
        let coverage = SharedCoverage::default();
        let uplink_loss_pct = Arc::new(AtomicU8::new(0));
        let estimator = PublishedEstimate {
            gcc: Gcc::new(start_bps, MIN_SEND_BPS, max_bps),
            guard: DelayGuard::new(start_bps, MIN_SEND_BPS, max_bps),
            loss: LossGuard::new(start_bps, MIN_SEND_BPS, max_bps),
            range: (MIN_SEND_BPS, max_bps),
            target_bps: target_bps.clone(),
            coverage: coverage.clone(),
            uplink_loss_pct: uplink_loss_pct.clone(),
        };
        // Retransmissions come from the SFU on their own SSRC (RFC 4588); webrtc-rs folds
        // them back into the stream.
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_RTX.to_owned(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: "apt=96".to_owned(),
                    rtcp_feedback: vec![],
                },
                payload_type: 97,
            },
            RtpCodecKind::Video,
        )
        .map_err(media_err)?;
        let reg = configure_congestion_control(
            Registry::new(),
            estimator,
            CongestionFeedback::Twcc,
            &mut me,
        )
        .map_err(media_err)?;
        let reg = register_default_interceptors(reg, &mut me).map_err(media_err)?;
        let reg = reg
            .with(
                Slot::Pacer,
                PacerBuilder::new()
                    .with_target_bitrate(start_bps * PACING_FACTOR)
                    .with_queue_limit(128)
                    .build(),
            )
            .with(Slot::from(14_000), Tapped::new(KeyframeRequestForwarder))
            // Between the NACK responder (4_000) and the pacer (3_000): each retransmission
            // goes out as the original packet, so the SFU can place it and the transport-wide
            // numbering (2_000) counts it (see `repair.rs`).
            .with(
                Slot::from(3_500),
                Tapped::new(RetransmitInStream::default()),
            )
            // Closer to the wire than the congestion controller (1_000): notes what each
            // feedback message covers before the controller reads it.
            .with(Slot::from(500), Tapped::new(FeedbackTap::new(coverage)));
        let se = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            // A check every 50 ms instead of 200 (same 1.4 s before a pair is given up): the
            // SFU is ICE-lite with one candidate, so connecting takes one or two checks.
            .with_ice_connection_attempts(Some(Duration::from_millis(50)), Some(28))
            // An ICE restart (the network changed under the call) takes new sockets: the old
            // address may be gone.
            .with_discard_local_candidates_during_ice_restart(true)
            // A path that stops answering is noticed within 3 s (checks every second), so the
            // restart can begin; failed after 15 s.
            .with_ice_timeouts(
                Some(Duration::from_secs(3)),
                Some(Duration::from_secs(15)),
                Some(Duration::from_secs(1)),
            )
            .build();
        let (gather, gather_rx) = channel::<()>(8);
        let (state, state_rx) = channel::<RTCPeerConnectionState>(32);
        let (tracks, tracks_rx) = channel::<Arc<dyn TrackRemote>>(64);
        let pc: Arc<dyn PeerConnection> = Arc::new(
            PeerConnectionBuilder::new()
                .with_configuration(
                    RTCConfigurationBuilder::new()
                        .with_ice_servers(rtc_ice_servers(&settings.ice_servers))
                        .with_ice_transport_policy(if settings.relay_only {
                            RTCIceTransportPolicy::Relay
                        } else {
                            RTCIceTransportPolicy::All
                        })
                        .build(),
                )
                .with_media_engine(me)
                .with_interceptor_registry(reg)
                .with_setting_engine(se)
                .with_handler(Arc::new(Handler {
                    gather,
                    state,
                    tracks,
                }))
                .with_udp_addrs(vec![bind])
                .build()
                .await
                .map_err(media_err)?,
        );
        // Four distinct SSRCs: the audio one even, the video layers' odd and apart.
        let mut random = [0u8; 4];
        parley_proto::secret::os_random(&mut random);
        let base = u32::from_be_bytes(random) & !0xff;
        let vssrcs: Vec<u32> = (0..LAYERS.len() as u32)
            .map(|i| base | (2 * i + 1))
            .collect();
        let assrc = base | 0x80;
        let video = Self::outgoing(
            &pc,
            RtpCodecKind::Video,
            vp8(),
            &vssrcs,
            &LAYERS,
            "video",
            MIME_TYPE_VP8,
        )
        .await?;
        let audio = Self::outgoing(
            &pc,
            RtpCodecKind::Audio,
            opus(),
            &[assrc],
            &[],
            "audio",
            MIME_TYPE_OPUS,
        )
        .await?;
        let keyframe_wanted = Arc::new(AtomicU8::new(0));
        {
            // Keyframe requests from the SFU arrive as RTCP on the local video track, each
            // for one layer's SSRC.
            let track = video.track.clone();
            let wanted = keyframe_wanted.clone();
            let ssrcs = vssrcs.clone();
            tokio::spawn(async move {
                while let Some(ev) = track.poll().await {
                    let TrackLocalEvent::OnRtcpPacket(pkts) = ev else {
                        continue;
                    };
                    for p in &pkts {
                        let a = p.as_any();
                        let media_ssrc =
                            if let Some(pli) = a.downcast_ref::<PictureLossIndication>() {
                                pli.media_ssrc
                            } else if let Some(fir) = a.downcast_ref::<FullIntraRequest>() {
                                fir.fir.first().map_or(fir.media_ssrc, |e| e.ssrc)
                            } else {
                                continue;
                            };
                        let bits = match ssrcs.iter().position(|s| *s == media_ssrc) {
                            Some(i) => 1u8 << i,
                            None => u8::MAX,
                        };
                        wanted.fetch_or(bits, Ordering::SeqCst);
                    }
                }
            });
        }
        Ok(MediaPeer {
            pc,
            gather_rx,
            state_rx,
            up: false,
            down_since: None,
            tracks_rx: Some(tracks_rx),
            video,
            audio,
            video_mid: None,
            keyframe_wanted,
            target_bps,
            uplink_loss_pct,
            sender_ext: Arc::new(AtomicU8::new(0)),
            offer_pending: false,
        })
    }

    /// A track with one encoding per SSRC, named by `rids` (none: one plain encoding).
    async fn outgoing(
        pc: &Arc<dyn PeerConnection>,
        kind: RtpCodecKind,
        codec: RTCRtpCodec,
        ssrcs: &[u32],
        rids: &[&str],
        id: &str,
        mime: &'static str,
    ) -> Result<Outgoing, ClientError> {
        let encodings = ssrcs
            .iter()
            .enumerate()
            .map(|(i, ssrc)| RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    rid: rids.get(i).map(|r| (*r).to_owned()).unwrap_or_default(),
                    ssrc: Some(*ssrc),
                    ..Default::default()
                },
                codec: codec.clone(),
                ..Default::default()
            })
            .collect();
        let t = MediaStreamTrack::new(
            "parley".to_owned(),
            id.to_owned(),
            id.to_owned(),
            kind,
            encodings,
        );
        let track = Arc::new(TrackLocalStaticSample::new(Instant::now(), t).map_err(media_err)?);
        let sender = pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .map_err(media_err)?;
        Ok(Outgoing {
            track,
            sender,
            ssrcs: ssrcs.to_vec(),
            mime,
            pt: None,
        })
    }

    async fn local_sdp(&mut self) -> Result<String, ClientError> {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.gather_rx.recv()).await;
        self.pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or_else(|| media_err("no local description"))
    }

    /// Our offer (complete, with candidates) for the SFU.
    pub async fn offer(&mut self) -> Result<String, ClientError> {
        while self.gather_rx.try_recv().is_ok() {}
        let offer = self.pc.create_offer(None).await.map_err(media_err)?;
        self.pc
            .set_local_description(offer)
            .await
            .map_err(media_err)?;
        let sdp = self.local_sdp().await?;
        self.video_mid = video_mid(&sdp);
        self.offer_pending = true;
        Ok(sdp)
    }

    /// Apply the SFU's answer to our offer.
    pub async fn accept_answer(&mut self, sdp: String) -> Result<(), ClientError> {
        // An answer with no offer of ours waiting belongs to no negotiation of this call (one
        // that crossed a move to another room, say): nothing to do, and no reason to fail.
        if !std::mem::take(&mut self.offer_pending) {
            tracing::debug!("an answer with no offer waiting, ignored");
            return Ok(());
        }
        if let Some(id) = extmap_id(&sdp, SENDER_EXTENSION) {
            self.sender_ext.store(id, Ordering::Relaxed);
        }
        let answer = RTCSessionDescription::answer(sdp).map_err(media_err)?;
        self.pc
            .set_remote_description(answer)
            .await
            .map_err(media_err)
    }

    /// Where remote audio packets say whose voice they carry: the id of the SFU's sender
    /// extension in this session (0 until the SFU offers it), kept up to date by
    /// [`MediaPeer::answer_offer`].
    pub fn sender_extension(&self) -> Arc<AtomicU8> {
        self.sender_ext.clone()
    }

    /// Answer an offer from the SFU (someone's tracks came or went).
    pub async fn answer_offer(&mut self, sdp: String) -> Result<String, ClientError> {
        if let Some(id) = extmap_id(&sdp, SENDER_EXTENSION) {
            self.sender_ext.store(id, Ordering::Relaxed);
        }
        let offer = RTCSessionDescription::offer(sdp).map_err(media_err)?;
        self.pc
            .set_remote_description(offer)
            .await
            .map_err(media_err)?;
        let answer = self.pc.create_answer(None).await.map_err(media_err)?;
        while self.gather_rx.try_recv().is_ok() {}
        self.pc
            .set_local_description(answer)
            .await
            .map_err(media_err)?;
        self.local_sdp().await
    }

    /// Whether the connection is up (ICE and DTLS), without waiting: once it is, it stays so
    /// here; an error if it failed or closed before.
    pub fn poll_connected(&mut self) -> Result<bool, ClientError> {
        while !self.up {
            match self.state_rx.try_recv() {
                Ok(RTCPeerConnectionState::Connected) => self.up = true,
                Ok(RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed) => {
                    return Err(media_err("the connection failed"));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(self.up)
    }

    /// Once the connection was up: since when it has been down (its path stopped answering,
    /// as when the network changes), or `None` while it works.
    pub fn down_since(&mut self) -> Option<Instant> {
        if !self.up {
            return None;
        }
        while let Ok(state) = self.state_rx.try_recv() {
            match state {
                RTCPeerConnectionState::Connected => self.down_since = None,
                RTCPeerConnectionState::Disconnected | RTCPeerConnectionState::Failed => {
                    self.down_since.get_or_insert_with(Instant::now);
                }
                _ => {}
            }
        }
        self.down_since
    }

    /// An offer that restarts ICE (RFC 8445 §9) on new sockets: the same call, its media
    /// found again on whatever path the network offers now.
    pub async fn restart_offer(&mut self) -> Result<String, ClientError> {
        while self.gather_rx.try_recv().is_ok() {}
        let offer = self
            .pc
            .create_offer(Some(RTCOfferOptions { ice_restart: true }))
            .await
            .map_err(media_err)?;
        self.pc
            .set_local_description(offer)
            .await
            .map_err(media_err)?;
        self.offer_pending = true;
        self.local_sdp().await
    }

    /// Wait until the connection is up (ICE and DTLS).
    pub async fn connected(&mut self, within: Duration) -> Result<(), ClientError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.up {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, self.state_rx.recv()).await {
                Ok(Some(RTCPeerConnectionState::Connected)) => {
                    self.up = true;
                    return Ok(());
                }
                Ok(Some(RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed)) => {
                    return Err(media_err("the connection failed"));
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return Err(media_err("timed out connecting")),
            }
        }
    }

    /// The loss our uplink has whatever we send, in percent, as the SFU's feedback shows it
    /// (0 until known).
    pub fn uplink_loss_pct(&self) -> u8 {
        self.uplink_loss_pct.load(Ordering::Relaxed)
    }

    /// What congestion control allows us to send now, in bit/s (all media and headers).
    pub fn target_bitrate_bps(&self) -> f64 {
        f64::from_bits(self.target_bps.load(Ordering::Relaxed))
    }

    /// Which simulcast layers the SFU asked a keyframe of since the last call (a receiver
    /// needs one): bit *i* for [`LAYERS`]\[*i*\].
    pub fn take_keyframe_requests(&self) -> u8 {
        self.keyframe_wanted.swap(0, Ordering::SeqCst)
    }

    async fn write(
        out: &mut Outgoing,
        encoding: usize,
        data: Vec<u8>,
        duration: Duration,
        level: Option<u8>,
        names: Option<(&str, &str)>,
    ) -> Result<(), ClientError> {
        let pt = match out.pt {
            Some(pt) => pt,
            None => {
                let params = out.sender.get_parameters().await.map_err(media_err)?;
                let pt = params
                    .rtp_parameters
                    .codecs
                    .iter()
                    .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(out.mime))
                    .map(|c| c.payload_type)
                    .ok_or_else(|| media_err("codec not negotiated"))?;
                out.pt = Some(pt);
                pt
            }
        };
        let ssrc = *out
            .ssrcs
            .get(encoding)
            .ok_or_else(|| media_err("no such encoding"))?;
        let mut writer = out.track.sample_writer(ssrc, pt);
        if let Some((mid, rid)) = names {
            writer = writer
                .with_extension(text_extension(MID_URI, mid))
                .with_extension(text_extension(RID_URI, rid));
        }
        if let Some(level) = level {
            writer = writer.with_audio_level(AudioLevelExtension {
                level: level.min(127),
                voice: level < VOICE_BELOW,
            });
        }
        writer
            .write_sample(&Sample {
                data: Bytes::from(data),
                duration,
                ..Sample::new(Instant::now())
            })
            .await
            .map_err(media_err)
    }

    /// Send one encoded VP8 frame of simulcast layer `layer` (an index into [`LAYERS`]),
    /// lasting `rtp_ticks` of the 90 kHz clock.
    pub async fn send_video(
        &mut self,
        layer: usize,
        frame: Vec<u8>,
        rtp_ticks: u64,
    ) -> Result<(), ClientError> {
        let rid = LAYERS
            .get(layer)
            .ok_or_else(|| media_err("no such layer"))?;
        let mid = self.video_mid.clone().unwrap_or_default();
        Self::write(
            &mut self.video,
            layer,
            frame,
            ticks(rtp_ticks, 90_000),
            None,
            Some((&mid, rid)),
        )
        .await
    }

    /// Send one 20 ms Opus packet with its audio level (RFC 6464: 0 loudest to 127 silence,
    /// in -dBov; see `AudioFrame::level`).
    pub async fn send_audio(&mut self, packet: Vec<u8>, level: u8) -> Result<(), ClientError> {
        Self::write(
            &mut self.audio,
            0,
            packet,
            ticks(960, 48_000),
            Some(level),
            None,
        )
        .await
    }

    /// The next remote track the SFU delivers (`None` if closed or the feed was taken).
    pub async fn next_track(&mut self) -> Option<Arc<dyn TrackRemote>> {
        self.tracks_rx.as_mut()?.recv().await
    }

    /// Take the feed of remote tracks, to receive them from another task.
    pub fn take_tracks(&mut self) -> Option<Receiver<Arc<dyn TrackRemote>>> {
        self.tracks_rx.take()
    }

    /// How media reaches the SFU, once ICE has selected a pair (`None` before).
    pub async fn route(&self) -> Option<Route> {
        let dtls = self.video.sender.transport().await.ok()??;
        let pair = dtls
            .ice_transport()
            .get_selected_candidate_pair()
            .await
            .ok()??;
        match pair.local().typ {
            RTCIceCandidateType::Host => Some(Route::Direct),
            RTCIceCandidateType::Srflx | RTCIceCandidateType::Prflx => Some(Route::Reflexive),
            RTCIceCandidateType::Relay => Some(Route::Relayed),
            _ => None,
        }
    }

    /// Close the connection.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_extension_id_is_read_from_the_session_description() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:9/sendonly urn:parley:rtp-hdrext:sender\r\n";
        assert_eq!(extmap_id(sdp, SENDER_EXTENSION), Some(9));
        assert_eq!(extmap_id(sdp, AUDIO_LEVEL_URI), Some(1));
        assert_eq!(extmap_id(sdp, "urn:other"), None);
        // Ids outside the one-byte form's 1–14 are not used.
        let bad =
            "a=extmap:15 urn:parley:rtp-hdrext:sender\r\na=extmap:x urn:parley:rtp-hdrext:sender";
        assert_eq!(extmap_id(bad, SENDER_EXTENSION), None);
    }
}

//! Retransmissions the SFU can place: an interceptor that names, on every RTX packet we send,
//! the simulcast layer it repairs.
//!
//! With rid simulcast the offer lists no SSRCs for video (RFC 8853): the SFU learns each
//! layer's SSRC from the `rtp-stream-id` extension its packets carry. webrtc-rs's NACK
//! responder sends a retransmission on the layer's RTX SSRC with **no** header extension, so
//! the SFU cannot tell which layer (or even which m-line) it belongs to and drops it. Every
//! NACK then went unanswered: on a lossy uplink the SFU gave each hole up after its NACK
//! attempts, asked for a keyframe, and the picture froze for most of a second (2026-12-06,
//! `media_survives_ten_percent_loss`). Browsers send `repaired-rtp-stream-id` and `mid` on
//! RTX (RFC 8852 §3.2); this does the same.
//!
//! It learns which RTX SSRC repairs which SSRC when webrtc-rs binds the local streams, and
//! the `mid` and `rid` a layer's packets carry from the packets themselves as they pass on
//! their way to the wire. Placed between the NACK responder and the pacer, it sees both.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use rtc::interceptor::{Interceptor, Packet as IPacket, StreamInfo, TaggedPacket};
use rtc::rtp::header::{EXTENSION_PROFILE_ONE_BYTE, Header};

/// The `mid` header extension (RFC 8843).
pub(crate) const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
/// The `rtp-stream-id` header extension (RFC 8852).
pub(crate) const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
/// The `repaired-rtp-stream-id` header extension (RFC 8852).
pub(crate) const REPAIRED_RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";

/// Most local streams followed (a peer has four: three video layers and the audio).
const MAX_STREAMS: usize = 64;

/// Extension ids of one bound stream.
#[derive(Debug, Clone, Copy, Default)]
struct Ids {
    mid: Option<u8>,
    rid: Option<u8>,
    repaired: Option<u8>,
}

/// What a layer's own packets said.
#[derive(Debug, Clone, Default)]
struct Seen {
    mid: Option<Bytes>,
    rid: Option<Bytes>,
}

/// The interceptor. See the module docs.
#[derive(Default)]
pub(crate) struct RtxNamesLayer {
    /// RTX SSRC → (repaired SSRC, extension ids).
    rtx: HashMap<u32, (u32, Ids)>,
    /// Media SSRC → extension ids.
    media: HashMap<u32, Ids>,
    /// Media SSRC → its last `mid` and `rid`.
    seen: HashMap<u32, Seen>,
    r: VecDeque<TaggedPacket>,
    w: VecDeque<TaggedPacket>,
}

fn ext_id(info: &StreamInfo, uri: &str) -> Option<u8> {
    info.rtp_header_extensions
        .iter()
        .find(|e| e.uri == uri)
        .and_then(|e| u8::try_from(e.id).ok())
        .filter(|id| (1..=14).contains(id))
}

impl RtxNamesLayer {
    /// Learn from, or name, one outgoing RTP header.
    fn outgoing(&mut self, h: &mut Header) {
        if let Some(ids) = self.media.get(&h.ssrc) {
            let seen = self.seen.entry(h.ssrc).or_default();
            if let Some(mid) = ids.mid.and_then(|id| h.get_extension(id)) {
                seen.mid = Some(mid);
            }
            if let Some(rid) = ids.rid.and_then(|id| h.get_extension(id)) {
                seen.rid = Some(rid);
            }
            return;
        }
        let Some((of, ids)) = self.rtx.get(&h.ssrc) else {
            return;
        };
        let Some(seen) = self.seen.get(of) else {
            return;
        };
        if !h.extension {
            h.extension = true;
            h.extension_profile = EXTENSION_PROFILE_ONE_BYTE;
        }
        // A failed set (an id out of range for the profile in use) leaves the packet as it
        // was: unnamed, as webrtc-rs sent it.
        if let (Some(id), Some(mid)) = (ids.mid, &seen.mid) {
            let _ = h.set_extension(id, mid.clone());
        }
        if let (Some(id), Some(rid)) = (ids.repaired, &seen.rid) {
            let _ = h.set_extension(id, rid.clone());
        }
    }
}

impl rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for RtxNamesLayer {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.r.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.r.pop_front()
    }
    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let IPacket::Rtp(p) = &mut msg.message.packet {
            self.outgoing(&mut p.header);
        }
        self.w.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.w.pop_front()
    }
}

impl Interceptor for RtxNamesLayer {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        if self.media.len() >= MAX_STREAMS {
            return;
        }
        let ids = Ids {
            mid: ext_id(info, MID_URI),
            rid: ext_id(info, RID_URI),
            repaired: ext_id(info, REPAIRED_RID_URI),
        };
        self.media.insert(info.ssrc, ids);
        if let Some(rtx) = info.ssrc_rtx {
            self.rtx.insert(rtx, (info.ssrc, ids));
        }
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.media.remove(&info.ssrc);
        self.seen.remove(&info.ssrc);
        if let Some(rtx) = info.ssrc_rtx {
            self.rtx.remove(&rtx);
        }
    }
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::{RTPHeaderExtension, TaggedPacket};
    use rtc::sansio::Protocol;

    fn info(ssrc: u32, rtx: Option<u32>) -> StreamInfo {
        StreamInfo {
            ssrc,
            ssrc_rtx: rtx,
            rtp_header_extensions: [(MID_URI, 1), (RID_URI, 2), (REPAIRED_RID_URI, 3)]
                .into_iter()
                .map(|(uri, id)| RTPHeaderExtension {
                    uri: uri.to_owned(),
                    id,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn packet(ssrc: u32, exts: &[(u8, &'static [u8])]) -> TaggedPacket {
        let mut header = Header {
            version: 2,
            ssrc,
            payload_type: 96,
            ..Default::default()
        };
        if !exts.is_empty() {
            header.extension = true;
            header.extension_profile = EXTENSION_PROFILE_ONE_BYTE;
        }
        for (id, v) in exts {
            header.set_extension(*id, Bytes::from_static(v)).unwrap();
        }
        TaggedPacket {
            now: Instant::now(),
            transport: Default::default(),
            message: IPacket::Rtp(rtc::rtp::Packet {
                header,
                payload: Bytes::from_static(b"x"),
            })
            .into(),
        }
    }

    fn through(i: &mut RtxNamesLayer, p: TaggedPacket) -> Header {
        i.handle_write(p).unwrap();
        match i.poll_write().unwrap().message.packet {
            IPacket::Rtp(p) => p.header,
            _ => panic!("not RTP"),
        }
    }

    #[test]
    fn a_retransmission_names_the_layer_it_repairs() {
        let mut i = RtxNamesLayer::default();
        i.bind_local_stream(&info(10, Some(110)));
        i.bind_local_stream(&info(12, Some(112)));
        // The layers' own packets go by first.
        through(&mut i, packet(10, &[(1, b"0"), (2, b"l")]));
        through(&mut i, packet(12, &[(1, b"0"), (2, b"h")]));
        // webrtc-rs's RTX packets carry nothing.
        let h = through(&mut i, packet(112, &[]));
        assert_eq!(h.get_extension(1).as_deref(), Some(&b"0"[..]));
        assert_eq!(h.get_extension(3).as_deref(), Some(&b"h"[..]));
        assert_eq!(
            h.get_extension(2),
            None,
            "an RTX packet has no rid of its own"
        );
        let h = through(&mut i, packet(110, &[]));
        assert_eq!(h.get_extension(3).as_deref(), Some(&b"l"[..]));
    }

    #[test]
    fn other_packets_pass_unchanged() {
        let mut i = RtxNamesLayer::default();
        i.bind_local_stream(&info(10, Some(110)));
        // An RTX packet before its layer sent anything, and a stranger's: nothing to name.
        assert!(!through(&mut i, packet(110, &[])).extension);
        assert!(!through(&mut i, packet(99, &[])).extension);
        // The layer's own packet keeps what it had.
        let h = through(&mut i, packet(10, &[(1, b"0"), (2, b"l")]));
        assert_eq!(h.get_extension(2).as_deref(), Some(&b"l"[..]));
        assert_eq!(h.get_extension(3), None);
        // Unbound: no longer named.
        i.unbind_local_stream(&info(10, Some(110)));
        assert!(!through(&mut i, packet(110, &[])).extension);
    }
}

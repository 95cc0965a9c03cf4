//! Retransmissions the SFU can place and congestion control can count: an interceptor that
//! turns every RTX packet we send back into a plain retransmission on the layer's own SSRC.
//!
//! With rid simulcast the offer lists no SSRCs for video (RFC 8853): the SFU learns each
//! layer's SSRC from the `rtp-stream-id` extension its packets carry. webrtc-rs's NACK
//! responder sends a retransmission on the layer's RTX SSRC (RFC 4588) with **no** header
//! extension, so the SFU could not tell which layer (or even which m-line) it repaired and
//! dropped it. Every NACK went unanswered: on a lossy uplink the SFU gave each hole up after
//! its NACK attempts, asked for a keyframe, and the picture froze for most of a second
//! (2026-12-06, `media_survives_ten_percent_loss`). Naming the layer (`repaired-rtp-stream-id`)
//! fixed that, but left a second fault: webrtc-rs's transport-wide sequence numbers go only on
//! streams it bound, and the RTX SSRC is not one, so retransmissions never appeared in the
//! feedback congestion control reads. On a link that had just narrowed they filled it unseen:
//! the controller measured a third of what was really sent and cut the rate to its floor.
//!
//! So a retransmission goes out as the original packet again (RFC 4588 §1 allows either; it is
//! what libwebrtc does without RTX): the layer's SSRC, its payload type, the original sequence
//! number, `mid` and `rid` as the layer's packets carry them. The transport-wide numbering
//! further down the chain then numbers it like any packet. The SFU takes it as the late
//! arrival of the packet it asked for.
//!
//! It learns which RTX SSRC repairs which SSRC when webrtc-rs binds the local streams, and
//! the `mid` and `rid` a layer's packets carry from the packets themselves as they pass on
//! their way to the wire. Placed between the NACK responder and the pacer, it sees both.

use std::collections::HashMap;

use bytes::Bytes;
use rtc::interceptor::{Packet as IPacket, StreamInfo, TaggedPacket};
use rtc::rtp::header::EXTENSION_PROFILE_ONE_BYTE;

use crate::tap::Tap;

/// The `mid` header extension (RFC 8843).
pub(crate) const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
/// The `rtp-stream-id` header extension (RFC 8852).
pub(crate) const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";

/// Most local streams followed (a peer has four: three video layers and the audio).
const MAX_STREAMS: usize = 64;

/// What one bound stream's packets look like.
#[derive(Debug, Clone, Copy, Default)]
struct Ids {
    mid: Option<u8>,
    rid: Option<u8>,
    payload_type: u8,
}

/// What a layer's own packets said.
#[derive(Debug, Clone, Default)]
struct Seen {
    mid: Option<Bytes>,
    rid: Option<Bytes>,
}

/// The interceptor. See the module docs.
#[derive(Default)]
pub(crate) struct RetransmitInStream {
    /// RTX SSRC → (repaired SSRC, its stream).
    rtx: HashMap<u32, (u32, Ids)>,
    /// Media SSRC → its stream.
    media: HashMap<u32, Ids>,
    /// Media SSRC → its last `mid` and `rid`.
    seen: HashMap<u32, Seen>,
}

fn ext_id(info: &StreamInfo, uri: &str) -> Option<u8> {
    info.rtp_header_extensions
        .iter()
        .find(|e| e.uri == uri)
        .and_then(|e| u8::try_from(e.id).ok())
        .filter(|id| (1..=14).contains(id))
}

impl RetransmitInStream {
    /// Learn from one outgoing packet, or turn a retransmission back into the original.
    fn outgoing(&mut self, p: &mut rtc::rtp::Packet) {
        let h = &mut p.header;
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
        let Some(&(of, ids)) = self.rtx.get(&h.ssrc) else {
            return;
        };
        // RFC 4588: the original sequence number, then the original payload.
        let Some(osn) = p.payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
            return;
        };
        p.payload = p.payload.slice(2..);
        h.ssrc = of;
        h.sequence_number = osn;
        h.payload_type = ids.payload_type;
        let Some(seen) = self.seen.get(&of) else {
            return;
        };
        if !h.extension {
            h.extension = true;
            h.extension_profile = EXTENSION_PROFILE_ONE_BYTE;
        }
        // A failed set (an id out of range for the profile in use) leaves the extension out;
        // the SFU knows the SSRC from the layer's own packets.
        if let (Some(id), Some(mid)) = (ids.mid, &seen.mid) {
            let _ = h.set_extension(id, mid.clone());
        }
        if let (Some(id), Some(rid)) = (ids.rid, &seen.rid) {
            let _ = h.set_extension(id, rid.clone());
        }
    }
}

impl Tap for RetransmitInStream {
    fn write(&mut self, msg: &mut TaggedPacket) {
        if let IPacket::Rtp(p) = &mut msg.message.packet {
            self.outgoing(p);
        }
    }
    fn bind_local(&mut self, info: &StreamInfo) {
        if self.media.len() >= MAX_STREAMS {
            return;
        }
        let ids = Ids {
            mid: ext_id(info, MID_URI),
            rid: ext_id(info, RID_URI),
            payload_type: info.payload_type,
        };
        self.media.insert(info.ssrc, ids);
        if let Some(rtx) = info.ssrc_rtx {
            self.rtx.insert(rtx, (info.ssrc, ids));
        }
    }
    fn unbind_local(&mut self, info: &StreamInfo) {
        self.media.remove(&info.ssrc);
        self.seen.remove(&info.ssrc);
        if let Some(rtx) = info.ssrc_rtx {
            self.rtx.remove(&rtx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tap::Tapped;
    use rtc::interceptor::Interceptor;
    use rtc::interceptor::{RTPHeaderExtension, TaggedPacket};
    use rtc::rtp::header::Header;
    use rtc::sansio::Protocol;
    use std::time::Instant;

    fn info(ssrc: u32, rtx: Option<u32>) -> StreamInfo {
        StreamInfo {
            ssrc,
            ssrc_rtx: rtx,
            payload_type: 96,
            payload_type_rtx: Some(97),
            rtp_header_extensions: [(MID_URI, 1), (RID_URI, 2)]
                .into_iter()
                .map(|(uri, id)| RTPHeaderExtension {
                    uri: uri.to_owned(),
                    id,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn packet(
        ssrc: u32,
        pt: u8,
        seq: u16,
        exts: &[(u8, &'static [u8])],
        payload: &'static [u8],
    ) -> TaggedPacket {
        let mut header = Header {
            version: 2,
            ssrc,
            payload_type: pt,
            sequence_number: seq,
            timestamp: 9_000,
            marker: true,
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
                payload: Bytes::from_static(payload),
            })
            .into(),
        }
    }

    fn through(i: &mut Tapped<RetransmitInStream>, p: TaggedPacket) -> rtc::rtp::Packet {
        i.handle_write(p).unwrap();
        match i.poll_write().unwrap().message.packet {
            IPacket::Rtp(p) => p,
            _ => panic!("not RTP"),
        }
    }

    #[test]
    fn a_retransmission_goes_out_as_the_original_packet() {
        let mut i = Tapped::new(RetransmitInStream::default());
        i.bind_local_stream(&info(10, Some(110)));
        i.bind_local_stream(&info(12, Some(112)));
        // The layers' own packets go by first.
        through(&mut i, packet(10, 96, 500, &[(1, b"0"), (2, b"l")], b"low"));
        through(
            &mut i,
            packet(12, 96, 700, &[(1, b"0"), (2, b"h")], b"high"),
        );
        // webrtc-rs's RTX packet: its own SSRC, type and numbering, the original number
        // first in the payload, no extension.
        let p = through(&mut i, packet(112, 97, 3, &[], b"\x02\xbchigh"));
        assert_eq!(p.header.ssrc, 12);
        assert_eq!(p.header.payload_type, 96);
        assert_eq!(p.header.sequence_number, 700);
        assert_eq!((p.header.timestamp, p.header.marker), (9_000, true));
        assert_eq!(&p.payload[..], b"high");
        assert_eq!(p.header.get_extension(1).as_deref(), Some(&b"0"[..]));
        assert_eq!(p.header.get_extension(2).as_deref(), Some(&b"h"[..]));
        let p = through(&mut i, packet(110, 97, 4, &[], b"\x01\xf4low"));
        assert_eq!((p.header.ssrc, p.header.sequence_number), (10, 500));
        assert_eq!(p.header.get_extension(2).as_deref(), Some(&b"l"[..]));
    }

    #[test]
    fn other_packets_pass_unchanged() {
        let mut i = Tapped::new(RetransmitInStream::default());
        i.bind_local_stream(&info(10, Some(110)));
        // A stranger's packet, and a truncated RTX packet: as they were.
        let p = through(&mut i, packet(99, 97, 1, &[], b"xy"));
        assert_eq!((p.header.ssrc, p.header.sequence_number), (99, 1));
        let p = through(&mut i, packet(110, 97, 2, &[], b"x"));
        assert_eq!((p.header.ssrc, &p.payload[..]), (110, &b"x"[..]));
        // The layer's own packet keeps what it had.
        let p = through(&mut i, packet(10, 96, 5, &[(1, b"0"), (2, b"l")], b"z"));
        assert_eq!((p.header.ssrc, p.header.sequence_number), (10, 5));
        assert_eq!(p.header.get_extension(2).as_deref(), Some(&b"l"[..]));
        // Unbound: no longer rewritten.
        i.unbind_local_stream(&info(10, Some(110)));
        let p = through(&mut i, packet(110, 97, 3, &[], b"\x00\x05z"));
        assert_eq!(p.header.ssrc, 110);
    }
}

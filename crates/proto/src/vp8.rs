//! What a VP8 frame says in the clear about itself, as both the media server (which picks a
//! simulcast layer by picture size) and a recorder (which writes the size into WebM) read it.
//! The frame's header stays outside the end-to-end encryption (PROTOCOL.md, "Media frames").

/// The picture size a VP8 keyframe declares (its uncompressed data chunk, RFC 6386 §9.1: the
/// 3-byte frame tag, the start code 9d 01 2a, then 14-bit width and height, little endian);
/// `None` for a delta frame or anything else.
pub fn vp8_keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    let head = frame.get(..10)?;
    if head[0] & 1 != 0 || head[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([head[6], head[7]]) & 0x3fff;
    let height = u16::from_le_bytes([head[8], head[9]]) & 0x3fff;
    Some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyframe_says_its_size_and_nothing_else_does() {
        let key = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x40];
        // 0x0140 = 320; 0x40b4 & 0x3fff = 180 (the top two bits are the scaling mode).
        assert_eq!(vp8_keyframe_size(&key), Some((320, 180)));
        let mut delta = key;
        delta[0] |= 1;
        assert_eq!(vp8_keyframe_size(&delta), None);
        assert_eq!(vp8_keyframe_size(&key[..9]), None);
        let mut no_start = key;
        no_start[4] = 0;
        assert_eq!(vp8_keyframe_size(&no_start), None);
    }
}

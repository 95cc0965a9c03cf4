//! Known answers: RFC 9605 Appendix C for the suite Parley uses (AES_128_GCM_SHA256_128,
//! 0x0004), through the same `sframe` calls our FrameCipher makes; and our wire layout.

use parley_e2ee::{FRAME_SUITE, FrameError, MediaKind, Member, clear_prefix};
use sframe::frame::{MediaFrameView, SingleUseCounter};
use sframe::header::SframeHeader;
use sframe::key::EncryptionKey;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn rfc9605_vector_for_aes_128_gcm_sha256() {
    // RFC 9605, Appendix C.5, cipher suite 0x0004.
    let base_key = hex("000102030405060708090a0b0c0d0e0f");
    let metadata = hex("4945544620534672616d65205747");
    let pt = hex("64726166742d696574662d736672616d652d656e63");
    let ct =
        hex("9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb");
    let key = EncryptionKey::derive_from(FRAME_SUITE, 291u64, &base_key).unwrap();
    let mut counter = SingleUseCounter::new(17767);
    let frame = MediaFrameView::try_with_meta_data(&mut counter, &pt, &metadata).unwrap();
    let mut out = Vec::new();
    frame.encrypt_into(&key, &mut out).unwrap();
    // Our buffer layout: the metadata, then the SFrame (header, ciphertext, tag).
    assert_eq!(&out[..metadata.len()], &metadata[..]);
    assert_eq!(&out[metadata.len()..], &ct[..]);
}

#[test]
fn rfc9605_header_vectors() {
    // A sample of RFC 9605 Appendix C.1 (kid, ctr, encoding).
    for (kid, ctr, encoded) in [
        (0u64, 0u64, "00"),
        (0, 1, "01"),
        (0, 255, "08ff"),
        (291, 17767, "9901234567"),
        (65536, 72057594037927936, "af0100000100000000000000"),
        (7, 0, "70"),
        (8, 8, "880808"),
    ] {
        let header = SframeHeader::new(kid, ctr);
        let mut buf = vec![0u8; header.len()];
        header.serialize(&mut buf).unwrap();
        assert_eq!(buf, hex(encoded), "kid {kid} ctr {ctr}");
        let back = SframeHeader::deserialize(&buf).unwrap();
        assert_eq!((back.key_id(), back.counter()), (kid, ctr));
    }
}

#[test]
fn clear_prefixes_follow_the_codecs() {
    // VP8 keyframe (bit 0 clear): tag, start code and dimensions (10 bytes).
    assert_eq!(
        clear_prefix(
            MediaKind::Video,
            &[0x50, 0, 0, 0x9d, 0x01, 0x2a, 1, 2, 3, 4, 5, 6]
        ),
        10
    );
    // VP8 interframe: the 3-byte tag.
    assert_eq!(clear_prefix(MediaKind::Video, &[0x51, 0, 0, 9, 9, 9]), 3);
    // Opus: the TOC byte.
    assert_eq!(clear_prefix(MediaKind::Audio, &[0x78, 1, 2]), 1);
    // A frame shorter than its clear part is not a frame: it is neither sealed nor opened
    // (else the receiver would split it elsewhere than the sender did).
    let mut a = parley_e2ee_member();
    a.found_group().unwrap();
    let f = a.frames();
    for (kind, short) in [
        (MediaKind::Video, &[0x50, 0][..]),
        (MediaKind::Video, &[]),
        (MediaKind::Audio, &[]),
    ] {
        assert_eq!(f.seal(kind, short), Err(FrameError::Malformed));
        assert_eq!(f.open(kind, short), Err(FrameError::Malformed));
    }
    // Exactly the clear part seals and opens (an empty payload).
    let tag = [0x51, 0, 0];
    assert_eq!(
        f.open(MediaKind::Video, &f.seal(MediaKind::Video, &tag).unwrap())
            .unwrap(),
        tag
    );
}

fn parley_e2ee_member() -> Member {
    use ed25519_dalek::{Signer, SigningKey};
    let key = SigningKey::from_bytes(&[3; 32]);
    Member::new(b"link", key.verifying_key().to_bytes(), |m| {
        key.sign(&[parley_e2ee::credential::SIGNATURE_CONTEXT, m].concat())
            .to_bytes()
    })
    .unwrap()
}

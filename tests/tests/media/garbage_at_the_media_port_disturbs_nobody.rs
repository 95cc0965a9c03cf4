//! Hostile media: garbage UDP, truncated RTP, RTCP-looking floods and fake STUN/DTLS at the
//! SFU's port while a call runs. The server does not crash and the call is not disturbed.

use std::sync::Arc;

use parley_client::call::Plain;

use crate::common::two_party;

/// Deterministic junk in the shapes a parser might trip on.
fn junk(i: u32) -> Vec<u8> {
    let mut x = i.wrapping_mul(2_654_435_761) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let len = (next() % 1400) as usize;
    let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
    match i % 6 {
        0 => {}
        1 if !d.is_empty() => d[0] = 0x80, // RTP version 2, truncated or random
        2 if d.len() > 1 => d[..2].copy_from_slice(&[0x80, 0xc8]), // RTCP sender report
        3 if d.len() > 1 => d[..2].copy_from_slice(&[0x00, 0x01]), // STUN binding request
        4 if !d.is_empty() => d[0] = 0x16, // DTLS handshake
        _ => d.truncate(3),                // tiny
    }
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_goes_on_while_the_sfu_port_is_flooded_with_junk() {
    let _turn = crate::common::one_call_at_a_time().await;
    let (ann, got) = two_party(Arc::new(Plain), Arc::new(Plain), 6, |media| {
        std::thread::spawn(move || {
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let start = std::time::Instant::now();
            let mut i = 0u32;
            while start.elapsed() < std::time::Duration::from_secs(5) {
                let _ = sock.send_to(&junk(i), media);
                i += 1;
                if i.is_multiple_of(50) {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        });
    })
    .await;
    let got = got.expect("Bob still received Ann's media");
    assert!(got.video_frames > 60, "{got:?}");
    assert_eq!(got.tone_of, Some(ann), "{got:?}");
}

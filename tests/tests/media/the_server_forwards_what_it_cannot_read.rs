//! Server-blindness, proved on the real server and SFU: Ann and Bob hold the invite link;
//! Eve holds the room token but a wrong `#k=` key, so the server admits her like anyone and
//! forwards her exactly what it forwards to everyone: every media frame, every chat body.
//! She taps all of it. Ann and Bob see, hear and read each other; Eve is refused by the
//! members with a clear reason, decodes no frame, hears no tone and reads no line, and
//! nothing of Ann's encoded frames appears in what the SFU forwarded.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_client::call::{Call, FrameKind, FrameTransform, OpenError, RemoteMedia};
use parley_client::e2ee::{E2ee, E2eeEvent};
use parley_e2ee::{FrameCipher, MediaKind, clear_prefix};
use parley_proto::{MeetingKey, Reaction, ServerMessage};
use parley_tests::bots::{self, Pump, Transcript};

use crate::common::meeting;

/// Ann's side: keeps a copy of every encoded frame before it is sealed.
struct KeepPlain {
    cipher: Arc<FrameCipher>,
    plain: Mutex<Vec<Vec<u8>>>,
}

impl FrameTransform for KeepPlain {
    fn seal(&self, kind: FrameKind, frame: Vec<u8>) -> Option<Vec<u8>> {
        let sealed = FrameTransform::seal(&*self.cipher, kind, frame.clone());
        if sealed.is_some() && kind == FrameKind::Video {
            self.plain.lock().unwrap().push(frame);
        }
        sealed
    }
    fn open(&self, kind: FrameKind, who: &str, frame: Vec<u8>) -> Result<Vec<u8>, OpenError> {
        FrameTransform::open(&*self.cipher, kind, who, frame)
    }
    fn key_generation(&self) -> u64 {
        self.cipher.generation()
    }
}

/// Eve's side: keeps every frame the SFU forwarded, then tries her (keyless) cipher.
struct Tap {
    cipher: Arc<FrameCipher>,
    seen: Mutex<Vec<Vec<u8>>>,
}

impl FrameTransform for Tap {
    fn seal(&self, kind: FrameKind, frame: Vec<u8>) -> Option<Vec<u8>> {
        FrameTransform::seal(&*self.cipher, kind, frame)
    }
    fn open(&self, kind: FrameKind, who: &str, frame: Vec<u8>) -> Result<Vec<u8>, OpenError> {
        if kind == FrameKind::Video {
            self.seen.lock().unwrap().push(frame.clone());
        }
        FrameTransform::open(&*self.cipher, kind, who, frame)
    }
    fn key_generation(&self) -> u64 {
        self.cipher.generation()
    }
}

struct Side {
    id: u32,
    /// Keyframes asked of this participant's video.
    keyframes_asked: u32,
    stats: std::collections::BTreeMap<String, RemoteMedia>,
    log: Transcript,
    code: Option<String>,
}

async fn run(
    mut call: Call,
    sig: parley_client::Signaling,
    mut e2ee: E2ee,
    first: ServerMessage,
    id: u32,
    say: Vec<(Duration, String)>,
    secs: u64,
) -> Side {
    let inbound = e2ee.on_message(Instant::now(), first);
    let mut log = Transcript::default();
    log.events.extend(inbound.events);
    let (mut tx, mut rx) = sig.split();
    let end = Instant::now() + Duration::from_secs(secs);
    let how = Pump {
        end: Some(end),
        ..Pump::default()
    };
    bots::pump_secure(&mut call, &mut tx, &mut rx, &mut e2ee, how, say, &mut log).await;
    let stats = call.stats();
    let keyframes_asked = call.keyframes_asked();
    call.close().await;
    Side {
        id,
        keyframes_asked,
        stats,
        log,
        code: e2ee.security_code().map(|c| c.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_forwards_frames_and_chat_it_cannot_read() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = meeting("Works council").await;
    let key = MeetingKey::random();
    let wrong = MeetingKey::random();
    let secret = m.created.host_secret.clone();
    let mut tasks = Vec::new();
    let mut ann_plain = None;
    let mut eve_tap = None;
    for (name, key, host) in [
        ("Ann", &key, true),
        ("Bob", &key, false),
        ("Eve", &wrong, false),
    ] {
        let (id, mut sig, e2ee, first) = bots::join_secure(
            &m.srv,
            m.tls.clone(),
            &m.created.room,
            key,
            name,
            host.then(|| secret.clone()),
        )
        .await;
        let transform: Arc<dyn FrameTransform> = match name {
            "Ann" => {
                let t = Arc::new(KeepPlain {
                    cipher: e2ee.frames(),
                    plain: Mutex::default(),
                });
                ann_plain = Some(t.clone());
                t
            }
            "Eve" => {
                let t = Arc::new(Tap {
                    cipher: e2ee.frames(),
                    seen: Mutex::default(),
                });
                eve_tap = Some(t.clone());
                t
            }
            _ => e2ee.frames(),
        };
        let (call, offer) = Call::start_with(id, "127.0.0.1:0".parse().unwrap(), transform)
            .await
            .unwrap();
        sig.send(&offer).await.unwrap();
        let say = match name {
            "Ann" => vec![(
                Duration::from_secs(3),
                "the minutes are confidential".into(),
            )],
            "Bob" => vec![
                (Duration::from_millis(3500), "agreed, nothing leaves".into()),
                (Duration::from_millis(3700), "react:celebrate".into()),
            ],
            _ => vec![],
        };
        tasks.push(tokio::spawn(run(call, sig, e2ee, first, id, say, 7)));
    }
    let mut sides = Vec::new();
    for t in tasks {
        sides.push(t.await.unwrap());
    }
    let (ann, bob, eve) = (&sides[0], &sides[1], &sides[2]);
    println!(
        "keyframes asked in 7 s: of Ann {}, of Bob {}, of Eve {}",
        ann.keyframes_asked, bob.keyframes_asked, eve.keyframes_asked
    );
    // Eve cannot open a frame the whole call: she asks when her keys change and rarely
    // otherwise, not every 300 ms (which cost each sender 22–23 keyframes in these 7 s).
    for side in [ann, bob] {
        assert!(
            side.keyframes_asked <= 12,
            "{} keyframes asked of participant {}",
            side.keyframes_asked,
            side.id
        );
    }
    let from = |side: &Side, other: &Side| {
        side.stats
            .get(&other.id.to_string())
            .cloned()
            .unwrap_or_default()
    };

    // The members see and hear each other, and share one security code.
    let bob_got = from(bob, ann);
    assert!(
        bob_got.video_frames > 60,
        "Bob decoded Ann's video: {bob_got:?}"
    );
    assert_eq!(bob_got.tone_of, Some(ann.id), "Bob hears Ann: {bob_got:?}");
    let ann_got = from(ann, bob);
    assert!(
        ann_got.video_frames > 60,
        "Ann decoded Bob's video: {ann_got:?}"
    );
    // Codes compared at the same epoch (at the very end one may have moved on as the other
    // hung up).
    let codes = |side: &Side| -> Vec<(u64, String)> {
        side.log
            .events
            .iter()
            .filter_map(|e| match e {
                E2eeEvent::Secured { epoch, code, .. } => Some((*epoch, code.to_string())),
                _ => None,
            })
            .collect()
    };
    let (ann_codes, bob_codes) = (codes(ann), codes(bob));
    let shared: Vec<_> = ann_codes
        .iter()
        .filter(|(e, _)| bob_codes.iter().any(|(b, _)| b == e))
        .collect();
    assert!(!shared.is_empty(), "{ann_codes:?} {bob_codes:?}");
    for (epoch, code) in shared {
        assert!(
            bob_codes.contains(&(*epoch, code.clone())),
            "epoch {epoch}: {ann_codes:?} {bob_codes:?}"
        );
    }
    let chat_text = |side: &Side| -> Vec<String> {
        side.log
            .shown
            .iter()
            .filter_map(|m| match m {
                ServerMessage::Chat { body, .. } => Some(body.clone()),
                _ => None,
            })
            .collect()
    };
    assert!(chat_text(bob).contains(&"the minutes are confidential".to_string()));
    assert!(chat_text(ann).contains(&"agreed, nothing leaves".to_string()));
    // Reactions are sealed too: Ann sees Bob's, Eve only an unreadable sealed message.
    assert!(ann.log.events.iter().any(|e| matches!(
        e,
        E2eeEvent::Reaction { from, reaction: Reaction::Celebrate } if from.0 == bob.id
    )));
    let sealed: Vec<&String> = eve
        .log
        .raw
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Sealed { body, .. } => Some(body),
            _ => None,
        })
        .collect();
    assert!(
        !sealed.is_empty(),
        "the server relayed the sealed reaction to Eve"
    );
    assert!(
        sealed
            .iter()
            .all(|b| !b.contains("celebrate") && !contains(&base64_decode(b), b"celebrate"))
    );
    assert!(
        !eve.log
            .events
            .iter()
            .any(|e| matches!(e, E2eeEvent::Reaction { .. }))
    );

    // Eve was refused by the members, with the reason, and never got keys.
    assert!(
        eve.log.events.iter().any(|e| matches!(
            e,
            E2eeEvent::Refused(why) if why.contains("fresh invite link")
        )),
        "{:?}",
        eve.log.events
    );
    // No Welcome ever reached her, and she never shared keys with anyone. (When Ann and Bob
    // hang up at the end she may found a group of her own: alone.)
    assert!(
        !eve.log
            .raw
            .iter()
            .any(|m| matches!(m, ServerMessage::MlsWelcome { .. })),
        "{:?}",
        eve.log.events
    );
    assert!(
        !eve.log.events.iter().any(|e| matches!(
            e,
            E2eeEvent::Secured { members, .. } if *members > 1
        )),
        "{:?}",
        eve.log.events
    );
    assert!(eve.code.is_none() || eve.code != ann.code);
    // The SFU forwarded her everything…
    let tapped = eve_tap.unwrap().seen.lock().unwrap().clone();
    let eve_got = from(eve, ann);
    // (Without keys her receiver asks for keyframe after keyframe and hands only those to
    // the cipher: what she taps are the largest frames Ann sends.)
    assert!(
        tapped.len() >= 10,
        "Eve received Ann's frames: {}",
        tapped.len()
    );
    assert!(eve_got.video_packets > 60, "{eve_got:?}");
    // …and nothing of it decodes or plays.
    assert_eq!(eve_got.video_frames, 0, "{eve_got:?}");
    assert_eq!(eve_got.tone_of, None, "{eve_got:?}");
    assert!(eve_got.undecryptable > 60, "{eve_got:?}");
    assert_eq!(
        eve_got.decrypt_problem.as_deref(),
        Some("can't decrypt — waiting for keys")
    );
    // The chat bodies the server relayed to her are ciphertext.
    let relayed: Vec<String> = eve
        .log
        .raw
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Chat { body, .. } => Some(body.clone()),
            _ => None,
        })
        .collect();
    assert!(
        relayed.len() >= 2,
        "the server relayed both lines to Eve: {relayed:?}"
    );
    for body in &relayed {
        assert!(!body.contains("confidential") && !body.contains("nothing leaves"));
        let bytes = base64_decode(body);
        assert!(!contains(&bytes, b"confidential") && !contains(&bytes, b"nothing leaves"));
    }
    assert!(
        chat_text(eve).is_empty(),
        "Eve read nothing: {:?}",
        chat_text(eve)
    );

    // Not one 16-byte run of Ann's encoded frames (past the clear VP8 frame tag) is in
    // anything the SFU forwarded.
    let mut windows = HashSet::new();
    for f in &tapped {
        for w in f.windows(16) {
            windows.insert(w.to_vec());
        }
    }
    let plain = ann_plain.unwrap().plain.lock().unwrap().clone();
    assert!(plain.len() > 60);
    let mut checked = 0;
    for f in &plain {
        let clear = clear_prefix(MediaKind::Video, f);
        for w in f[clear..].windows(16) {
            checked += 1;
            assert!(
                !windows.contains(w),
                "a run of Ann's frame crossed the SFU in the clear"
            );
        }
    }
    assert!(checked > 10_000, "{checked} windows checked");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

//! The MLS group as participants live it: found, add, remove, rejoin, chat, frames, codes.
//! The "server" here is the test: it passes bytes between members exactly as the real one
//! relays them, and where a test needs a hostile server it is one.

use ed25519_dalek::{Signer, SigningKey};
use parley_e2ee::credential::SIGNATURE_CONTEXT;
use parley_e2ee::{E2eeError, FrameError, MediaKind, Member, Received, SWITCH_AFTER_FRAMES};

const LINK: &[u8] = b"the invite link's key, 32 bytes!";

fn member_with(seed: u8, link: &[u8]) -> Member {
    let key = SigningKey::from_bytes(&[seed; 32]);
    Member::new(link, key.verifying_key().to_bytes(), |m| {
        key.sign(&[SIGNATURE_CONTEXT, m].concat()).to_bytes()
    })
    .unwrap()
}

fn member(seed: u8) -> Member {
    member_with(seed, LINK)
}

/// `committer` adds `joiners`; the others in `rest` process the commit; joiners join.
fn add(committer: &mut Member, rest: &mut [&mut Member], joiners: &mut [&mut Member]) {
    let candidates: Vec<_> = joiners
        .iter()
        .map(|j| {
            committer
                .check_key_package(&j.key_package().unwrap())
                .unwrap()
        })
        .collect();
    let commit = committer.commit(&candidates, &[]).unwrap();
    committer.commit_accepted().unwrap();
    for m in rest.iter_mut() {
        assert!(matches!(
            m.receive(&commit.commit).unwrap(),
            Received::Epoch(_)
        ));
    }
    let welcome = commit.welcome.expect("an add makes a Welcome");
    for j in joiners.iter_mut() {
        j.join(&welcome).unwrap();
    }
    settle(committer);
}

/// Let the moment pass in which a sender still seals with the previous epoch after an add.
fn settle(m: &Member) {
    for _ in 0..SWITCH_AFTER_FRAMES {
        m.frames().seal(MediaKind::Audio, &[0x78]).unwrap();
    }
}

fn vp8_delta(n: u8) -> Vec<u8> {
    // Bit 0 of the first byte set: an interframe.
    let mut f = vec![0x31, 0x02, 0x00];
    f.extend((0..200).map(|i| i as u8 ^ n));
    f
}

#[test]
fn members_share_frames_chat_and_one_security_code() {
    let (mut a, mut b, mut c) = (member(1), member(2), member(3));
    a.found_group().unwrap();
    add(&mut a, &mut [], &mut [&mut b]);
    add(&mut a, &mut [&mut b], &mut [&mut c]);
    assert_eq!(a.epoch(), Some(2));
    assert_eq!(b.epoch(), a.epoch());
    assert_eq!(c.epoch(), a.epoch());
    let code = a.security_code().unwrap();
    assert_eq!(b.security_code().unwrap(), code);
    assert_eq!(c.security_code().unwrap(), code);
    assert_eq!(code.to_string().len(), 23, "{code}");
    assert_eq!(a.members().len(), 3);

    let frame = vp8_delta(7);
    let sealed = a.frames().seal(MediaKind::Video, &frame).unwrap();
    assert_ne!(sealed, frame);
    assert_eq!(&sealed[..3], &frame[..3], "the VP8 frame tag stays clear");
    assert!(
        !sealed
            .windows(16)
            .any(|w| frame.windows(16).any(|f| f == w)),
        "nothing of the payload is in the clear"
    );
    assert_eq!(b.frames().open(MediaKind::Video, &sealed).unwrap(), frame);
    assert_eq!(c.frames().open(MediaKind::Video, &sealed).unwrap(), frame);
    assert_eq!(
        c.frames().open(MediaKind::Video, &sealed),
        Err(FrameError::Replayed)
    );
    // Whose frame it was, by the key that opened it: the sender's leaf, held by its identity.
    let from_c = c.frames().seal(MediaKind::Video, &vp8_delta(8)).unwrap();
    let (opened, leaf) = b
        .frames()
        .open_from(MediaKind::Video, &from_c)
        .expect("opens");
    assert_eq!(opened, vp8_delta(8));
    let holder = |m: &Member, leaf: u32| m.members().into_iter().find(|(l, _)| *l == leaf);
    assert_eq!(holder(&b, leaf).unwrap().1, c.identity());
    let from_a = a.frames().seal(MediaKind::Video, &vp8_delta(9)).unwrap();
    let (_, leaf) = c.frames().open_from(MediaKind::Video, &from_a).unwrap();
    assert_eq!(holder(&c, leaf).unwrap().1, a.identity());

    let line = a
        .seal_message("hello, \\\\fileserver\\share".as_bytes())
        .unwrap();
    for m in [&mut b, &mut c] {
        match m.receive(&line).unwrap() {
            Received::Message { sender, plaintext } => {
                assert_eq!(sender, a.identity());
                assert_eq!(plaintext, "hello, \\\\fileserver\\share".as_bytes());
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[test]
fn a_removed_member_that_keeps_its_keys_reads_nothing_sent_after() {
    let (mut a, mut b, mut c) = (member(1), member(2), member(3));
    a.found_group().unwrap();
    add(&mut a, &mut [], &mut [&mut b, &mut c]);
    let before = a.frames().seal(MediaKind::Audio, &[0x78, 1, 2, 3]).unwrap();
    assert!(c.frames().open(MediaKind::Audio, &before).is_ok());

    let commit = a.commit(&[], &[c.identity()]).unwrap();
    assert!(commit.welcome.is_none());
    a.commit_accepted().unwrap();
    assert!(matches!(
        b.receive(&commit.commit).unwrap(),
        Received::Epoch(2)
    ));
    // C is a modified client: it ignores the removal and keeps every key it had.
    let after = a.frames().seal(MediaKind::Audio, &[0x78, 9, 9, 9]).unwrap();
    assert_eq!(
        b.frames().open(MediaKind::Audio, &after).unwrap(),
        [0x78, 9, 9, 9]
    );
    assert_eq!(
        c.frames().open(MediaKind::Audio, &after),
        Err(FrameError::NoKey)
    );
    let line = a.seal_message(b"after the removal").unwrap();
    assert!(matches!(
        b.receive(&line).unwrap(),
        Received::Message { .. }
    ));
    assert!(
        c.receive(&line).is_err(),
        "the removed member reads no chat"
    );
    // An honest client that does process the removal loses its keys.
    assert_eq!(c.receive(&commit.commit).unwrap(), Received::Removed);
    assert!(!c.in_group());
    assert_eq!(
        c.frames().seal(MediaKind::Audio, &[0x78]),
        Err(FrameError::NoSendKey)
    );
    assert_eq!(a.members().len(), 2);
}

#[test]
fn a_joiner_reads_nothing_sent_before_it_joined() {
    let (mut a, mut b, mut d) = (member(1), member(2), member(4));
    a.found_group().unwrap();
    add(&mut a, &mut [], &mut [&mut b]);
    let old_frame = a.frames().seal(MediaKind::Video, &vp8_delta(1)).unwrap();
    let old_line = a.seal_message(b"before d").unwrap();
    add(&mut a, &mut [&mut b], &mut [&mut d]);
    assert_eq!(
        d.frames().open(MediaKind::Video, &old_frame),
        Err(FrameError::NoKey)
    );
    assert!(d.receive(&old_line).is_err());
    // B, already a member, still opens the old frame: keys overlap across the change.
    assert!(b.frames().open(MediaKind::Video, &old_frame).is_ok());
    // After the switch, D opens what A sends.
    let mut new = Vec::new();
    for i in 0..=SWITCH_AFTER_FRAMES {
        new = a
            .frames()
            .seal(MediaKind::Video, &vp8_delta(i as u8))
            .unwrap();
    }
    assert!(d.frames().open(MediaKind::Video, &new).is_ok());
}

#[test]
fn an_add_changes_keys_without_a_glitch_for_members_still_catching_up() {
    let (mut a, mut b, mut c, mut d) = (member(1), member(2), member(3), member(4));
    a.found_group().unwrap();
    add(&mut a, &mut [], &mut [&mut b, &mut c]);
    // A adds D; B has processed the commit, C's copy is still on its way over signaling.
    let cand = a.check_key_package(&d.key_package().unwrap()).unwrap();
    let commit = a.commit(&[cand], &[]).unwrap();
    a.commit_accepted().unwrap();
    b.receive(&commit.commit).unwrap();
    d.join(&commit.welcome.unwrap()).unwrap();
    // For a moment A still seals with the old epoch: C (behind) and B (ahead) both open it.
    for i in 0..SWITCH_AFTER_FRAMES {
        let f = a.frames().seal(MediaKind::Audio, &[0x78, i as u8]).unwrap();
        assert!(
            c.frames().open(MediaKind::Audio, &f).is_ok(),
            "frame {i} at C"
        );
        assert!(
            b.frames().open(MediaKind::Audio, &f).is_ok(),
            "frame {i} at B"
        );
    }
    // Then the new epoch: C needs the commit (which has arrived by now), D opens it.
    let f = a.frames().seal(MediaKind::Audio, &[0x78, 0xff]).unwrap();
    assert_eq!(
        c.frames().open(MediaKind::Audio, &f),
        Err(FrameError::NoKey)
    );
    c.receive(&commit.commit).unwrap();
    assert!(c.frames().open(MediaKind::Audio, &f).is_ok());
    assert!(d.frames().open(MediaKind::Audio, &f).is_ok());
}

#[test]
fn a_joiner_with_the_wrong_link_is_refused_before_being_added() {
    let mut a = member(1);
    a.found_group().unwrap();
    let eve = member_with(5, b"a different link key, 32 bytes!!");
    assert_eq!(
        a.check_key_package(&eve.key_package().unwrap())
            .unwrap_err(),
        E2eeError::WrongLink
    );
    assert_eq!(a.members().len(), 1);
}

#[test]
fn a_key_package_whose_identity_signature_is_forged_is_refused() {
    let a = {
        let mut a = member(1);
        a.found_group().unwrap();
        a
    };
    // Mallory claims identity 2's key but signs with key 9.
    let claimed = SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes();
    let real = SigningKey::from_bytes(&[9; 32]);
    let forged = Member::new(LINK, claimed, |m| {
        real.sign(&[SIGNATURE_CONTEXT, m].concat()).to_bytes()
    });
    // Our own constructor already refuses it…
    assert_eq!(forged.unwrap_err(), E2eeError::BadCredential);
    // …and garbage is a typed refusal, not a panic.
    for junk in [&b""[..], b"\x00\x01", &[0xff; 600]] {
        assert!(matches!(
            a.check_key_package(junk),
            Err(E2eeError::Malformed(_))
        ));
    }
}

#[test]
fn a_server_that_forks_the_group_shows_different_security_codes() {
    let (mut a, mut b, mut m) = (member(1), member(2), member(3));
    a.found_group().unwrap();
    add(&mut a, &mut [], &mut [&mut b, &mut m]);
    let (c, d) = (member(6), member(7));
    // A and B commit for the same epoch; a hostile server tells both "yours won" and shows
    // M only A's commit.
    let ca = a
        .commit(
            &[a.check_key_package(&c.key_package().unwrap()).unwrap()],
            &[],
        )
        .unwrap();
    let cb = b
        .commit(
            &[b.check_key_package(&d.key_package().unwrap()).unwrap()],
            &[],
        )
        .unwrap();
    a.commit_accepted().unwrap();
    b.commit_accepted().unwrap();
    m.receive(&ca.commit).unwrap();
    assert_eq!(a.epoch(), b.epoch());
    assert_eq!(a.security_code(), m.security_code());
    assert_ne!(
        a.security_code(),
        b.security_code(),
        "the fork shows in the code"
    );
    // And B's frames do not open for A: the fork cannot pass unnoticed as working media.
    settle(&b);
    settle(&b);
    let f = b.frames().seal(MediaKind::Audio, &[0x78, 1]).unwrap();
    assert_eq!(
        a.frames().open(MediaKind::Audio, &f),
        Err(FrameError::Forged)
    );
    drop(cb);
}

#[test]
fn a_refused_commit_is_dropped_and_the_winner_applies() {
    let (mut a, mut b) = (member(1), member(2));
    a.found_group().unwrap();
    add(&mut a, &mut [], &mut [&mut b]);
    let (c, d) = (member(6), member(7));
    let ca = a
        .commit(
            &[a.check_key_package(&c.key_package().unwrap()).unwrap()],
            &[],
        )
        .unwrap();
    let _cb = b
        .commit(
            &[b.check_key_package(&d.key_package().unwrap()).unwrap()],
            &[],
        )
        .unwrap();
    assert_eq!(b.commit(&[], &[]).unwrap_err(), E2eeError::CommitPending);
    // The server ordered A's first: B's is refused, B applies A's.
    a.commit_accepted().unwrap();
    b.commit_refused();
    assert!(matches!(b.receive(&ca.commit).unwrap(), Received::Epoch(2)));
    assert_eq!(a.security_code(), b.security_code());
}

#[test]
fn a_participant_who_rejoins_replaces_their_old_leaf() {
    let (mut a, mut b) = (member(1), member(2));
    a.found_group().unwrap();
    add(&mut a, &mut [], &mut [&mut b]);
    // B's app restarted: same identity, new state.
    let mut b2 = member(2);
    add(&mut a, &mut [], &mut [&mut b2]);
    assert_eq!(
        a.members().len(),
        2,
        "the old leaf was removed in the same commit"
    );
    assert_eq!(a.security_code(), b2.security_code());
}

#[test]
fn garbage_from_the_server_is_a_typed_refusal() {
    let (mut a, mut b) = (member(1), member(2));
    a.found_group().unwrap();
    add(&mut a, &mut [], &mut [&mut b]);
    let line = a.seal_message(b"ok").unwrap();
    let mut flipped = line.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(b.receive(&flipped).is_err());
    assert!(b.receive(&line[..line.len() / 2]).is_err());
    assert!(matches!(
        b.join(b"\x00\x01\x00\x03"),
        Err(E2eeError::Malformed(_))
    ));
    // Still working after all of it.
    assert!(matches!(
        b.receive(&line).unwrap(),
        Received::Message { .. }
    ));
}

#[test]
fn debug_output_carries_no_secret() {
    let mut a = member(1);
    a.found_group().unwrap();
    let text = format!("{a:?} {:?} {:?}", a.frames(), a.security_code());
    assert!(!text.contains("invite"), "{text}");
    assert!(text.contains("Member"), "{text}");
    let hex: String = LINK[..4].iter().map(|b| format!("{b:02x}")).collect();
    assert!(!text.contains(&hex));
}

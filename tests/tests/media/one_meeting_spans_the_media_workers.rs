//! One meeting spread over two media workers (`media_spread_after = 1`: every participant
//! goes to the less loaded worker), so each participant's frames reach the others through
//! their own worker and through a hand-off to the other one. Everyone sees and hears everyone;
//! a late joiner on the other worker decodes at once (its keyframe request crosses workers:
//! the senders' periodic keyframes are 100 s apart); a participant who leaves is taken off
//! the others' calls on both workers (their slots stop carrying her). Each participant reaches the server through a relay
//! in front of the worker it should be on, which proves where its media ran.

use std::time::{Duration, Instant};

use parley_client::call::Call;
use parley_client::signaling::{SignalingRx, SignalingTx};
use parley_proto::ServerMessage;
use parley_server::Config;
use parley_tests::bots::{self, Pump};
use parley_tests::relay::{Relay, RelayCounts};

use crate::common::meeting_with;

/// Read signaling (answering what needs it) until the server has answered the participant's
/// offer: from then on its media has a worker, and the next participant's placement sees it.
async fn until_answered(
    call: &mut Call,
    tx: &mut SignalingTx,
    rx: &mut SignalingRx,
    relay: &Relay,
) {
    loop {
        let mut m = rx
            .recv()
            .await
            .expect("signaling works")
            .expect("the server answers the offer");
        let answer = matches!(m, ServerMessage::SdpAnswer { .. });
        if let ServerMessage::SdpOffer { sdp } | ServerMessage::SdpAnswer { sdp } = &mut m {
            *sdp = relay.rewrite_sdp(sdp);
        }
        if let Some(reply) = call.on_message(&m).await.unwrap() {
            tx.send(&reply).await.unwrap();
        }
        if answer {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_meeting_spans_two_media_workers() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = meeting_with(
        "Large",
        Config {
            media_workers: Some(2),
            media_spread_after: 1,
            // Everyone talks at once here and each must hear all three others.
            loudest_voices: 4,
            ..Config::default()
        },
    )
    .await;
    let workers = m.server_media_addrs.clone();
    assert_eq!(workers.len(), 2, "two workers: {workers:?}");

    let start = Instant::now();
    let end = start + Duration::from_secs(10);
    let after_cat = start + Duration::from_secs(8);
    // Ann (worker 0), Bob (1), Cat (0) from the start; Cat leaves after 6 s; Dan (1) joins
    // after 3 s.
    let people = [
        ("Ann", 0, None, end),
        ("Bob", 1, None, end),
        ("Cat", 0, None, start + Duration::from_secs(6)),
        ("Dan", 1, Some(Duration::from_secs(3)), end),
    ];
    let mut tasks = Vec::new();
    for (i, (name, worker, late, until)) in people.into_iter().enumerate() {
        if let Some(late) = late {
            tokio::time::sleep_until((start + late).into()).await;
        }
        let secret = (i == 0).then(|| m.created.host_secret.clone());
        let bots::RelayedCall {
            you,
            mut call,
            mut tx,
            mut rx,
            relay,
        } = bots::join_via_relay(
            &m.srv,
            m.tls.clone(),
            &m.created.room,
            name,
            secret,
            workers[worker],
        )
        .await;
        until_answered(&mut call, &mut tx, &mut rx, &relay).await;
        let joined_at = Instant::now();
        tasks.push(tokio::spawn(async move {
            // What it had 2 s after Cat left (she stops at 6 s), then at the end.
            let how = |until| Pump {
                end: Some(until),
                via: Some(&relay),
                ..Pump::default()
            };
            bots::pump(&mut call, &mut tx, &mut rx, how(until.min(after_cat))).await;
            let then = call.stats();
            bots::pump(&mut call, &mut tx, &mut rx, how(until)).await;
            let got = call.stats();
            call.close().await;
            (name, you, worker, joined_at, got, then, relay)
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let id = |who: &str| outcomes.iter().find(|o| o.0 == who).unwrap().1.to_string();
    for (name, you, worker, _, got, then, relay) in &outcomes {
        let c = relay.counts();
        let (up, down) = (
            RelayCounts::get(&c.up_packets),
            RelayCounts::get(&c.down_packets),
        );
        assert!(
            up > 100 && down > 100,
            "{name}'s media went through worker {worker}'s port: {up} packets up, {down} down"
        );
        for (other, other_id, ..) in outcomes.iter().filter(|o| o.1 != *you) {
            let r = got
                .get(&other_id.to_string())
                .unwrap_or_else(|| panic!("{name} got nothing from {other}: {got:?}"));
            assert!(r.video_frames > 20, "{name} saw {other}: {r:?}");
            assert_eq!(r.tone_of, Some(*other_id), "{name} heard {other}: {r:?}");
        }
        // Cat left: nothing of hers reached those still there from 2 s after, whichever
        // worker they were on; the others went on (their slots carry on).
        if *name != "Cat" {
            let frames =
                |s: &std::collections::BTreeMap<String, parley_client::call::RemoteMedia>,
                 who: &str| s.get(&id(who)).map_or(0, |r| r.video_frames);
            assert_eq!(
                frames(got, "Cat"),
                frames(then, "Cat"),
                "{name} (worker {worker}) still got Cat's video after she left"
            );
            for other in ["Ann", "Bob", "Dan"].into_iter().filter(|o| o != name) {
                assert!(
                    frames(got, other) > frames(then, other) + 20,
                    "{name} (worker {worker}) lost {other}'s video"
                );
            }
        }
    }
    // Dan came late, on the other worker than Ann: he decoded her at once (a keyframe asked
    // across workers; measured, not timed here: he must have most of the frames she sent him).
    let dan = outcomes.iter().find(|o| o.0 == "Dan").unwrap();
    let ann = dan.4.get(&id("Ann")).unwrap();
    let stayed = end.saturating_duration_since(dan.3).as_secs_f64();
    eprintln!(
        "Dan got Ann's first picture after {:?} ms, {} frames in {stayed:.1} s",
        ann.first_video_ms, ann.video_frames
    );
    assert!(
        ann.video_frames as f64 > stayed * 30.0 * 0.5,
        "Dan decoded Ann's video soon after joining: {ann:?}"
    );
}

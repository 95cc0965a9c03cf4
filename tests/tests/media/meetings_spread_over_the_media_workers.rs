//! A server with two media workers carries two meetings on two workers at once, each on its
//! own UDP port, and everyone in both meetings sees and hears the others. Each participant's
//! media goes through a relay in front of one worker's port; the relay only rewrites that
//! worker's candidate, so media counted through it proves the meeting runs on that worker.

use std::time::{Duration, Instant};

use parley_server::Config;
use parley_tests::bots::{self, Pump};
use parley_tests::relay::RelayCounts;

use crate::common::meeting_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_meetings_run_on_two_media_workers() {
    let _turn = crate::common::one_call_at_a_time().await;
    let first = meeting_with(
        "First",
        Config {
            media_workers: Some(2),
            ..Config::default()
        },
    )
    .await;
    let workers = first.server_media_addrs.clone();
    assert_eq!(workers.len(), 2, "two workers: {workers:?}");
    assert_ne!(workers[0], workers[1], "each worker has its own port");
    let second = bots::open_meeting(&first.srv, first.tls.clone(), "Second").await;

    // The first meeting starts media first: it gets worker 0; the second, the less loaded 1.
    let mut tasks = Vec::new();
    for (meeting, worker, names) in [
        (&first.created, 0, ["Ann", "Bob"]),
        (&second, 1, ["Cat", "Dan"]),
    ] {
        for (i, name) in names.into_iter().enumerate() {
            let secret = (i == 0).then(|| meeting.host_secret.clone());
            let bots::RelayedCall {
                you,
                mut call,
                mut tx,
                mut rx,
                relay,
            } = bots::join_via_relay(
                &first.srv,
                first.tls.clone(),
                &meeting.room,
                name,
                secret,
                workers[worker],
            )
            .await;
            tasks.push(tokio::spawn(async move {
                let how = Pump {
                    end: Some(Instant::now() + Duration::from_secs(6)),
                    via: Some(&relay),
                    ..Pump::default()
                };
                bots::pump(&mut call, &mut tx, &mut rx, how).await;
                let got = call.stats();
                call.close().await;
                (name, you, worker, got, relay)
            }));
        }
        // The second meeting's media starts once the first's is placed.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    for (name, you, worker, got, relay) in &outcomes {
        let c = relay.counts();
        let (up, down) = (
            RelayCounts::get(&c.up_packets),
            RelayCounts::get(&c.down_packets),
        );
        assert!(
            up > 200 && down > 200,
            "{name}'s media went through worker {worker}'s port: {up} packets up, {down} down"
        );
        // Everyone got the other participant of their own meeting, and nobody else.
        let others: Vec<_> = outcomes
            .iter()
            .filter(|o| o.2 == *worker && o.1 != *you)
            .collect();
        assert_eq!(got.len(), 1, "{name} receives one participant: {got:?}");
        for (other, id, ..) in others {
            let m = got
                .get(&id.to_string())
                .unwrap_or_else(|| panic!("{name} got nothing from {other}: {got:?}"));
            assert!(m.video_frames > 60, "{name} saw {other}: {m:?}");
            assert_eq!(m.tone_of, Some(*id), "{name} heard {other}: {m:?}");
        }
    }
}

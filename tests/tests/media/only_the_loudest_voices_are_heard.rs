//! Only the voices that speak: four participants talk (tones) and the server forwards three at
//! once. Dee talks first but softly (20 dB below the others); when Ann, Bob and Cy talk too,
//! the listener Eve hears the three loud ones and no longer Dee. Real clients over real
//! sockets: each attaches its audio level (RFC 6464) to every audio packet; the server reads
//! only that level, never the (encrypted) sound. Eve's session has five audio m-lines (voice
//! slots: three for the loudest, two for presenters), whoever speaks; each packet names its sender.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use parley_client::call::{Call, RemoteMedia};
use parley_media::tone::Tone;
use parley_tests::bots::{self, Pump};

use crate::common::{joined, meeting};

fn heard(stats: &BTreeMap<String, RemoteMedia>, id: u32) -> u64 {
    stats.get(&id.to_string()).map_or(0, |m| m.audio_ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_hears_the_three_loudest_of_four_voices() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = meeting("Voices").await;
    let mut talkers = Vec::new();
    let mut ids = Vec::new();
    // Dee first, softly (an amplitude of 0.03: -33 dBov, still speech); then three at 0.3.
    for (i, (name, amplitude)) in [("Dee", 0.03), ("Ann", 0.3), ("Bob", 0.3), ("Cy", 0.3)]
        .into_iter()
        .enumerate()
    {
        let (you, sig) = joined(&m, name, i == 0).await;
        ids.push(you);
        let (mut call, offer) = Call::start(you, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        call.set_camera(None);
        let frequency = 300.0 + 200.0 * i as f64;
        call.set_microphone(Some(Box::new(Tone::new(frequency, amplitude))));
        let (mut tx, mut rx) = sig.split();
        tx.send(&offer).await.unwrap();
        talkers.push(tokio::spawn(async move {
            bots::pump(&mut call, &mut tx, &mut rx, Pump::default()).await;
        }));
        if i == 0 {
            // Dee is alone long enough to hold a slot before the others come.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    let (dee, loud) = (ids[0], &ids[1..]);

    let (eve, sig) = joined(&m, "Eve", false).await;
    assert!(!ids.contains(&eve));
    let (mut call, offer) = Call::start(eve, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (mut tx, mut rx) = sig.split();
    tx.send(&offer).await.unwrap();
    let last_offer = std::sync::Mutex::default();
    let listen = |secs: u64| Pump {
        end: Some(Instant::now() + Duration::from_secs(secs)),
        silent: true,
        last_offer: Some(&last_offer),
        ..Pump::default()
    };
    // Wait (pumping) until Eve hears the three loud voices, at most 60 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        bots::pump(&mut call, &mut tx, &mut rx, listen(1)).await;
        let stats = call.stats();
        if loud.iter().all(|&id| heard(&stats, id) > 500) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Eve never heard all three: {stats:?}"
        );
    }
    // Settle (Dee's slot goes to the third loud voice within its 1.5 s tenure), then measure.
    bots::pump(&mut call, &mut tx, &mut rx, listen(3)).await;
    let before = call.stats();
    bots::pump(&mut call, &mut tx, &mut rx, listen(4)).await;
    let after = call.stats();
    for &id in loud {
        let ms = heard(&after, id) - heard(&before, id);
        assert!(ms > 2_500, "Eve hears {id}: {ms} ms in 4 s; {after:?}");
    }
    let dee_ms = heard(&after, dee) - heard(&before, dee);
    assert!(
        dee_ms < 300,
        "the fourth, softest voice is not forwarded: {dee_ms} ms in 4 s"
    );
    // Four voices, three audio m-lines for the loudest and two for presenters (the voice
    // slots): each packet says whose voice it
    // is, which is how Eve told Ann, Bob and Cy apart above.
    let offer = last_offer.lock().unwrap().clone();
    let audio_lines = offer
        .split("\nm=")
        .filter(|m| m.starts_with("audio") && m.contains("a=sendonly"))
        .count();
    assert_eq!(
        audio_lines,
        3 + parley_server::sfu::PRESENTER_SLOTS,
        "{offer}"
    );
    assert!(bots::senders_in_offer(&offer).contains("voices"));
    call.close().await;
    for t in talkers {
        t.abort();
    }
}

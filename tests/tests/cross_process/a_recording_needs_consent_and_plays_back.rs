//! Local recording with consent: parley-cli records only once the host allows it; everyone,
//! and whoever comes later, is told who records; the WebM it writes holds the host's VP8
//! pictures and Opus tone as they were sent (decoded here to check), and the host switching
//! recording off ends it.

use std::time::Duration;

use parley_client::webm::{AUDIO_TRACK, VIDEO_TRACK, read};
use parley_media::audio_codec::OpusDecoder;
use parley_media::tone::{participant_frequency, power_at};
use parley_media::vp8::Vp8Decoder;
use parley_tests::*;

#[test]
fn a_recording_made_by_parley_cli_plays_back_and_everyone_is_told() {
    let dir = temp_dir("recording");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--synthetic", "--no-waiting-room"]);
    let hana_id = hana.participant_id();
    let rec_dir = dir.join("recorded");
    let rec = rec_dir.display().to_string();
    let mut rey = CliProc::spawn(
        &dir,
        "rey",
        &[
            "--synthetic",
            "--record",
            &rec,
            "join",
            &link,
            "--name",
            "Rey",
        ],
    );
    rey.expect("joined");
    let rey_id = rey.participant_id();
    let from = hana_id.to_string();
    rey.expect_within(Duration::from_secs(60), "media", |v| {
        v["from"][from.as_str()]["video_frames"]
            .as_u64()
            .unwrap_or(0)
            >= 30
    });

    // Not before the host allows it.
    rey.send("record on");
    rey.expect_where("error", |v| v["kind"] == "disabled_by_host");
    hana.send("set recording on");
    rey.expect_where("policy_changed", |v| v["policy"]["recording"] == true);
    rey.send("record on");
    hana.expect_where("recording", |v| v["id"] == rey_id && v["on"] == true);
    rey.expect_where("recording", |v| v["id"] == rey_id && v["on"] == true);

    // Lu comes later: the roster tells her who records.
    let mut lu = CliProc::spawn(&dir, "lu", &["join", &link, "--name", "Lu"]);
    lu.expect_where("participants_joined", |v| {
        v["participants"].as_array().is_some_and(|p| {
            p.iter()
                .any(|p| p["id"] == rey_id && p["recording"] == true)
        })
    });

    std::thread::sleep(Duration::from_secs(4));
    // The host withdraws permission: the recording ends, and everyone is told.
    hana.send("set recording off");
    lu.expect_where("recording", |v| v["id"] == rey_id && v["on"] == false);
    let files = rey.expect("recorded")["files"].clone();
    let path = rec_dir.join(format!("participant-{hana_id}-1.webm"));
    assert!(
        files
            .as_array()
            .is_some_and(|f| f.iter().any(|p| p == &path.display().to_string())),
        "{files}"
    );

    // The file: VP8 and Opus as sent, decoded here.
    let contents = read(&std::fs::read(&path).unwrap()).expect("a WebM file");
    assert_eq!(contents.doc_type, "webm");
    assert_eq!(contents.size, Some((320, 180)));
    let mut vp8 = Vp8Decoder::new().unwrap();
    let mut pictures = 0;
    let mut full_size = 0;
    let mut opus = OpusDecoder::new().unwrap();
    let mut pcm = Vec::new();
    let mut last = i64::MIN;
    for b in &contents.blocks {
        if b.track == VIDEO_TRACK {
            assert!(b.ms >= last, "pictures in time order");
            last = b.ms;
            if let Ok(Some(p)) = vp8.decode(&b.data) {
                // The host sends 320x180 in simulcast with a 160x90 layer: with one core kept
                // busy, the SFU may forward the smaller layer for a while (a short uplink
                // stops the top layer first), and the file holds the pictures as they came.
                let size = (p.width, p.height);
                assert!(
                    size == (320, 180) || size == (160, 90),
                    "a picture of {size:?}: not a layer the host sends"
                );
                full_size += usize::from(size == (320, 180));
                pictures += 1;
            }
        } else if b.track == AUDIO_TRACK {
            pcm.extend(opus.decode(&b.data).unwrap());
        }
    }
    let span =
        contents.blocks.last().map_or(0, |b| b.ms) - contents.blocks.first().map_or(0, |b| b.ms);
    println!(
        "recording: {pictures} pictures and {} ms of sound over {span} ms",
        pcm.len() / 48
    );
    assert!(
        pictures >= 45,
        "{pictures} pictures in about 4 s at 30 a second"
    );
    assert!(
        full_size > 0,
        "none of the {pictures} pictures at the size sent"
    );
    assert!(
        pcm.len() >= 48 * 2_000,
        "at least 2 s of sound: {} samples",
        pcm.len()
    );
    let own = power_at(&pcm, participant_frequency(hana_id as u32));
    for other in (0..13).filter(|n| *n != hana_id as u32 % 13) {
        assert!(
            own > 8.0 * power_at(&pcm, participant_frequency(other)),
            "the host's tone is what was recorded"
        );
    }
}

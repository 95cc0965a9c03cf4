use parley_tests::*;

#[test]
fn three_participants_each_see_and_hear_the_other_two_and_never_themselves() {
    let dir = temp_dir("three");
    let server = ServerProc::start_with(&dir, &[], "info");
    let (mut host, link) = host(&dir, &server, &["--no-waiting-room", "--synthetic"]);
    let mut a = CliProc::spawn(&dir, "a", &["--synthetic", "join", &link, "--name", "Ada"]);
    let mut b = CliProc::spawn(&dir, "b", &["--synthetic", "join", &link, "--name", "Bea"]);
    let ida = a.expect("joined")["you"].as_u64().unwrap();
    let idb = b.expect("joined")["you"].as_u64().unwrap();
    let ids = [(1u64, &mut host), (ida, &mut a), (idb, &mut b)];
    let all: Vec<u64> = ids.iter().map(|(id, _)| *id).collect();
    for (me, p) in ids {
        let others: Vec<u64> = all.iter().copied().filter(|i| *i != me).collect();
        let v = p.expect_where("media", |v| {
            others.iter().all(|o| {
                let s = &v["from"][o.to_string()];
                s["video_frames"].as_u64().unwrap_or(0) >= 30 && s["tone_of"] == *o
            })
        });
        assert!(
            v["from"].get(me.to_string()).is_none(),
            "participant {me} received their own media: {v}"
        );
    }
}

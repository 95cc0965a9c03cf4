//! `cargo bench -p parley-e2ee` (or `make bench-e2ee`): per-frame SFrame cost, and the cost of
//! a membership change (commit, processing by a member, Welcome for the joiner) with message
//! sizes, for groups of 10, 100 and 1,000. Figures go to BENCHMARKS.md.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use parley_e2ee::credential::SIGNATURE_CONTEXT;
use parley_e2ee::{MediaKind, Member};

const LINK: &[u8] = b"the invite link's key, 32 bytes!";

fn member(n: u32) -> Member {
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    let key = SigningKey::from_bytes(&seed);
    Member::new(LINK, key.verifying_key().to_bytes(), |m| {
        key.sign(&[SIGNATURE_CONTEXT, m].concat()).to_bytes()
    })
    .expect("member")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn frames() {
    let mut a = member(0);
    let mut b = member(1);
    a.found_group().expect("found");
    let c = a
        .check_key_package(&b.key_package().expect("kp"))
        .expect("check");
    let commit = a.commit(&[c], &[]).expect("commit");
    a.commit_accepted().expect("merge");
    b.join(&commit.welcome.expect("welcome")).expect("join");
    let (tx, rx) = (a.frames(), b.frames());
    // Past the moment after an add in which the old epoch's key still seals.
    for _ in 0..=parley_e2ee::SWITCH_AFTER_FRAMES {
        tx.seal(MediaKind::Audio, &[0x78]).expect("seal");
    }
    let mut frame = vec![0x31u8, 2, 0];
    frame.extend((0..1197).map(|i| i as u8));
    let n = 200_000;
    let mut sealed = Vec::with_capacity(n);
    let t = Instant::now();
    for _ in 0..n {
        sealed.push(tx.seal(MediaKind::Video, &frame).expect("seal"));
    }
    let seal = t.elapsed() / n as u32;
    let t = Instant::now();
    for s in &sealed {
        let out = rx.open(MediaKind::Video, s).expect("open");
        std::hint::black_box(out);
    }
    let open = t.elapsed() / n as u32;
    // A 720p30 call at 2.5 Mbit/s sends ~260 packet-sized units a second; receiving four
    // 360p30 streams at 0.8 Mbit/s each opens ~330.
    let per_second = 260.0 * seal.as_secs_f64() + 330.0 * open.as_secs_f64();
    println!(
        "frames  1,200 bytes: seal {:.2} µs, open {:.2} µs, overhead {} bytes; 720p30 call ≈ {:.3} % of a core",
        seal.as_secs_f64() * 1e6,
        open.as_secs_f64() * 1e6,
        sealed[0].len() - frame.len(),
        per_second * 100.0,
    );
}

fn membership(size: u32, populated: bool) {
    // Build a group of `size` in one batch commit (that is not what is measured).
    let mut committer = member(0);
    committer.found_group().expect("found");
    let mut others: Vec<Member> = (1..size - 1).map(member).collect();
    let candidates: Vec<_> = others
        .iter()
        .map(|m| {
            committer
                .check_key_package(&m.key_package().expect("kp"))
                .expect("check")
        })
        .collect();
    let c = committer.commit(&candidates, &[]).expect("batch");
    committer.commit_accepted().expect("merge");
    let welcome = c.welcome.expect("welcome");
    if populated {
        // Everyone renews their own leaf once (as members do every ten minutes), which fills
        // the tree's inner nodes: from then on a change costs O(log n), not O(n).
        for m in others.iter_mut() {
            m.join(&welcome).expect("join");
        }
        for i in 0..others.len() {
            let c = others[i].commit(&[], &[]).expect("update");
            others[i].commit_accepted().expect("merge");
            committer.receive(&c.commit).expect("process");
            for (j, m) in others.iter_mut().enumerate() {
                if j != i {
                    m.receive(&c.commit).expect("process");
                }
            }
        }
    }
    // One member is enough to time processing; the rest only have to exist in the tree.
    let mut watcher = others.swap_remove(0);
    if !populated {
        watcher.join(&welcome).expect("join");
    }
    drop(others);

    let runs = if size >= 1000 { 3 } else { 7 };
    let (mut t_commit, mut t_process, mut t_welcome, mut t_remove, mut t_premove) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut commit_bytes, mut welcome_bytes, mut remove_bytes) = (0, 0, 0);
    for r in 0..runs {
        let mut joiner = member(10_000 + r);
        let kp = joiner.key_package().expect("kp");
        let t = Instant::now();
        let cand = committer.check_key_package(&kp).expect("check");
        let add = committer.commit(&[cand], &[]).expect("add");
        committer.commit_accepted().expect("merge");
        t_commit.push(t.elapsed());
        let t = Instant::now();
        watcher.receive(&add.commit).expect("process");
        t_process.push(t.elapsed());
        let w = add.welcome.expect("welcome");
        let t = Instant::now();
        joiner.join(&w).expect("join");
        t_welcome.push(t.elapsed());
        commit_bytes = add.commit.len();
        welcome_bytes = w.len();
        // And the leave: remove the joiner again.
        let t = Instant::now();
        let rm = committer.commit(&[], &[joiner.identity()]).expect("remove");
        committer.commit_accepted().expect("merge");
        t_remove.push(t.elapsed());
        let t = Instant::now();
        watcher.receive(&rm.commit).expect("process remove");
        t_premove.push(t.elapsed());
        remove_bytes = rm.commit.len();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "group {size:>5}{}: join: commit {:.1} ms ({commit_bytes} B), member processes {:.1} ms, \
         joiner's Welcome {:.1} ms ({welcome_bytes} B); leave: commit {:.1} ms ({remove_bytes} B), \
         member processes {:.1} ms",
        if populated {
            " (every leaf renewed once)"
        } else {
            ""
        },
        ms(median(t_commit)),
        ms(median(t_process)),
        ms(median(t_welcome)),
        ms(median(t_remove)),
        ms(median(t_premove)),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    frames();
    for size in [10, 100, 1000] {
        membership(size, false);
    }
    for size in [10, 100] {
        membership(size, true);
    }
}

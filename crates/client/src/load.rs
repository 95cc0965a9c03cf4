//! `parley-cli load`: many participants in one meeting, through the waiting room, admitted in
//! bulk and added to the meeting's end-to-end encryption group, then chatting. Measures what
//! BENCHMARKS.md reports.
//!
//! Every bot is a client of its own: its own identity key, and its own MLS key package made by
//! the real client's encryption driver ([`E2ee`]) and sent right after `join`, as `parley-cli
//! join` does. The host runs the same driver in full: it founds the group, checks every key
//! package against the roster and commits the adds; the server orders the commits and carries
//! them and the Welcomes at their real sizes.
//!
//! `--mls-members` bots (by default as many as chat) are full members: they process their
//! Welcome and every later commit with that driver, and their chat lines are MLS application
//! messages it seals; the host opens every line and checks its sender. The other bots receive
//! their Welcome and every commit in full but do not process them: a client spends about
//! 0.1 s and half a megabyte of group state on a Welcome to a 1,000-person group, so a thousand
//! of them would measure the bots' one core, not the server. Full members hold their Welcome
//! until every bot has received its own, so the time to deliver the Welcomes is the server's;
//! then they process them (one core doing many clients' work back to back), and each one's own
//! processing time is reported.

mod bot;
mod media;
mod town_hall;

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_client::api::create_meeting;
use parley_client::e2ee::E2ee;
use parley_client::{ClientError, Signaling};
use parley_proto::api::CreateMeeting;
use parley_proto::message::MAX_MLS_MESSAGE_BYTES;
use parley_proto::{
    ClientMessage, DisplayName, Identity, MeetingKey, PolicyChange, ServerAddr, ServerMessage,
    Title,
};
use tokio::sync::{Semaphore, mpsc, watch};

use bot::{Bot, Command, Counters, Event, HostReport, Seen, lock};

/// How long each phase may take before the run is reported as failed.
const PHASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Options of `parley-cli load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// The server, e.g. http://127.0.0.1:7880.
    #[arg(long)]
    server: String,
    /// Participants (besides the host).
    #[arg(long, short = 'n', default_value_t = 100)]
    participants: usize,
    /// How many of them send chat messages.
    #[arg(long, default_value_t = 50)]
    chatters: usize,
    /// Chat messages each chatter sends.
    #[arg(long, default_value_t = 10)]
    chats_each: usize,
    /// Chat messages per second each chatter sends (stay under the server's rate limit).
    #[arg(long, default_value_t = 5.0)]
    chat_rate: f64,
    /// Participants that process their Welcome and every commit (full MLS members); the
    /// chatters are among them. Default: as many as chat. The others receive every MLS
    /// message but do not process it.
    #[arg(long)]
    mls_members: Option<usize>,
    /// Connections opened at once.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// The server's process id, to report its memory and CPU.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Host API token, for servers that require one.
    #[arg(long, env = "PARLEY_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// The town hall: everyone also connects media with the SFU on `joined`; one presenter
    /// and `--cameras` more send simulcast video, `--speakers` of them speak, everyone shows
    /// the presenter at the middle layer and the rest at the small one; what each receives is
    /// counted by sequence number over `--measure` seconds.
    #[arg(long)]
    town_hall: bool,
    /// Town hall: cameras besides the presenter's.
    #[arg(long, default_value_t = 5)]
    cameras: usize,
    /// Town hall: people speaking (the presenter first).
    #[arg(long, default_value_t = 3)]
    speakers: usize,
    /// Town hall: seconds of media counted, after 5 s of settling.
    #[arg(long, default_value_t = 20)]
    measure: u64,
    /// Town hall: keyframe intervals (2 s each) in the prerecorded loop.
    #[arg(long, default_value_t = 4)]
    loop_keyframes: usize,
    /// Town hall: the address the bots' media sockets bind to (one the SFU reaches).
    #[arg(long, default_value = "127.0.0.1")]
    bots_address: std::net::IpAddr,
    /// Town hall, a soak: every this many seconds of the window, print the server's and the
    /// bots' memory and open files and the packets received; at the end, how much the memory
    /// grew after the first sixth of the window (the bar: under 5 %).
    #[arg(long)]
    sample_every: Option<u64>,
    /// Town hall as a big gallery: everyone has a camera and shows this many others, each
    /// in a small tile (the participants after it, in join order, so that everyone is shown
    /// as often); no presenter.
    #[arg(long)]
    gallery: Option<usize>,
}

impl LoadArgs {
    /// Cameras besides the first bot's (everyone's in a gallery).
    fn cameras(&self) -> usize {
        if self.gallery.is_some() {
            self.participants
        } else {
            self.cameras
        }
    }
}

/// What the bots reported, by bot.
struct Tally {
    joined: Vec<Option<Instant>>,
    /// Who each bot is in the meeting.
    ids: Vec<Option<parley_proto::ParticipantId>>,
    roster: Vec<Option<Instant>>,
    welcome: Vec<Option<(Instant, usize)>>,
    /// Full members: the epoch they last reached, and their Welcome's processing time.
    epoch: Vec<Option<u64>>,
    entered: Vec<Option<(Instant, Duration)>>,
    /// The server closed its connection (a fatal error or a goodbye).
    closed: Vec<bool>,
    problems: Vec<(usize, String)>,
    members: usize,
}

impl Tally {
    fn new(n: usize, members: usize) -> Self {
        Tally {
            joined: vec![None; n],
            ids: vec![None; n],
            roster: vec![None; n],
            welcome: vec![None; n],
            epoch: vec![None; n],
            entered: vec![None; n],
            closed: vec![false; n],
            problems: Vec::new(),
            members,
        }
    }

    fn take(&mut self, e: Event) {
        let i = e.bot;
        match e.seen {
            Seen::Joined(id) => {
                self.joined[i] = self.joined[i].or(Some(e.at));
                self.ids[i] = Some(id);
            }
            Seen::MediaFailed(s) => self.problems.push((i, format!("media: {s}"))),
            Seen::Roster => self.roster[i] = self.roster[i].or(Some(e.at)),
            Seen::Welcome(bytes) => self.welcome[i] = Some((e.at, bytes)),
            Seen::Secured { epoch, processed } => {
                self.epoch[i] = Some(epoch);
                if let Some(p) = processed {
                    self.entered[i] = Some((e.at, p));
                }
            }
            Seen::Problem(s) => {
                if s.contains(r#""fatal":true"#) || s.starts_with(r#"{"type":"goodbye""#) {
                    self.closed[i] = true;
                }
                self.problems.push((i, s));
            }
        }
    }

    fn admitted(&self) -> bool {
        self.joined.iter().all(Option::is_some) && self.roster.iter().all(Option::is_some)
    }

    fn welcomed(&self) -> bool {
        self.welcome.iter().all(Option::is_some)
    }

    /// Nothing more will come: every bot still connected has `got` what it waits for.
    fn settled(&self, got: impl Fn(usize) -> bool) -> bool {
        (0..self.closed.len()).all(|i| self.closed[i] || got(i))
    }

    /// Every full member at `epoch`.
    fn members_at(&self, epoch: u64) -> bool {
        self.epoch[..self.members].iter().all(|e| *e == Some(epoch))
    }
}

/// Take events until `done` holds or `timeout` passes; whether it holds.
async fn until(
    events: &mut mpsc::UnboundedReceiver<Event>,
    tally: &mut Tally,
    timeout: Duration,
    mut done: impl FnMut(&Tally) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done(tally) {
        // Wake now and then even without events: `done` may look at the host's report.
        let wake = (tokio::time::Instant::now() + Duration::from_millis(50)).min(deadline);
        match tokio::time::timeout_at(wake, events.recv()).await {
            Ok(Some(e)) => tally.take(e),
            Ok(None) => return done(tally),
            Err(_) if tokio::time::Instant::now() >= deadline => return done(tally),
            Err(_) => {}
        }
    }
    true
}

/// Run the load test and print the report.
pub async fn run(tls: &Arc<rustls::ClientConfig>, a: &LoadArgs) -> Result<ExitCode, ClientError> {
    let server = ServerAddr::parse(&a.server)?;
    let n = a.participants;
    let chatters = a.chatters.min(n);
    let members = a.mls_members.unwrap_or(chatters).min(n);
    if members < chatters {
        return Err(ClientError::Protocol(
            "--mls-members must be at least --chatters: only full members can seal chat".into(),
        ));
    }
    let created = create_meeting(
        &server,
        a.api_token.as_deref(),
        &CreateMeeting {
            title: Title::new("Load test")?,
            passcode: None,
            policy: PolicyChange {
                capacity: Some(u32::try_from(n + 1).unwrap_or(u32::MAX)),
                ..Default::default()
            },
        },
        tls.clone(),
    )
    .await?;
    // The link's key: made here, given to every bot as an invite link would, never sent.
    let key = MeetingKey::random();
    let engine = if a.town_hall {
        eprintln!("town hall: encoding the prerecorded simulcast video…");
        let recording =
            media::Recording::encode(a.loop_keyframes).map_err(ClientError::Protocol)?;
        eprintln!("town hall: layers {:?} kbit/s", recording.kbps());
        Some(media::start(a.bots_address, Arc::new(recording)).map_err(ClientError::Protocol)?)
    } else {
        None
    };
    let rss_start = a.server_pid.and_then(rss_kib);
    let e2ee_err = |e: parley_client::e2ee::E2eeError| ClientError::Protocol(e.to_string());

    // The host: it founds the encryption group.
    let host_identity = Identity::generate();
    let host_e2ee = E2ee::new(&key, &host_identity).map_err(e2ee_err)?;
    let mut host = Signaling::connect(&server, tls.clone()).await?;
    let first = host
        .join(
            &created.room,
            &DisplayName::new("Host")?,
            &host_identity,
            None,
            Some(created.host_secret.clone()),
        )
        .await?;
    host.send(&host_e2ee.key_package_message().map_err(e2ee_err)?)
        .await?;
    let counters = Arc::new(Counters::default());
    let report = Arc::new(Mutex::new(HostReport::default()));
    let (host_cmd, host_commands) = mpsc::channel::<ClientMessage>(4);
    let host_task = {
        let (tx, rx) = host.split();
        tokio::spawn(bot::run_host(
            tx,
            rx,
            first,
            host_e2ee,
            host_commands,
            report.clone(),
            counters.clone(),
        ))
    };

    // Everyone knocks, and publishes a key package from the waiting room.
    eprintln!("connecting {n} participants ({members} full MLS members)…");
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (go_tx, go) = watch::channel(false);
    let sem = Arc::new(Semaphore::new(a.concurrency.max(1)));
    let t_connect = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let sem = sem.clone();
        let tls = tls.clone();
        let server = server.clone();
        let room = created.room.clone();
        let key = key.clone();
        let events = events_tx.clone();
        let counters = counters.clone();
        let go = go.clone();
        let media = engine.as_ref().map(|engine| bot::BotMedia {
            engine: engine.clone(),
            part: town_hall::part(i, a.cameras(), a.speakers),
            peer: None,
        });
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let identity = Identity::generate();
            let e2ee = E2ee::new(&key, &identity).map_err(e2ee_err)?;
            let key_package = e2ee.key_package_message().map_err(e2ee_err)?;
            let start = Instant::now();
            let mut sig = Signaling::connect(&server, tls).await?;
            let name = DisplayName::new(&format!("Bot {i}"))?;
            let first = sig.join(&room, &name, &identity, None, None).await?;
            let waited = start.elapsed();
            if !matches!(first, ServerMessage::Waiting { .. }) {
                return Err(ClientError::Protocol("expected the waiting room".into()));
            }
            sig.send(&key_package).await?;
            let kp_bytes = key_package.encode().len();
            let (tx, rx) = sig.split();
            let tx = bot::Writer::spawn(tx);
            let (cmd, commands) = mpsc::channel(4);
            let bot = Bot {
                index: i,
                tx,
                rx,
                e2ee: (i < members).then_some(e2ee),
                expected_roster: n + 1,
                events,
                counters,
                go,
                media,
            };
            let task = tokio::spawn(bot.run(commands));
            Ok::<_, ClientError>((waited, kp_bytes, cmd, task))
        }));
    }
    drop(events_tx);
    let mut join_to_waiting = Vec::with_capacity(n);
    let mut kp_bytes = 0usize;
    let mut bots = Vec::with_capacity(n);
    for t in tasks {
        let (waited, kp, cmd, task) = t
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))??;
        join_to_waiting.push(waited);
        kp_bytes += kp;
        bots.push((cmd, task));
    }
    let connect_secs = t_connect.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_waiting = a.server_pid.and_then(rss_kib);

    // Admit everyone at once; the host adds them to the group.
    eprintln!("admitting {n} participants in bulk…");
    let mut tally = Tally::new(n, members);
    let cpu_before_admit = a.server_pid.and_then(cpu_ticks);
    let t_admit = Instant::now();
    host_cmd
        .send(ClientMessage::AdmitAll {})
        .await
        .map_err(|_| ClientError::Closed)?;
    until(&mut events, &mut tally, PHASE_TIMEOUT, |t| {
        t.settled(|i| t.joined[i].is_some() && t.roster[i].is_some())
    })
    .await;
    let admitted = tally.admitted();
    let admit_all_done = t_admit.elapsed();
    let cpu_after_admit = a.server_pid.and_then(cpu_ticks);
    // Without the host nobody adds anyone: stop waiting once it is gone.
    let welcomed = admitted
        && until(&mut events, &mut tally, PHASE_TIMEOUT, |t| {
            t.welcomed() || lock(&report).gone.is_some()
        })
        .await
        && tally.welcomed();
    let welcomes_done = t_admit.elapsed();
    let cpu_after_welcomes = a.server_pid.and_then(cpu_ticks);
    // Now the full members process what they hold.
    let _ = go_tx.send(true);
    let in_group = welcomed
        && until(&mut events, &mut tally, PHASE_TIMEOUT, |t| {
            let r = lock(&report);
            r.members == n + 1 && t.members_at(r.epoch)
        })
        .await;
    let group_done = t_admit.elapsed();

    let mut out = Report {
        n,
        members,
        connect_secs,
        join_to_waiting,
        kp_bytes,
        t_admit,
        tally: &tally,
        host: &report,
        admit_all_done,
        welcomes_done,
        group_done,
    };
    out.admission(in_group);
    if !in_group {
        out.failure(admitted, welcomed);
        host_task.abort();
        return Ok(ExitCode::FAILURE);
    }

    // Idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = a.server_pid.and_then(rss_kib);

    if let Some(engine) = engine {
        let commands: Vec<_> = bots.iter().map(|(cmd, _)| cmd.clone()).collect();
        let ok = town_hall::run(town_hall::Run {
            args: a,
            engine: &engine,
            bots: &commands,
            ids: &tally.ids,
            t_connect,
            t_admit,
        })
        .await?;
        // Bots that stopped before the end, and why (a bot that stops answers no offer).
        let mut stopped = 0;
        for (i, (_, task)) in bots.iter_mut().enumerate() {
            if task.is_finished() {
                stopped += 1;
                if stopped <= 5 {
                    match task.await {
                        Ok(Ok(())) => println!("bot {i} stopped: the server closed its connection"),
                        Ok(Err(e)) => println!("bot {i} stopped: {e}"),
                        Err(e) => println!("bot {i} stopped: {e}"),
                    }
                }
            }
        }
        if stopped > 0 {
            println!("{stopped} bots stopped before the end");
        }
        println!(
            "the bots read {} offers of the SFU's; {} messages without a type",
            counters.sdp_offers_read.load(Ordering::Relaxed),
            counters.untyped.load(Ordering::Relaxed)
        );
        {
            let read = counters.read.lock().unwrap_or_else(|e| e.into_inner());
            let few: Vec<String> = read
                .iter()
                .enumerate()
                .filter(|(_, (n, _))| *n < 5)
                .take(8)
                .map(|(i, (n, ty))| format!("bot {i}: {n} read, the last {ty}"))
                .collect();
            if !few.is_empty() {
                println!("bots that read little: {}", few.join("; "));
            }
            let mut last: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
            // A bot whose last message read was early (an `sdp_answer`) heard nothing more.
            for (i, (_, ty)) in read.iter().enumerate() {
                last.entry(ty.as_str()).or_default().push(i);
            }
            for (ty, bots) in last {
                println!(
                    "  {} bots read {ty:?} last (e.g. {:?})",
                    bots.len(),
                    &bots[..bots.len().min(8)]
                );
            }
        }
        // What the bots reported meanwhile (errors from the server, e.g. `server_busy`).
        while let Ok(e) = events.try_recv() {
            tally.take(e);
        }
        if let (Some(s), Some(i)) = (rss_start, a.server_pid.and_then(rss_kib)) {
            println!(
                "server RSS: {s} KiB before, {i} KiB with {n} in the town hall = {:.1} KiB per participant",
                (i.saturating_sub(s)) as f64 / n as f64
            );
        }
        print_problems(&tally, &report);
        let _ = host_cmd.send(ClientMessage::End {}).await;
        drop(host_cmd);
        drop(bots);
        let _ = host_task.await;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }

    // Chat, sealed by the full members' drivers.
    let expected = (chatters * a.chats_each * (n + 1)) as u64;
    eprintln!(
        "{chatters} participants send {} chat messages each ({expected} deliveries)…",
        a.chats_each
    );
    counters.delivered.store(0, Ordering::Relaxed);
    let cpu_before_chat = a.server_pid.and_then(cpu_ticks);
    let t_chat = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / a.chat_rate.max(0.1));
    for (cmd, _) in bots.iter().take(chatters) {
        cmd.send(Command::Chat {
            count: a.chats_each,
            gap,
        })
        .await
        .map_err(|_| ClientError::Closed)?;
    }
    let opened_expected = (chatters * a.chats_each) as u64;
    let deadline = Instant::now() + PHASE_TIMEOUT;
    while Instant::now() < deadline {
        let host_done = {
            let r = lock(&report);
            r.opened + r.unreadable >= opened_expected
        };
        if host_done && counters.delivered.load(Ordering::Relaxed) >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let chat_secs = t_chat.elapsed().as_secs_f64();
    let got = counters.delivered.load(Ordering::Relaxed);
    let cpu_after_chat = a.server_pid.and_then(cpu_ticks);
    while let Ok(e) = events.try_recv() {
        tally.take(e);
    }

    println!(
        "chat: {got}/{expected} deliveries in {chat_secs:.2} s = {:.0} messages/s relayed",
        got as f64 / chat_secs
    );
    let sent = counters.chats_sent.load(Ordering::Relaxed).max(1);
    let (opened, unreadable) = {
        let r = lock(&report);
        (r.opened, r.unreadable)
    };
    println!(
        "chat bodies: MLS application messages, {:.0} bytes each on average (base64); the host opened {opened}/{opened_expected} with the sender checked, {unreadable} unreadable",
        counters.chat_body_bytes.load(Ordering::Relaxed) as f64 / sent as f64
    );
    if let (Some(s), Some(w), Some(i)) = (rss_start, rss_waiting, rss_idle) {
        println!(
            "server RSS: {s} KiB before, {w} KiB with {n} waiting (key packages held), {i} KiB with {n} admitted, in the encryption group and idle = {:.1} KiB per participant",
            (i.saturating_sub(s)) as f64 / n as f64
        );
    }
    let secs = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 100.0),
        _ => None,
    };
    if let (Some(admit), Some(group), Some(chat)) = (
        secs(cpu_before_admit, cpu_after_admit),
        secs(cpu_before_admit, cpu_after_welcomes),
        secs(cpu_before_chat, cpu_after_chat),
    ) {
        println!(
            "server CPU: admit-all to full rosters {admit:.2} s, to every Welcome delivered {group:.2} s, chat phase {chat:.2} s ({:.0} % of one core)",
            chat / chat_secs * 100.0
        );
    }
    print_problems(&tally, &report);
    let _ = host_cmd.send(ClientMessage::End {}).await;
    drop(host_cmd);
    drop(bots);
    let _ = host_task.await;
    Ok(
        if got >= expected && opened == opened_expected && unreadable == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

/// The report of the admission and the encryption group.
struct Report<'a> {
    n: usize,
    members: usize,
    connect_secs: f64,
    join_to_waiting: Vec<Duration>,
    kp_bytes: usize,
    t_admit: Instant,
    tally: &'a Tally,
    host: &'a Mutex<HostReport>,
    admit_all_done: Duration,
    welcomes_done: Duration,
    group_done: Duration,
}

impl Report<'_> {
    fn admission(&mut self, in_group: bool) {
        let n = self.n;
        let since = |t: &Instant| t.saturating_duration_since(self.t_admit);
        let mut admit: Vec<Duration> = self.tally.joined.iter().flatten().map(since).collect();
        let mut welcome: Vec<Duration> = self
            .tally
            .welcome
            .iter()
            .flatten()
            .map(|(t, _)| since(t))
            .collect();
        let mut processed: Vec<Duration> = self
            .tally
            .entered
            .iter()
            .flatten()
            .map(|(_, p)| *p)
            .collect();
        let mut entered: Vec<Duration> = self
            .tally
            .entered
            .iter()
            .flatten()
            .map(|(t, _)| since(t))
            .collect();
        self.join_to_waiting.sort();
        for v in [&mut admit, &mut welcome, &mut processed, &mut entered] {
            v.sort();
        }
        println!(
            "participants: {n} (+1 host), connected in {:.2} s; each sent a key package of {} bytes",
            self.connect_secs,
            self.kp_bytes / n.max(1)
        );
        println!("join → waiting room:   {}", spread(&self.join_to_waiting));
        println!(
            "admit-all → admitted:  {}  (everyone's full roster after {:.1} ms)",
            spread(&admit),
            ms(self.admit_all_done)
        );
        let r = lock(self.host);
        for c in &r.commits {
            println!(
                "host's commit for epoch {}: adds {}, commit {} B + Welcome {} B (base64) = mls_commit of {} B ({:.0} % of the {} B allowed); made in {:.1} ms, accepted {}",
                c.epoch,
                c.added,
                c.commit_chars,
                c.welcome_chars,
                c.message_bytes,
                c.message_bytes as f64 / MAX_MLS_MESSAGE_BYTES as f64 * 100.0,
                MAX_MLS_MESSAGE_BYTES,
                ms(c.built),
                c.accepted_at.map_or("never".to_string(), |t| format!(
                    "{:.1} ms after admit-all ({:.1} ms after it was sent)",
                    ms(since(&t)),
                    ms(t.saturating_duration_since(c.sent_at))
                )),
            );
        }
        let largest = self
            .tally
            .welcome
            .iter()
            .flatten()
            .map(|(_, b)| *b)
            .max()
            .unwrap_or(0);
        if !welcome.is_empty() {
            println!(
                "admit-all → Welcome at each participant: {}  (every one delivered after {:.1} ms; largest mls_welcome {largest} B)",
                spread(&welcome),
                ms(self.welcomes_done)
            );
            println!(
                "full members ({}): Welcome processed in {} each (their processing held until every Welcome was delivered, then done back to back on the bots' core)",
                self.members,
                spread(&processed),
            );
        }
        if in_group {
            println!(
                "the group: epoch {} with {} members; every full member there {:.1} ms after admit-all",
                r.epoch,
                r.members,
                ms(self.group_done)
            );
        }
        if !entered.is_empty() {
            println!(
                "admit-all → in the group (full members): {}",
                spread(&entered)
            );
        }
    }

    fn failure(&self, admitted: bool, welcomed: bool) {
        let t = self.tally;
        let count = |v: &[Option<Instant>]| v.iter().filter(|x| x.is_some()).count();
        println!(
            "FAILED: {} of {} admitted, {} full rosters, {} Welcomes, {} full members in the group",
            count(&t.joined),
            self.n,
            count(&t.roster),
            t.welcome.iter().filter(|x| x.is_some()).count(),
            t.entered.iter().filter(|x| x.is_some()).count(),
        );
        if !admitted {
            println!("  not everyone was admitted (with a full roster) and still connected");
        } else if !welcomed {
            println!("  not everyone got a Welcome (within {PHASE_TIMEOUT:?})");
        } else {
            println!(
                "  the full members did not all reach the host's epoch within {PHASE_TIMEOUT:?}"
            );
        }
        print_problems(t, self.host);
    }
}

fn print_problems(t: &Tally, host: &Mutex<HostReport>) {
    let r = lock(host);
    if let Some(g) = &r.gone {
        println!("host disconnected: {g}");
    }
    for p in r.problems.iter().take(10) {
        println!("host: {p}");
    }
    if !t.problems.is_empty() {
        println!(
            "{} problems reported by participants, the first:",
            t.problems.len()
        );
        for (i, p) in t.problems.iter().take(10) {
            println!("  bot {i}: {p}");
        }
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50, p99 and max of sorted durations.
fn spread(v: &[Duration]) -> String {
    let pct = |p: f64| {
        v.get(
            ((v.len() as f64 * p).ceil() as usize)
                .saturating_sub(1)
                .min(v.len().saturating_sub(1)),
        )
        .copied()
        .unwrap_or_default()
    };
    format!(
        "p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(pct(1.0))
    )
}

/// Resident set size of a process, in KiB (Linux).
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU time of a process, in clock ticks (Linux, 100 per second).
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

//! The load tool's clients: the host, which runs the real client's encryption driver
//! ([`E2ee`]) in full, and the bots, which are either full MLS members (the same driver) or
//! light clients that receive everything and read only each message's `type`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use parley_client::ClientError;
use parley_client::e2ee::{E2ee, E2eeEvent};
use parley_client::signaling::{SignalingRx, SignalingTx};
use parley_proto::message::TileHeight;
use parley_proto::{ClientMessage, ParticipantId, ServerMessage};
use tokio::sync::{mpsc, watch};

use super::media;

/// How often the encryption driver is polled, as `parley-cli join` does.
const E2EE_TICK: Duration = Duration::from_millis(100);

/// What a bot reports to the load tool, with the time it saw it.
#[derive(Debug)]
pub struct Event {
    /// Which bot.
    pub bot: usize,
    /// When.
    pub at: Instant,
    /// What.
    pub seen: Seen,
}

/// Something a bot saw.
#[derive(Debug)]
pub enum Seen {
    /// `joined`: admitted, as this participant.
    Joined(ParticipantId),
    /// Town hall: its peer connection could not be made (why).
    MediaFailed(String),
    /// The whole roster arrived.
    Roster,
    /// Its `mls_welcome` arrived (the whole message, this many bytes).
    Welcome(usize),
    /// A full member is in the group at `epoch`; `processed` is how long its Welcome took
    /// to process, when this is the Welcome.
    Secured {
        /// The MLS epoch.
        epoch: u64,
        /// Time spent processing the Welcome (only on entering the group).
        processed: Option<Duration>,
    },
    /// The server sent an error or a goodbye, or encryption failed: what happened.
    Problem(String),
}

/// Told to a bot by the load tool.
#[derive(Debug)]
pub enum Command {
    /// Send `count` chat lines, one every `gap`.
    Chat {
        /// How many.
        count: usize,
        /// Between two.
        gap: Duration,
    },
    /// Town hall: show the presenter large (the middle layer), everyone else small.
    Watch {
        /// Whose video is the large one.
        presenter: ParticipantId,
    },
    /// Gallery: show these participants, each in a small tile.
    Gallery {
        /// Whom.
        ids: Vec<ParticipantId>,
    },
}

/// Town hall: a bot's media, through the shared engine.
pub struct BotMedia {
    /// The engine.
    pub engine: std::sync::mpsc::Sender<media::Cmd>,
    /// What it sends.
    pub part: media::Part,
    /// Its peer connection in the engine, once made.
    pub peer: Option<usize>,
}

/// Tiles of a town-hall page: the small layer's height.
pub const SMALL_TILE: u16 = 180;
/// The presenter's tile: the middle layer's height.
pub const PRESENTER_TILE: u16 = 360;

/// Counters every bot adds to.
#[derive(Debug, Default)]
pub struct Counters {
    /// Chat messages received, by all bots and the host.
    pub delivered: AtomicU64,
    /// Chat messages sent and the bytes of their (sealed, base64) bodies.
    pub chats_sent: AtomicU64,
    /// Bytes of those bodies.
    pub chat_body_bytes: AtomicU64,
    /// `mls_commit` messages received by bots, and their bytes.
    pub commits_received: AtomicU64,
    /// Bytes of those.
    pub commit_bytes_received: AtomicU64,
    /// Town hall: `sdp_offer`s of the SFU's the bots read.
    pub sdp_offers_read: AtomicU64,
    /// Messages whose type could not be read from their start.
    pub untyped: AtomicU64,
    /// Town hall: each bot's messages read, and the type of the last.
    pub read: Mutex<Vec<(u64, String)>>,
}

/// A bot's sending half, in a task of its own: reading never waits on a send, as in real
/// clients.
pub struct Writer {
    queue: mpsc::UnboundedSender<Option<ClientMessage>>,
}

impl Writer {
    /// Move `tx` into its task.
    pub fn spawn(mut tx: SignalingTx) -> Self {
        let (queue, mut rx) = mpsc::unbounded_channel::<Option<ClientMessage>>();
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                match m {
                    Some(m) => {
                        if tx.send(&m).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                }
            }
            tx.close().await;
        });
        Writer { queue }
    }

    /// Queue `m`.
    pub async fn send(&mut self, m: &ClientMessage) -> Result<(), ClientError> {
        self.queue
            .send(Some(m.clone()))
            .map_err(|_| ClientError::Closed)
    }

    /// Close the connection once what is queued has gone.
    pub async fn close(&mut self) {
        let _ = self.queue.send(None);
    }
}

/// One bot: a participant admitted from the waiting room.
pub struct Bot {
    /// Its number (bots 0.. are the full members, the first of them the chatters).
    pub index: usize,
    /// Sending half of its connection.
    pub tx: Writer,
    /// Receiving half.
    pub rx: SignalingRx,
    /// The client's encryption driver, for full members; `None` for light bots.
    pub e2ee: Option<E2ee>,
    /// Roster entries it waits for (everyone, itself and the host included).
    pub expected_roster: usize,
    /// Where it reports.
    pub events: mpsc::UnboundedSender<Event>,
    /// Shared counters.
    pub counters: Arc<Counters>,
    /// Becomes `true` once every bot has received its Welcome: until then a full member holds
    /// its Welcome (and any commit after it) unprocessed, so that one core doing the MLS work
    /// of many clients does not slow the delivery being measured.
    pub go: watch::Receiver<bool>,
    /// Town hall: its media (none in the chat load test).
    pub media: Option<BotMedia>,
}

impl Bot {
    fn report(&self, seen: Seen) {
        let _ = self.events.send(Event {
            bot: self.index,
            at: Instant::now(),
            seen,
        });
    }

    /// Read and act until the load tool drops `commands` (then close) or the server closes.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> Result<(), ClientError> {
        let mut roster = 0usize;
        let mut held: VecDeque<ServerMessage> = VecDeque::new();
        let mut go = *self.go.borrow();
        let mut chats_left = 0usize;
        let mut chats_sent = 0usize;
        let mut chat_tick = tokio::time::interval(Duration::from_secs(3600));
        let mut e2ee_tick = tokio::time::interval(E2EE_TICK);
        e2ee_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                m = self.rx.recv_text() => {
                    let Some(m) = m? else { return Ok(()) };
                    // A thousand bots share one core; none should read its whole roster while
                    // another's `joined` waits unread (real clients each have their own
                    // machine).
                    tokio::task::yield_now().await;
                    self.on_text(&m, &mut roster, go, &mut held).await?;
                }
                changed = self.go.changed(), if !go => {
                    go = changed.is_err() || *self.go.borrow();
                    while go && let Some(m) = held.pop_front() {
                        self.feed(m).await?;
                    }
                }
                c = commands.recv() => match c {
                    Some(Command::Chat { count, gap }) => {
                        chats_left = count;
                        chat_tick = tokio::time::interval(gap);
                    }
                    Some(Command::Watch { presenter }) => {
                        self.tx.send(&ClientMessage::ReceiveVideo {
                            from: None,
                            height: Some(SMALL_TILE),
                            heights: vec![TileHeight { id: presenter, height: PRESENTER_TILE }],
                        }).await?;
                    }
                    Some(Command::Gallery { ids }) => {
                        self.tx.send(&ClientMessage::ReceiveVideo {
                            from: Some(ids),
                            height: Some(SMALL_TILE),
                            heights: Vec::new(),
                        }).await?;
                    }
                    None => {
                        self.tx.close().await;
                        return Ok(());
                    }
                },
                _ = chat_tick.tick(), if chats_left > 0 => {
                    chats_left -= 1;
                    self.chat(chats_sent).await?;
                    chats_sent += 1;
                }
                _ = e2ee_tick.tick(), if go && self.e2ee.is_some() => {
                    let out = self.e2ee.as_mut().map(|e| e.poll(Instant::now())).unwrap_or_default();
                    for m in &out {
                        self.tx.send(m).await?;
                    }
                }
            }
        }
    }

    /// One message from the server. Light bots read only its `type` (the server writes it
    /// first), so that one core of bots keeps up with the server; full members decode what
    /// their encryption needs.
    async fn on_text(
        &mut self,
        m: &str,
        roster: &mut usize,
        go: bool,
        held: &mut VecDeque<ServerMessage>,
    ) -> Result<(), ClientError> {
        let ty = message_type(m);
        if self.media.is_some() {
            let mut read = self.counters.read.lock().unwrap_or_else(|e| e.into_inner());
            if read.len() <= self.index {
                read.resize(self.index + 1, (0, String::new()));
            }
            read[self.index].0 += 1;
            read[self.index].1 = ty.to_owned();
        }
        if ty == "sdp_offer" {
            self.counters
                .sdp_offers_read
                .fetch_add(1, Ordering::Relaxed);
        }
        if ty.is_empty() && self.counters.untyped.fetch_add(1, Ordering::Relaxed) < 3 {
            eprintln!(
                "[bot {}] a message without a type at its start: {}",
                self.index,
                m.chars().take(120).collect::<String>()
            );
        }
        if self.media.is_some()
            && matches!(ty, "joined" | "sdp_answer" | "sdp_offer" | "send_layers")
        {
            let decoded =
                ServerMessage::decode(m).map_err(|e| ClientError::Protocol(e.to_string()))?;
            self.on_media(&decoded).await?;
        }
        match ty {
            "joined" => {
                if let Ok(ServerMessage::Joined { you, .. }) = ServerMessage::decode(m) {
                    self.report(Seen::Joined(you));
                }
            }
            "participants_joined" => {
                let before = *roster;
                *roster += m.matches(r#""id":"#).count();
                if before < self.expected_roster && *roster >= self.expected_roster {
                    self.report(Seen::Roster);
                }
            }
            "chat" => {
                // Nobody but the host opens chat: it opens every line and checks its sender.
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            "mls_welcome" => self.report(Seen::Welcome(m.len())),
            "mls_commit" => {
                self.counters
                    .commits_received
                    .fetch_add(1, Ordering::Relaxed);
                self.counters
                    .commit_bytes_received
                    .fetch_add(m.len() as u64, Ordering::Relaxed);
            }
            "error" | "goodbye" | "refused" | "mls_refused" => {
                self.report(Seen::Problem(m.chars().take(200).collect()));
            }
            _ => {}
        }
        if self.e2ee.is_none() {
            return Ok(());
        }
        let wanted = matches!(
            ty,
            "joined"
                | "participants_joined"
                | "participant_left"
                | "mls_welcome"
                | "mls_commit"
                | "mls_commit_result"
                | "mls_key_package"
                | "mls_found"
        );
        if !wanted {
            return Ok(());
        }
        let decoded = ServerMessage::decode(m).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mls = ty.starts_with("mls_");
        if mls && (!go || !held.is_empty()) {
            held.push_back(decoded);
            return Ok(());
        }
        self.feed(decoded).await
    }

    /// Town hall: a message about media. On `joined`, offer a peer connection (as a client
    /// does) and ask for everyone's video at the small tile's size.
    async fn on_media(&mut self, m: &ServerMessage) -> Result<(), ClientError> {
        let Some(media) = self.media.as_mut() else {
            return Ok(());
        };
        let engine = media.engine.clone();
        let gone = |_| ClientError::Protocol("the media engine stopped".into());
        match m {
            ServerMessage::Joined { .. } if media.peer.is_none() => {
                let (reply, answer) = tokio::sync::oneshot::channel();
                engine
                    .send(media::Cmd::Create {
                        bot: self.index,
                        part: media.part,
                        reply,
                    })
                    .map_err(gone)?;
                let made = answer.await.map_err(|_| ClientError::Closed)?;
                let (peer, sdp) = match made {
                    Ok(m) => m,
                    Err(e) => {
                        self.report(Seen::MediaFailed(e));
                        return Ok(());
                    }
                };
                media.peer = Some(peer);
                self.tx.send(&ClientMessage::SdpOffer { sdp }).await?;
                self.tx
                    .send(&ClientMessage::ReceiveVideo {
                        from: None,
                        height: Some(SMALL_TILE),
                        heights: Vec::new(),
                    })
                    .await?;
            }
            ServerMessage::SdpAnswer { sdp } => {
                if let Some(peer) = media.peer {
                    engine
                        .send(media::Cmd::Answer {
                            peer,
                            sdp: sdp.clone(),
                        })
                        .map_err(gone)?;
                }
            }
            ServerMessage::SdpOffer { sdp } => {
                if let Some(peer) = media.peer {
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    engine
                        .send(media::Cmd::Offer {
                            peer,
                            sdp: sdp.clone(),
                            reply,
                        })
                        .map_err(gone)?;
                    let answered = answer.await.map_err(|_| ClientError::Closed)?;
                    match answered {
                        Ok(sdp) => self.tx.send(&ClientMessage::SdpAnswer { sdp }).await?,
                        Err(e) => self.report(Seen::Problem(format!("the SFU's offer: {e}"))),
                    }
                }
            }
            ServerMessage::SendLayers { rids } => {
                if let Some(peer) = media.peer {
                    engine
                        .send(media::Cmd::Layers {
                            peer,
                            rids: rids.clone(),
                        })
                        .map_err(gone)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Hand a message to the encryption driver and send what it returns.
    async fn feed(&mut self, m: ServerMessage) -> Result<(), ClientError> {
        let Some(e2ee) = self.e2ee.as_mut() else {
            return Ok(());
        };
        let welcome = matches!(m, ServerMessage::MlsWelcome { .. });
        let heavy = welcome || matches!(m, ServerMessage::MlsCommit { .. });
        let t = Instant::now();
        // MLS work on a large group takes tens of milliseconds: let the runtime's other tasks
        // (the other bots) go on meanwhile.
        let inbound = if heavy {
            tokio::task::block_in_place(|| e2ee.on_message(t, m))
        } else {
            e2ee.on_message(t, m)
        };
        let took = t.elapsed();
        for e in inbound.events {
            match e {
                E2eeEvent::Secured { epoch, .. } => self.report(Seen::Secured {
                    epoch,
                    processed: welcome.then_some(took),
                }),
                E2eeEvent::Problem(s) | E2eeEvent::Refused(s) => self.report(Seen::Problem(s)),
                E2eeEvent::Removed => self.report(Seen::Problem("removed from the group".into())),
                _ => {}
            }
        }
        for m in &inbound.send {
            self.tx.send(m).await?;
        }
        Ok(())
    }

    /// Send chat line `k`, sealed by the encryption driver as `parley-cli join` does.
    async fn chat(&mut self, k: usize) -> Result<(), ClientError> {
        let Some(e2ee) = self.e2ee.as_mut() else {
            return Err(ClientError::Protocol("a light bot cannot chat".into()));
        };
        let text = format!("message {k} from bot {}", self.index);
        let out = e2ee
            .chat(None, &text)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        for m in &out {
            if let ClientMessage::Chat { body, .. } = m {
                self.counters.chats_sent.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .chat_body_bytes
                    .fetch_add(body.len() as u64, Ordering::Relaxed);
            }
            self.tx.send(m).await?;
        }
        Ok(())
    }
}

/// A commit the host sent.
#[derive(Debug, Clone)]
pub struct CommitSent {
    /// The epoch it applies to.
    pub epoch: u64,
    /// People it adds.
    pub added: usize,
    /// Base64 characters of the commit.
    pub commit_chars: usize,
    /// Base64 characters of the Welcome.
    pub welcome_chars: usize,
    /// The whole `mls_commit` message, in bytes.
    pub message_bytes: usize,
    /// Time the driver took to make it (the key packages' checks included), on the bots' core.
    pub built: Duration,
    /// When it went out.
    pub sent_at: Instant,
    /// When the server accepted it.
    pub accepted_at: Option<Instant>,
}

/// What the host saw.
#[derive(Debug, Default)]
pub struct HostReport {
    /// Its commits, in order.
    pub commits: Vec<CommitSent>,
    /// The group's epoch and size as the host last saw them.
    pub epoch: u64,
    /// Members.
    pub members: usize,
    /// Chat lines it opened (MLS application messages whose sender is the one the server
    /// names).
    pub opened: u64,
    /// Chat lines it could not open.
    pub unreadable: u64,
    /// Errors from the server and encryption problems.
    pub problems: Vec<String>,
    /// Why its connection ended, if it did.
    pub gone: Option<String>,
}

/// The shared report.
pub fn lock(r: &Mutex<HostReport>) -> MutexGuard<'_, HostReport> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

/// The host: the real client's encryption driver, fed every message, polled every 100 ms.
/// Sends what the load tool passes it on `commands`; closes when that is dropped.
pub async fn run_host(
    mut tx: SignalingTx,
    mut rx: SignalingRx,
    first: ServerMessage,
    mut e2ee: E2ee,
    mut commands: mpsc::Receiver<ClientMessage>,
    report: Arc<Mutex<HostReport>>,
    counters: Arc<Counters>,
) -> Result<(), ClientError> {
    let mut tick = tokio::time::interval(E2EE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next = Some(first);
    loop {
        let m = match next.take() {
            Some(m) => m,
            None => tokio::select! {
                m = rx.recv() => match m {
                    Ok(Some(m)) => m,
                    Ok(None) | Err(_) => {
                        let mut r = lock(&report);
                        if r.gone.is_none() {
                            r.gone = Some("the server closed the connection".into());
                        }
                        return Ok(());
                    }
                },
                c = commands.recv() => {
                    match c {
                        Some(c) => tx.send(&c).await?,
                        None => {
                            tx.close().await;
                            return Ok(());
                        }
                    }
                    continue;
                }
                _ = tick.tick() => {
                    let t = Instant::now();
                    let out = tokio::task::block_in_place(|| e2ee.poll(t));
                    send_all(&mut tx, out, t, &report).await?;
                    continue;
                }
            },
        };
        match &m {
            ServerMessage::MlsCommitResult { epoch, accepted } => {
                let mut r = lock(&report);
                if let Some(c) = r.commits.iter_mut().rev().find(|c| c.epoch == *epoch) {
                    c.accepted_at = accepted.then(Instant::now);
                }
            }
            ServerMessage::Goodbye { message, .. } => {
                lock(&report).gone = Some(format!("goodbye: {message}"));
            }
            ServerMessage::Error { kind, message, .. } => {
                let kind = serde_json::to_string(kind).unwrap_or_default();
                lock(&report).problems.push(format!("{kind}: {message}"));
            }
            _ => {}
        }
        let t = Instant::now();
        let inbound = if matches!(
            m,
            ServerMessage::MlsKeyPackage { .. }
                | ServerMessage::MlsKeyPackages { .. }
                | ServerMessage::MlsCommit { .. }
                | ServerMessage::MlsCommitResult { .. }
        ) {
            tokio::task::block_in_place(|| e2ee.on_message(t, m))
        } else {
            e2ee.on_message(t, m)
        };
        {
            let mut r = lock(&report);
            for e in &inbound.events {
                match e {
                    E2eeEvent::Secured { epoch, members, .. } => {
                        r.epoch = *epoch;
                        r.members = *members;
                    }
                    E2eeEvent::Unreadable { .. } => {
                        r.unreadable += 1;
                        counters.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    E2eeEvent::Problem(s) | E2eeEvent::Refused(s) => r.problems.push(s.clone()),
                    E2eeEvent::Removed => r.problems.push("removed from the group".into()),
                    _ => {}
                }
            }
            if let Some(ServerMessage::Chat { .. }) = inbound.show {
                r.opened += 1;
                counters.delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
        send_all(&mut tx, inbound.send, t, &report).await?;
    }
}

/// Send what the driver returned, noting each commit (made since `t`).
async fn send_all(
    tx: &mut SignalingTx,
    out: Vec<ClientMessage>,
    t: Instant,
    report: &Mutex<HostReport>,
) -> Result<(), ClientError> {
    for m in out {
        if let ClientMessage::MlsCommit {
            epoch,
            commit,
            welcome,
            added,
        } = &m
        {
            let c = CommitSent {
                epoch: *epoch,
                added: added.len(),
                commit_chars: commit.len(),
                welcome_chars: welcome.as_ref().map_or(0, String::len),
                message_bytes: m.encode().len(),
                built: t.elapsed(),
                sent_at: Instant::now(),
                accepted_at: None,
            };
            lock(report).commits.push(c);
        }
        tx.send(&m).await?;
    }
    Ok(())
}

/// The `type` of a server message without decoding it (the server writes it first).
pub fn message_type(m: &str) -> &str {
    m.strip_prefix(r#"{"type":""#)
        .and_then(|rest| rest.split_once('"'))
        .map_or("", |(ty, _)| ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_is_read_from_the_front_of_the_message() {
        let m = ServerMessage::MlsWelcome {
            from: parley_proto::ParticipantId(3),
            welcome: "AAAA".into(),
        };
        assert_eq!(message_type(&m.encode()), "mls_welcome");
        assert_eq!(message_type(r#"{"type":"joined","you":2}"#), "joined");
        assert_eq!(message_type(r#"{"you":2,"type":"joined"}"#), "");
        assert_eq!(message_type("not json"), "");
    }
}

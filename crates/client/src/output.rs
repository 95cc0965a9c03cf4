//! Printing what happens, as readable lines or JSON lines. Never prints the room token on its
//! own, and never a host secret.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use parley_client::ClientError;
use parley_client::call::RemoteMedia;
use parley_client::signaling::type_name;
use parley_proto::{MeetingLink, ParticipantId, ServerMessage};
use serde_json::json;

/// Prints events and keeps the names it has seen (for `who` and commands by name).
pub struct Printer {
    json: bool,
    names: BTreeMap<ParticipantId, String>,
    waiting: BTreeMap<ParticipantId, String>,
    me: Option<ParticipantId>,
    /// The last two media figures printed and when, for rates.
    media_history: std::collections::VecDeque<(std::time::Instant, BTreeMap<String, RemoteMedia>)>,
}

/// Frames per second and kbit/s from `before` to `now` over `secs`.
fn rates(before: Option<&RemoteMedia>, now: &RemoteMedia, secs: f64) -> (f64, f64) {
    let (frames, bytes) = before.map_or((0, 0), |b| (b.video_frames, b.video_bytes));
    let secs = secs.max(0.001);
    (
        now.video_frames.saturating_sub(frames) as f64 / secs,
        now.video_bytes.saturating_sub(bytes) as f64 * 8.0 / 1000.0 / secs,
    )
}

impl Printer {
    /// A printer; `json` for JSON lines.
    pub fn new(json: bool) -> Self {
        Printer {
            json,
            names: BTreeMap::new(),
            waiting: BTreeMap::new(),
            me: None,
            media_history: std::collections::VecDeque::new(),
        }
    }

    /// Names of participants and waiting people, by number.
    pub fn names(&self) -> BTreeMap<ParticipantId, String> {
        let mut all = self.waiting.clone();
        all.extend(self.names.iter().map(|(k, v)| (*k, v.clone())));
        all
    }

    fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn who_is(&self, id: ParticipantId) -> String {
        match self.names.get(&id).or_else(|| self.waiting.get(&id)) {
            Some(n) if Some(id) == self.me => format!("{n} (you)"),
            Some(n) => format!("{n} #{id}"),
            None => format!("#{id}"),
        }
    }

    /// The invite link, which the host asked for.
    pub fn invite(&self, link: &MeetingLink) {
        if self.json {
            self.line(&json!({"type": "invite", "link": link.to_string()}).to_string());
        } else {
            self.line("Invite link (share it; give the passcode, if any, separately):");
            self.line(&link.to_string());
        }
    }

    /// The devices `parley-cli devices` found.
    pub fn devices(&self, list: &parley_client::devices::DeviceList) {
        let kinds = [
            ("camera", "Cameras", &list.cameras),
            ("microphone", "Microphones", &list.microphones),
            ("speaker", "Speakers", &list.speakers),
        ];
        for (kind, title, found) in kinds {
            if self.json {
                for d in found.iter() {
                    self.line(
                        &json!({"type": "device", "kind": kind, "name": d.name, "id": d.id, "default": d.default})
                            .to_string(),
                    );
                }
            } else {
                self.line(&format!("{title}:"));
                for d in found.iter() {
                    let default = if d.default { " (default)" } else { "" };
                    self.line(&format!(
                        "  {}{default}    --{} {}",
                        d.name,
                        kind.replace("microphone", "mic"),
                        d.id
                    ));
                }
            }
        }
        for p in &list.problems {
            self.device_problem(p);
        }
    }

    /// A device that could not be used; the meeting goes on without it.
    pub fn device_problem(&self, e: &parley_media::audio_device::DeviceError) {
        if self.json {
            self.line(
                &json!({"type": "device_problem", "kind": e.code(), "message": e.to_string()})
                    .to_string(),
            );
        } else {
            self.line(&e.to_string());
        }
    }

    /// How an echo test goes.
    pub fn echo_phase(&self, phase: &parley_client::devices::EchoPhase) {
        use parley_client::devices::EchoPhase;
        match phase {
            EchoPhase::Recording { seconds, level } => {
                let bar = "#".repeat((level * 30.0).round() as usize);
                if self.json {
                    self.line(&json!({"type": "echo_test", "phase": "recording", "seconds": seconds, "level": level}).to_string());
                } else {
                    self.line(&format!("Recording {seconds:4.1} s  |{bar:<30}|"));
                }
            }
            EchoPhase::PlayingBack { seconds } => {
                if self.json {
                    self.line(
                        &json!({"type": "echo_test", "phase": "playing", "seconds": seconds})
                            .to_string(),
                    );
                } else {
                    self.line(&format!("Playing back {seconds:4.1} s"));
                }
            }
        }
    }

    /// What an echo test found.
    pub fn echo_report(&self, r: &parley_client::devices::EchoTestReport) {
        if self.json {
            self.line(
                &json!({"type": "echo_test", "phase": "done", "microphone": r.microphone, "speaker": r.speaker,
                    "seconds": r.recorded_seconds, "peak_dbfs": r.peak_dbfs, "level_dbfs": r.level_dbfs,
                    "heard_something": r.heard_something})
                .to_string(),
            );
        } else if r.heard_something {
            self.line(&format!(
                "Done: {:.1} s recorded from \"{}\" (loudest {:.0} dBFS) and played on \"{}\". \
                 If you heard yourself, both work.",
                r.recorded_seconds, r.microphone, r.peak_dbfs, r.speaker
            ));
        } else {
            self.line(&format!(
                "The microphone \"{}\" heard nothing (loudest {:.0} dBFS): check it is not muted, or pick \
                 another with --mic.",
                r.microphone, r.peak_dbfs
            ));
        }
    }

    /// A failure of the CLI itself.
    pub fn error(&self, e: &ClientError) {
        if self.json {
            self.line(
                &json!({"type": "cli_error", "kind": e.kind(), "message": e.to_string()})
                    .to_string(),
            );
        } else {
            self.line(&format!("Error: {e}"));
        }
    }

    /// The connection to the meeting server dropped and could not be got back.
    pub fn lost(&self, message: &str) {
        if self.json {
            self.line(
                &json!({"type": "cli_error", "kind": "connection_lost", "message": message})
                    .to_string(),
            );
        } else {
            self.line(&format!("Error: {message}"));
        }
    }

    /// The connection to the meeting server: `reconnecting` after a drop, `reconnected` once
    /// back in the same place.
    pub fn connection(&self, state: &str) {
        if self.json {
            self.line(&json!({"type": "connection", "state": state}).to_string());
        } else if state == "reconnecting" {
            self.line("Connection to the meeting server lost: reconnecting…");
        } else {
            self.line("Reconnected.");
        }
    }

    /// What end-to-end encryption reports: keys and security code, refusals, unreadable lines.
    pub fn e2ee(&self, event: &parley_client::e2ee::E2eeEvent) {
        use parley_client::e2ee::E2eeEvent as E;
        if self.json {
            let v = match event {
                E::Secured {
                    epoch,
                    code,
                    members,
                } => json!({"type": "e2ee", "state": "secured", "epoch": epoch,
                            "code": code.to_string(), "members": members}),
                E::Refused(message) => {
                    json!({"type": "e2ee", "state": "refused", "message": message})
                }
                E::Removed => json!({"type": "e2ee", "state": "removed"}),
                // Shown as the server showed reactions before they were sealed.
                E::Reaction { from, reaction } => {
                    json!({"type": "reacted", "id": from, "reaction": reaction})
                }
                E::Hand { from, raised } => {
                    json!({"type": "hand", "id": from, "raised": raised})
                }
                E::File(f) => file_json(f),
                // Printed with the notes themselves (`Printer::notes`).
                E::NotesChanged => return,
                E::Poll(poll) => {
                    let mut v = json!({"type": "poll"});
                    if let (Some(o), Ok(serde_json::Value::Object(p))) =
                        (v.as_object_mut(), serde_json::to_value(poll))
                    {
                        o.extend(p);
                    }
                    v
                }
                E::Unreadable { from } => {
                    json!({"type": "e2ee", "state": "unreadable", "from": from})
                }
                E::Problem(message) => {
                    json!({"type": "e2ee", "state": "problem", "message": message})
                }
            };
            self.line(&v.to_string());
            return;
        }
        let text = match event {
            E::Secured { code, members, .. } => format!(
                "End-to-end encrypted among {members}. Security code: {code} (compare it with the others)"
            ),
            E::Refused(message) => format!("Encryption: {message}"),
            E::Removed => "Encryption: you are no longer in the meeting's encryption group.".into(),
            E::Unreadable { from } => {
                format!(
                    "A message from {} could not be decrypted.",
                    self.who_is(*from)
                )
            }
            E::Problem(message) => format!("Encryption problem: {message}"),
            E::Reaction { from, reaction } => {
                format!("{} reacted {:?}", self.who_is(*from), reaction)
            }
            E::Hand { from, raised } => format!(
                "{} {} their hand",
                self.who_is(*from),
                if *raised { "raised" } else { "lowered" }
            ),
            E::Poll(p) => self.poll_text(p),
            E::File(f) => self.file_text(f),
            E::NotesChanged => return,
        };
        self.line(&text);
    }

    /// The shared notes and whiteboard, after a change (or when asked: `full`).
    pub fn notes(&self, notes: &parley_client::notes::Notes, full: bool) {
        let text = notes.text();
        let strokes = notes.strokes();
        if self.json {
            self.line(
                &json!({"type": "notes", "version": notes.version(), "text": text,
                        "strokes": strokes})
                .to_string(),
            );
        } else if full {
            self.line(&format!(
                "Shared notes ({} strokes on the whiteboard):",
                strokes.len()
            ));
            for l in text.lines() {
                self.line(&format!("  {}", inert(l)));
            }
        } else {
            self.line(&format!(
                "The shared notes changed ({} characters, {} strokes); type notes to read them.",
                text.chars().count(),
                strokes.len()
            ));
        }
    }

    /// A recording of ours ended: the files it wrote.
    pub fn recorded(&self, files: &[std::path::PathBuf]) {
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        if self.json {
            self.line(&json!({"type": "recorded", "files": files}).to_string());
        } else if files.is_empty() {
            self.line("The recording ended; nothing was received to record.");
        } else {
            self.line(&format!("The recording ended: {}", files.join(", ")));
        }
    }

    /// A received file was saved.
    pub fn file_saved(&self, transfer: parley_proto::TransferId, path: &std::path::Path) {
        if self.json {
            self.line(
                &json!({"type": "file_saved", "transfer": transfer, "path": path.display().to_string()})
                    .to_string(),
            );
        } else {
            self.line(&format!("File #{transfer} saved as {}", path.display()));
        }
    }

    /// A file event, for a person.
    fn file_text(&self, f: &parley_client::files::FileEvent) -> String {
        use parley_client::files::FileEvent as F;
        let risky = |r: bool| {
            if r {
                " — this kind of file can run a program: open it only if you trust it"
            } else {
                ""
            }
        };
        match f {
            F::Offered {
                transfer,
                from,
                name,
                size,
            } => format!(
                "{} is sending you {:?} ({size} bytes), file #{transfer}{}",
                self.who_is(*from),
                name.name,
                risky(name.risky)
            ),
            F::Sending {
                transfer,
                name,
                size,
            } => format!("Sending {name:?} ({size} bytes) as file #{transfer}…"),
            F::Progress {
                transfer,
                done,
                size,
            } => format!("File #{transfer}: {} %", done * 100 / (*size).max(1)),
            F::Received {
                transfer,
                name,
                data,
                ..
            } => format!(
                "File #{transfer} {:?} arrived ({} bytes). Save it with: save-file {transfer} PATH{}",
                name.name,
                data.len(),
                risky(name.risky)
            ),
            F::Sent { transfer } => format!("File #{transfer} sent."),
            F::Failed { transfer, reason } => format!("File #{transfer}: {reason}"),
        }
    }

    /// A poll, as lines for a person: the question, the options (with counts when known).
    fn poll_text(&self, p: &parley_client::polls::Poll) -> String {
        let state = if p.open { "open" } else { "closed" };
        let kind = match (p.anonymous, p.multiple) {
            (true, true) => "anonymous, several choices",
            (true, false) => "anonymous, one choice",
            (false, true) => "named, several choices",
            (false, false) => "named, one choice",
        };
        let mut text = format!(
            "Poll #{} by {} ({kind}, {state}): {}",
            p.id,
            self.who_is(p.by),
            p.question
        );
        for (i, o) in p.options.iter().enumerate() {
            let count = p
                .counts
                .as_ref()
                .and_then(|c| c.get(i))
                .map(|n| format!(" — {n}"))
                .unwrap_or_default();
            let mine = if p.my_vote.as_ref().is_some_and(|v| v.contains(&(i as u8))) {
                " (your vote)"
            } else {
                ""
            };
            text.push_str(&format!("\n  {}. {o}{count}{mine}", i + 1));
        }
        if p.open && p.my_vote.is_none() {
            text.push_str(&format!("\n  Vote with: vote {} N", p.id));
        }
        text
    }

    /// A note for the person at the terminal.
    pub fn note(&self, text: &str) {
        if self.json {
            self.line(&json!({"type": "note", "message": text}).to_string());
        } else {
            self.line(text);
        }
    }

    /// What this participant receives, by sending participant, with the frame rate and
    /// bitrate since the last call (or the one before, if the last was under a second ago).
    pub fn media(&mut self, stats: &BTreeMap<String, RemoteMedia>) {
        let now = std::time::Instant::now();
        // Rates over at least a second: against the newest earlier figures that old.
        let last = self
            .media_history
            .iter()
            .rev()
            .find(|(t, _)| now.duration_since(*t).as_secs_f64() >= 1.0)
            .cloned();
        self.media_history.push_back((now, stats.clone()));
        if self.media_history.len() > 2 {
            self.media_history.pop_front();
        }
        let secs = last
            .as_ref()
            .map_or(0.0, |(t, _)| now.duration_since(*t).as_secs_f64());
        let prev = |who: &str| last.as_ref().and_then(|(_, m)| m.get(who));
        if self.json {
            let from: serde_json::Map<String, serde_json::Value> = stats
                .iter()
                .map(|(who, s)| {
                    let mut v = serde_json::to_value(s).unwrap_or_default();
                    if let (Some(o), true) = (v.as_object_mut(), last.is_some()) {
                        let (fps, kbps) = rates(prev(who), s, secs);
                        o.insert("fps".into(), json!((fps * 10.0).round() / 10.0));
                        o.insert("kbps".into(), json!(kbps.round()));
                    }
                    (who.clone(), v)
                })
                .collect();
            self.line(&json!({"type": "media", "from": from}).to_string());
            return;
        }
        let ms = |v: Option<u32>| v.map_or("?".into(), |l| l.to_string());
        for (who, s) in stats {
            let (fps, kbps) = rates(prev(who), s, secs);
            let name = who
                .parse::<u32>()
                .map(|n| self.who_is(ParticipantId(n)))
                .unwrap_or_else(|_| who.clone());
            let loss = if s.video_packets_expected == 0 {
                0.0
            } else {
                100.0 * s.video_packets_lost as f64 / s.video_packets_expected as f64
            };
            self.line(&format!(
                "media from {name}: video {} {fps:.1} fps {kbps:.0} kbit/s, {} frames decoded, \
                 {loss:.1} % packets lost, latency {}/{} ms (p50/p99), longest freeze {} ms; \
                 audio {:.1} s ({} ms concealed), tone of {}, latency {} ms",
                s.video_size.as_deref().unwrap_or("-"),
                s.video_frames,
                ms(s.video_latency_p50_ms),
                ms(s.video_latency_p99_ms),
                s.longest_freeze_ms,
                s.audio_ms as f64 / 1000.0,
                s.audio_concealed_ms,
                s.tone_of
                    .map_or("nobody".into(), |n| self.who_is(ParticipantId(n))),
                ms(s.audio_latency_p50_ms),
            ));
        }
    }

    /// Who is here and who waits.
    pub fn who(&self) {
        if self.json {
            let list = |m: &BTreeMap<ParticipantId, String>| {
                m.iter()
                    .map(|(id, n)| json!({"id": id, "name": n}))
                    .collect::<Vec<_>>()
            };
            self.line(
                &json!({"type": "who", "participants": list(&self.names), "waiting": list(&self.waiting)})
                    .to_string(),
            );
            return;
        }
        self.line(&format!("In the meeting ({}):", self.names.len()));
        for id in self.names.keys() {
            self.line(&format!("  {}", self.who_is(*id)));
        }
        if !self.waiting.is_empty() {
            self.line(&format!("Waiting ({}):", self.waiting.len()));
            for (id, n) in &self.waiting {
                self.line(&format!("  {n} #{id}"));
            }
        }
    }

    /// A message from the server.
    pub fn event(&mut self, m: &ServerMessage) {
        self.track(m);
        if self.json {
            let text = match m {
                // The secret goes to the --save file only.
                ServerMessage::HostSecret { .. } => json!({"type": "host_secret"}).to_string(),
                // Session descriptions are long and only for the media engine: an offer is
                // shown by its m-lines (what tracks come or go), without addresses or keys.
                ServerMessage::SdpOffer { sdp } => {
                    json!({"type": "sdp_offer", "media": media_lines(sdp)}).to_string()
                }
                ServerMessage::SdpAnswer { .. } => json!({"type": "sdp_answer"}).to_string(),
                // Group key material is long and only for the E2EE engine.
                ServerMessage::MlsKeyPackage { .. }
                | ServerMessage::MlsKeyPackages { .. }
                | ServerMessage::MlsCommit { .. }
                | ServerMessage::MlsCommitResult { .. }
                | ServerMessage::MlsWelcome { .. }
                | ServerMessage::MlsFound {} => return,
                other => other.encode(),
            };
            self.line(&text);
            return;
        }
        if let Some(text) = self.describe(m) {
            self.line(&text);
        }
    }

    fn track(&mut self, m: &ServerMessage) {
        match m {
            // Another meeting on the server: its own numbers and names.
            ServerMessage::Moved { .. } => {
                self.me = None;
                self.names.clear();
                self.waiting.clear();
            }
            ServerMessage::Joined { you, waiting, .. } => {
                self.me = Some(*you);
                for w in waiting {
                    self.waiting.insert(w.id, w.name.as_str().to_string());
                }
            }
            ServerMessage::ParticipantsJoined { participants, .. } => {
                for p in participants {
                    self.waiting.remove(&p.id);
                    self.names.insert(p.id, p.name.as_str().to_string());
                }
            }
            ServerMessage::WaitingJoined { waiting } => {
                self.waiting
                    .insert(waiting.id, waiting.name.as_str().to_string());
            }
            ServerMessage::Renamed { id, name } => {
                self.names.insert(*id, name.as_str().to_string());
            }
            _ => {}
        }
    }

    fn describe(&mut self, m: &ServerMessage) -> Option<String> {
        use ServerMessage as S;
        Some(match m {
            S::Welcome { .. } | S::SdpOffer { .. } | S::SdpAnswer { .. } | S::SendLayers { .. } => {
                return None;
            }
            S::Waiting {
                title,
                host_present,
                recording,
            } => {
                let recorded = if *recording {
                    " REC — someone in this meeting is recording it."
                } else {
                    ""
                };
                if *host_present {
                    format!(
                        "Waiting for the host to let you in to “{}”…{recorded}",
                        title.as_str()
                    )
                } else {
                    format!(
                        "Waiting for the host of “{}”, who is not here yet…{recorded}",
                        title.as_str()
                    )
                }
            }
            S::Recording { id, on } => {
                if *on {
                    format!("REC — {} is recording this meeting", self.who_is(*id))
                } else {
                    format!("{} stopped recording", self.who_is(*id))
                }
            }
            S::Moved { room: Some(n), .. } => format!(
                "You are in breakout room {n} (its own encryption and media); type breakout return to go back"
            ),
            S::Moved { room: None, .. } => "You are back in the main meeting".into(),
            S::Breakouts { rooms, .. } if rooms.is_empty() => {
                "The breakout rooms are closed".into()
            }
            S::Breakouts {
                rooms,
                ends_in_secs,
                closing_in_secs,
            } => {
                let mut t = format!("Breakout rooms: {}", rooms.len());
                for (i, r) in rooms.iter().enumerate() {
                    let who: Vec<String> = r.iter().map(|id| self.who_is(*id)).collect();
                    let _ = write!(t, "; room {}: {}", i + 1, who.join(", "));
                }
                if let Some(s) = closing_in_secs {
                    let _ = write!(t, " (closing in {s} s)");
                } else if let Some(s) = ends_in_secs {
                    let _ = write!(t, " (open {} more minutes)", s.div_ceil(60));
                }
                t
            }
            S::BreakoutClosing { in_secs } => {
                format!("The breakout rooms close: everyone returns in {in_secs} s")
            }
            S::BreakoutBroadcast { body } => format!("To all rooms: {}", inert(body)),
            S::Joined {
                title, role, you, ..
            } => format!(
                "You are in “{}” as {} (#{you}). Type help for commands.",
                title.as_str(),
                role_name(*role)
            ),
            S::Refused { message, .. } => format!("Could not join: {message}"),
            S::Goodbye { message, .. } => message.clone(),
            S::Error { message, .. } => format!("Refused: {message}"),
            S::ParticipantsJoined {
                participants,
                announce,
            } => {
                if !announce {
                    return None;
                }
                let names: Vec<String> = participants.iter().map(|p| self.who_is(p.id)).collect();
                format!("{} joined", names.join(", "))
            }
            S::ParticipantLeft { id, reason, .. } => {
                let who = self.who_is(*id);
                self.names.remove(id);
                match reason {
                    parley_proto::LeaveReason::Removed => format!("{who} was removed"),
                    parley_proto::LeaveReason::Disconnected => format!("{who} lost connection"),
                    parley_proto::LeaveReason::Left => format!("{who} left"),
                }
            }
            S::WaitingJoined { waiting } => format!(
                "{} is waiting to join (admit {} / deny {})",
                waiting.name.as_str(),
                waiting.id,
                waiting.id
            ),
            S::WaitingLeft { ids } => {
                let who: Vec<String> = ids.iter().map(|id| self.who_is(*id)).collect();
                for id in ids {
                    self.waiting.remove(id);
                }
                format!("No longer waiting: {}", who.join(", "))
            }
            S::RoleChanged { id, role } => {
                format!("{} is now {}", self.who_is(*id), role_name(*role))
            }
            S::HostSecret { .. } => "You are now the host.".into(),
            S::PolicyChanged { policy } => format!(
                "Settings changed: {}",
                serde_json::to_string(policy).unwrap_or_default()
            ),
            S::LockChanged { locked } => {
                if *locked {
                    "The meeting is locked: nobody new can join.".into()
                } else {
                    "The meeting is unlocked.".into()
                }
            }
            S::PasscodeChanged { has_passcode } => {
                if *has_passcode {
                    "A passcode is now required.".into()
                } else {
                    "The passcode was removed.".into()
                }
            }
            S::Chat { from, to, body } => {
                let body = inert(body);
                match to {
                    Some(_) => format!("{} (privately): {body}", self.who_is(*from)),
                    None => format!("{}: {body}", self.who_is(*from)),
                }
            }
            // Sealed content is opened (and printed) by the E2EE layer.
            S::Sealed { .. } => return None,
            // Who speaks changes every few seconds: for the app's speaker view, not a line here.
            S::Speaker { .. } => return None,
            S::Renamed { id, name } => format!("#{id} is now called {}", name.as_str()),
            S::Muted {
                id, muted, by_host, ..
            } => format!(
                "{} {}{}",
                self.who_is(*id),
                if *muted { "muted" } else { "unmuted" },
                if *by_host { " by a host" } else { "" }
            ),
            S::AllMuted { by } => format!("{} muted everyone", self.who_is(*by)),
            S::UnmuteRequested { by } => {
                format!("{} asks you to unmute (type unmute)", self.who_is(*by))
            }
            S::Stage { id, on, by } => format!(
                "{} {} {} the stage",
                self.who_is(*by),
                if *on { "put" } else { "took" },
                format_args!("{} {}", self.who_is(*id), if *on { "on" } else { "off" })
            ),
            S::Away { id, away: true } => format!(
                "{} lost their connection (their place is kept while they reconnect)",
                self.who_is(*id)
            ),
            S::Away { id, away: false } => format!("{} is back", self.who_is(*id)),
            S::ScreenShare { id, sharing } => format!(
                "{} {} sharing their screen",
                self.who_is(*id),
                if *sharing { "started" } else { "stopped" }
            ),
            S::FileOffer { from, body, .. } => {
                format!("{} offers a file: {body}", self.who_is(*from))
            }
            other => format!("({})", type_name(other)),
        })
    }
}

/// The m-lines of a session description, in order, for `--json`: each one's kind (`audio`,
/// `video`), `mid`, direction (`sendonly` and so on; `sendrecv` when none is given), the stream
/// id of its `msid` (for the SFU's slots, `voices` or `video`; `null` if none),
/// and whether it is stopped (port 0). Nothing else: no addresses, keys or fingerprints.
fn media_lines(sdp: &str) -> Vec<serde_json::Value> {
    const DIRECTIONS: [&str; 4] = ["sendrecv", "sendonly", "recvonly", "inactive"];
    let mut session_direction = "sendrecv";
    let mut lines: Vec<serde_json::Value> = Vec::new();
    for line in sdp.lines().map(str::trim_end) {
        if let Some(rest) = line.strip_prefix("m=") {
            let mut fields = rest.split_whitespace();
            let kind = fields.next().unwrap_or_default();
            let stopped = fields.next() == Some("0");
            lines.push(json!({
                "kind": kind,
                "mid": null,
                "direction": session_direction,
                "stream": null,
                "stopped": stopped,
            }));
            continue;
        }
        let Some(attribute) = line.strip_prefix("a=") else {
            continue;
        };
        let direction = DIRECTIONS.iter().find(|d| **d == attribute);
        match lines.last_mut() {
            None => {
                if let Some(d) = direction {
                    session_direction = d;
                }
            }
            Some(m) => {
                if let Some(d) = direction {
                    m["direction"] = json!(d);
                } else if let Some(mid) = attribute.strip_prefix("mid:") {
                    m["mid"] = json!(mid);
                } else if let Some(msid) = attribute.strip_prefix("msid:") {
                    m["stream"] = json!(msid.split_whitespace().next());
                }
            }
        }
    }
    lines
}

/// Text from other people, made harmless for a terminal: control characters (which could move
/// the cursor, retitle the window or fake other lines) are shown as `�`.
fn inert(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

fn role_name(r: parley_proto::Role) -> &'static str {
    match r {
        parley_proto::Role::Host => "host",
        parley_proto::Role::Cohost => "co-host",
        parley_proto::Role::Participant => "participant",
    }
}

/// A file event as one JSON line (a received file's content stays out of it).
fn file_json(f: &parley_client::files::FileEvent) -> serde_json::Value {
    use parley_client::files::FileEvent as F;
    match f {
        F::Offered {
            transfer,
            from,
            name,
            size,
        } => json!({"type": "file_offered", "transfer": transfer, "from": from,
                    "name": name.name, "risky": name.risky, "size": size}),
        F::Sending {
            transfer,
            name,
            size,
        } => json!({"type": "file_sending", "transfer": transfer, "name": name, "size": size}),
        F::Progress {
            transfer,
            done,
            size,
        } => json!({"type": "file_progress", "transfer": transfer, "done": done, "size": size}),
        F::Received {
            transfer,
            from,
            name,
            data,
        } => json!({"type": "file_received", "transfer": transfer, "from": from,
                    "name": name.name, "risky": name.risky, "size": data.len()}),
        F::Sent { transfer } => json!({"type": "file_sent", "transfer": transfer}),
        F::Failed { transfer, reason } => {
            json!({"type": "file_failed", "transfer": transfer, "reason": reason})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_control_sequences_in_chat_are_inert() {
        let hostile = "hi\u{1b}]0;pwned\u{7}\r\nHost: fake line";
        let shown = inert(hostile);
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.contains("fake line"));
    }

    #[test]
    fn an_offer_is_shown_by_its_m_lines_without_addresses() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 192.0.2.7\r\na=mid:0\r\n\
                   a=recvonly\r\na=candidate:1 1 udp 2130706431 192.0.2.7 5000 typ host\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\n\
                   a=msid:2 track-v\r\n\
                   m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\na=inactive\r\n\
                   a=msid:3 track-a\r\n";
        let media = media_lines(sdp);
        assert_eq!(
            media,
            vec![
                json!({"kind": "audio", "mid": "0", "direction": "recvonly", "stream": null, "stopped": false}),
                json!({"kind": "video", "mid": "1", "direction": "sendonly", "stream": "2", "stopped": false}),
                json!({"kind": "audio", "mid": "2", "direction": "inactive", "stream": "3", "stopped": true}),
            ]
        );
        assert!(!json!(media).to_string().contains("192.0.2.7"));
        // A direction at session level holds for m-lines that give none.
        let media = media_lines("v=0\r\na=inactive\r\nm=video 9 RTP/SAVPF 96\r\na=mid:v\r\n");
        assert_eq!(media[0]["direction"], "inactive");
    }
}

//! What the UI shows of a meeting, kept from the server's messages. Pure: a [`MeetingModel`]
//! takes each [`ServerMessage`] and says what changed; the session loop sends that to the UI.
//! The room token never enters the model: the UI cannot show what it never gets.

use std::collections::HashMap;

use parley_proto::{
    GoodbyeReason, ParticipantInfo, Policy, Reaction, Role, ServerMessage, ShareRule,
};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, kind_name};

/// Where this app is in a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Connecting to the server.
    Connecting,
    /// In the waiting room, until a host admits us.
    Waiting,
    /// Admitted.
    InMeeting,
    /// The meeting is over for us (left, removed, denied, ended, connection lost).
    Ended,
}

/// A participant's role, as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum RoleView {
    /// Runs the meeting.
    Host,
    /// Helps run it.
    Cohost,
    /// Takes part.
    Participant,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        match r {
            Role::Host => RoleView::Host,
            Role::Cohost => RoleView::Cohost,
            _ => RoleView::Participant,
        }
    }
}

/// Someone in the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct Person {
    /// Their participant number in this meeting (also the id of their video tile).
    pub id: u32,
    /// Display name, as they chose it (render as text).
    pub name: String,
    /// Role.
    pub role: RoleView,
    /// Microphone muted.
    pub muted: bool,
    /// Hand raised.
    pub hand_raised: bool,
    /// While the hand is up: when it went up here, as a number that only grows (hosts call
    /// on hands in this order).
    pub hand_order: Option<u32>,
    /// Sharing their screen.
    pub sharing: bool,
    /// On the stage: in event mode they may be heard and seen (a host put them there).
    pub on_stage: bool,
    /// Their connection dropped; the server keeps their place while they reconnect.
    pub away: bool,
    /// Joined from a web browser (the server's guest page), not the app.
    pub browser: bool,
    /// Recording the meeting on their computer (the server announced it).
    pub recording: bool,
    /// Why their media cannot be decrypted right now ("can't decrypt — waiting for keys"),
    /// shown on their tile instead of a black picture.
    pub decrypt_problem: Option<String>,
    /// Heard speaking just now (from the audio as it is played).
    pub speaking: bool,
    /// How loud they are for this listener, 0–200 % (only this app knows; nobody else is told).
    pub volume: u16,
    /// Silenced for this listener only.
    pub muted_for_me: bool,
}

/// The meeting's end-to-end encryption, as the privacy panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct SecurityView {
    /// The security code: four groups of five digits, the same on every honest screen.
    pub code: String,
    /// People in the encryption group.
    pub members: u32,
}

impl From<&ParticipantInfo> for Person {
    fn from(p: &ParticipantInfo) -> Self {
        Person {
            id: p.id.0,
            name: p.name.as_str().to_string(),
            role: p.role.into(),
            muted: p.muted,
            // Hands travel sealed (end to end); the server's roster does not know them.
            hand_raised: false,
            hand_order: None,
            sharing: p.sharing,
            on_stage: p.on_stage,
            away: p.away,
            browser: p.browser,
            recording: p.recording,
            decrypt_problem: None,
            speaking: false,
            volume: 100,
            muted_for_me: false,
        }
    }
}

/// Someone in the waiting room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct Waiter {
    /// Their number.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Knocks from a web browser.
    pub browser: bool,
}

/// The meeting's switches, as the host menu shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct PolicyView {
    /// Newcomers wait until admitted.
    pub waiting_room: bool,
    /// Chat allowed.
    pub chat: bool,
    /// Private messages allowed.
    pub private_chat: bool,
    /// Participants may rename themselves.
    pub rename: bool,
    /// Participants may unmute themselves.
    pub unmute_self: bool,
    /// Everyone may share the screen (else hosts only).
    pub screen_share_everyone: bool,
    /// File transfer allowed.
    pub file_transfer: bool,
    /// Participants may save the chat.
    pub save_chat: bool,
    /// Event mode: only hosts, co-hosts and those on the stage may be heard and seen.
    pub event_mode: bool,
    /// Participants may record the meeting on their computer (everyone is told who does).
    pub recording: bool,
    /// Only hosts and co-hosts may change the shared notes and whiteboard.
    pub notes_locked: bool,
    /// Most participants.
    pub capacity: u32,
}

impl From<&Policy> for PolicyView {
    fn from(p: &Policy) -> Self {
        PolicyView {
            waiting_room: p.waiting_room,
            chat: p.chat,
            private_chat: p.private_chat,
            rename: p.rename,
            unmute_self: p.unmute_self,
            screen_share_everyone: p.screen_share == ShareRule::Everyone,
            file_transfer: p.file_transfer,
            save_chat: p.save_chat,
            event_mode: p.event_mode,
            recording: p.recording,
            notes_locked: p.notes_locked,
            capacity: p.capacity,
        }
    }
}

/// Everything the meeting screen draws, sent whole whenever it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct MeetingView {
    /// Where we are.
    pub phase: Phase,
    /// The meeting's title (its only name in the UI).
    pub title: String,
    /// Our participant number, once admitted.
    pub you: Option<u32>,
    /// Our role, once admitted.
    pub role: Option<RoleView>,
    /// A host is in the meeting (shown in the waiting room).
    pub host_present: bool,
    /// Someone in the meeting records it (told in the waiting room, before entering; in the
    /// meeting, the participants' `recording` say who).
    pub recorded_while_waiting: bool,
    /// The meeting is locked.
    pub locked: bool,
    /// A passcode is set.
    pub has_passcode: bool,
    /// The switches, once admitted.
    pub policy: Option<PolicyView>,
    /// Everyone admitted, us included, by number.
    pub participants: Vec<Person>,
    /// The waiting room (hosts and co-hosts see it).
    pub waiting: Vec<Waiter>,
    /// Why it ended (`removed`, `denied`, `meeting_ended`, `replaced`, `left`, `connection_lost`).
    pub ended_reason: Option<String>,
    /// What to tell the person about the end.
    pub ended_message: Option<String>,
    /// This computer hosts the meeting (the embedded server).
    pub hosted_here: bool,
    /// This app started the meeting and holds its invite link ("Copy invite link").
    pub invite_available: bool,
    /// End-to-end encryption, once this app has the group's keys.
    pub security: Option<SecurityView>,
    /// Why the participants could not add us to the encryption (a wrong link), if so.
    pub e2ee_refused: Option<String>,
    /// Who speaker view shows large: the last person heard speaking (it stays on them until
    /// someone else speaks).
    pub active_speaker: Option<u32>,
    /// The connection to the meeting server dropped and the app is getting it back (the
    /// meeting screen stays, marked "Reconnecting…").
    pub reconnecting: bool,
    /// The breakout room we are in (from 1); none: the main meeting.
    pub breakout: Option<u16>,
    /// Seconds until the breakout rooms close, as told when we were moved (the UI counts
    /// down from there).
    pub breakout_ends_in_secs: Option<u32>,
    /// The breakout rooms close: seconds until everyone is back, as last told.
    pub breakout_closing_in_secs: Option<u32>,
    /// (The main meeting) the breakout rooms while they are open.
    pub breakouts: Option<BreakoutsView>,
    /// What the meeting server sheds to keep every voice going when it is over its capacity
    /// (shown as a mark in the header while it does).
    pub server_shedding: ServerShedding,
}

/// What the meeting's media server sheds when over its capacity (PROTOCOL.md, Media 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ServerShedding {
    /// Nothing: every picture comes.
    #[default]
    None,
    /// Only the main pictures come (a presenter's, the speaker's, a spotlight); voices all.
    MainVideo,
    /// No pictures; voices all.
    VoicesOnly,
}

impl From<parley_proto::Shedding> for ServerShedding {
    fn from(s: parley_proto::Shedding) -> Self {
        match s {
            parley_proto::Shedding::None => ServerShedding::None,
            parley_proto::Shedding::MainVideo => ServerShedding::MainVideo,
            parley_proto::Shedding::VoicesOnly => ServerShedding::VoicesOnly,
        }
    }
}

/// The breakout rooms as the main meeting sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct BreakoutsView {
    /// Who is in each room (numbers in the main meeting), room 1 first.
    pub rooms: Vec<Vec<u32>>,
    /// Seconds until they close, if opened for a time (as last told).
    pub ends_in_secs: Option<u32>,
    /// Once closing: seconds until everyone is back (as last told).
    pub closing_in_secs: Option<u32>,
}

/// A chat message as the UI gets it. The body is plain text: the UI never interprets markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct ChatLine {
    /// Sender's number.
    pub from: u32,
    /// Sender's name at the time.
    pub from_name: String,
    /// Private to us (or, if we sent it, to this number).
    pub to: Option<u32>,
    /// The text.
    pub body: String,
}

/// A poll as the UI gets it: the question and options are plain text (the UI never
/// interprets markup); counts are live for hosts and co-hosts, for others once shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct PollView {
    /// Its number in the meeting.
    pub id: u32,
    /// Who opened it.
    pub by: u32,
    /// The question.
    pub question: String,
    /// The options, in order.
    pub options: Vec<String>,
    /// Several options may be chosen.
    pub multiple: bool,
    /// Votes reach the hosts without the voter.
    pub anonymous: bool,
    /// Votes are still counted.
    pub open: bool,
    /// The options we chose (indexes), once counted.
    pub my_vote: Option<Vec<u8>>,
    /// Votes per option, when known here.
    pub counts: Option<Vec<u32>>,
    /// How many voted.
    pub voters: u32,
    /// In a named poll, who chose what (hosts and co-hosts).
    pub named: Vec<NamedVote>,
    /// The results were shared with everyone.
    pub shared: bool,
}

/// One named vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct NamedVote {
    /// The voter's number.
    pub id: u32,
    /// The options they chose.
    pub choices: Vec<u8>,
}

impl From<&parley_client::polls::Poll> for PollView {
    fn from(p: &parley_client::polls::Poll) -> Self {
        PollView {
            id: p.id.0,
            by: p.by.0,
            question: p.question.clone(),
            options: p.options.clone(),
            multiple: p.multiple,
            anonymous: p.anonymous,
            open: p.open,
            my_vote: p.my_vote.clone(),
            counts: p.counts.clone(),
            voters: p.voters,
            named: p
                .named
                .iter()
                .map(|(id, choices)| NamedVote {
                    id: id.0,
                    choices: choices.clone(),
                })
                .collect(),
            shared: p.shared,
        }
    }
}

/// The shared notes and whiteboard as the UI gets them (plain text: the UI never interprets
/// markup in the notes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, specta::Type)]
pub struct NotesView {
    /// The notes' text (Markdown when exported).
    pub text: String,
    /// The whiteboard's strokes, oldest first.
    pub strokes: Vec<StrokeView>,
    /// Bumped at every change.
    pub version: u32,
}

/// One stroke on the whiteboard, in board units (0 to 10,000 on both axes, shown at 16:9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct StrokeView {
    /// Its number, to erase it by.
    pub id: u32,
    /// Colour, 0xRRGGBB.
    pub color: u32,
    /// Pen width in board units.
    pub width: u16,
    /// Its points, `[x, y]`.
    pub points: Vec<[u16; 2]>,
}

impl From<&parley_client::notes::Notes> for NotesView {
    fn from(n: &parley_client::notes::Notes) -> Self {
        NotesView {
            text: n.text(),
            strokes: n
                .strokes()
                .into_iter()
                .map(|s| StrokeView {
                    id: s.id,
                    color: s.color,
                    width: s.width,
                    points: s.points.into_iter().map(|(x, y)| [x, y]).collect(),
                })
                .collect(),
            version: u32::try_from(n.version()).unwrap_or(u32::MAX),
        }
    }
}

/// Something to tell the person once (a toast or a notification). Who it is about is a
/// participant number, never a name: names are not unique, and the UI finds the name to show
/// in the view it was sent just before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// Someone knocks (their number; the name is in the view's waiting list).
    SomeoneWaiting {
        /// Who.
        who: u32,
    },
    /// Everyone was muted.
    AllMuted {
        /// By whom.
        by: u32,
    },
    /// We were put on the stage: we may speak and be seen.
    StageOn {
        /// By whom.
        by: u32,
    },
    /// We were taken off the stage.
    StageOff {
        /// By whom.
        by: u32,
    },
    /// A host asks us to unmute.
    UnmuteRequested {
        /// Who asks.
        by: u32,
    },
    /// Someone reacted.
    Reaction {
        /// Who.
        who: u32,
        /// The reaction's wire name (`thumbs_up`, `clap`, …).
        reaction: String,
    },
    /// The server refused something we sent (the meeting goes on).
    Refused {
        /// Why, stable.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// A member would not add us to the encryption group.
    E2eeRefused {
        /// Why and what to do.
        message: String,
    },
    /// A chat line could not be read (sent before we joined, forged or garbled).
    ChatUnreadable {
        /// Who the server says sent it.
        from: u32,
    },
    /// A device could not be used (the meeting goes on without it).
    DeviceProblem {
        /// Which and why.
        problem: crate::devices::DeviceProblem,
    },
    /// The system's default device took over from one that went away.
    DeviceSwitched {
        /// `microphone` or `speaker`.
        device: String,
    },
    /// Audio or video failed; the meeting goes on without it.
    Media {
        /// Why.
        message: String,
    },
    /// Sharing ended: the shared window went away (no message), or capturing failed (why).
    ShareEnded {
        /// Why, when it was not the window closing.
        message: Option<String>,
    },
    /// Someone started recording the meeting on their computer (the UI shows a REC badge
    /// while anyone records, and plays a tone as a recording starts).
    RecordingStarted {
        /// Who records.
        by: u32,
    },
    /// Someone stopped recording (or the host switched recording off).
    RecordingStopped {
        /// Who.
        by: u32,
    },
    /// This app's recording ended: the files it wrote (in Downloads / Parley recordings).
    RecordingSaved {
        /// The files' paths.
        files: Vec<String>,
    },
    /// This app could not record.
    RecordingFailed {
        /// Why.
        message: String,
    },
    /// People joined the meeting (announced: the host's switch is on). The UI sums up many
    /// at once ("12 people joined").
    PeopleJoined {
        /// Their numbers.
        ids: Vec<u32>,
    },
    /// Someone left the meeting (announced).
    PersonLeft {
        /// Their number (the UI remembers the name it showed).
        id: u32,
    },
    /// We were moved into a breakout room (`room`, from 1) or back to the main meeting.
    Moved {
        /// The room; none: the main meeting.
        room: Option<u16>,
    },
    /// The breakout rooms close: everyone returns in `in_secs`.
    BreakoutClosing {
        /// Seconds.
        in_secs: u32,
    },
    /// A host's message to every breakout room (plain text, opened here).
    BreakoutMessage {
        /// The text.
        text: String,
    },
    /// Someone opened a poll (or showed us one opened before we came).
    PollOpened {
        /// The poll's number.
        poll: u32,
        /// Who opened it.
        by: u32,
    },
    /// Someone is sending us a file (it arrives by itself; nothing is saved unless we say).
    FileOffered {
        /// The transfer's number.
        transfer: u32,
        /// Who sends it.
        from: u32,
    },
    /// A file was not sent.
    FileNotSent {
        /// Why.
        reason: String,
    },
    /// A change to the shared notes or whiteboard was not made (the host locked them, or it
    /// is too large).
    NotesNotSent {
        /// Why.
        reason: String,
    },
    /// A poll, a vote or a poll's results were not sent.
    PollNotSent {
        /// Why.
        reason: String,
    },
    /// A chat line was not sent.
    ChatNotSent {
        /// Why.
        reason: String,
    },
    /// Our hand was not raised or lowered.
    HandNotSent {
        /// Why.
        reason: String,
    },
    /// A reaction was not sent.
    ReactionNotSent {
        /// Why.
        reason: String,
    },
    /// Another request was not sent.
    RequestNotSent {
        /// Why.
        reason: String,
    },
    /// A link opened from outside the app is not a meeting link; nothing connected.
    BadLink {
        /// What is wrong with it.
        code: ErrorCode,
        /// The same, in English.
        message: String,
    },
}

/// What one server message changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The view is different; send it again.
    View,
    /// A chat message arrived.
    Chat(ChatLine),
    /// A poll opened or changed.
    Poll(PollView),
    /// A file transfer began or changed.
    File(crate::files::FileView),
    /// Something to tell the person.
    Notice(Notice),
}

/// The meeting as this app knows it.
#[derive(Debug, Clone)]
pub struct MeetingModel {
    view: MeetingView,
    /// The server names the dominant speaker (`speaker` messages): speaker view follows it
    /// rather than what this app hears.
    speaker_from_server: bool,
    /// Across a reconnect: everyone as they were, for the volume and mute-for-me this
    /// listener set (by participant number, which a reconnect keeps).
    remembered: HashMap<u32, Person>,
    /// The order number the next raised hand gets.
    next_hand: u32,
}

impl MeetingModel {
    /// Before the server has answered. `invite_available`: this app started the meeting.
    pub fn new(hosted_here: bool, invite_available: bool) -> Self {
        MeetingModel {
            view: MeetingView {
                phase: Phase::Connecting,
                title: String::new(),
                you: None,
                role: None,
                host_present: false,
                recorded_while_waiting: false,
                locked: false,
                has_passcode: false,
                policy: None,
                participants: Vec::new(),
                waiting: Vec::new(),
                ended_reason: None,
                ended_message: None,
                hosted_here,
                invite_available,
                security: None,
                e2ee_refused: None,
                active_speaker: None,
                reconnecting: false,
                breakout: None,
                breakout_ends_in_secs: None,
                breakout_closing_in_secs: None,
                breakouts: None,
                server_shedding: ServerShedding::None,
            },
            speaker_from_server: false,
            remembered: HashMap::new(),
            next_hand: 0,
        }
    }

    /// The encryption group changed (keys, code, members); `None`: we have no keys.
    pub fn set_security(&mut self, security: Option<SecurityView>) -> Vec<Change> {
        if self.view.security == security {
            return Vec::new();
        }
        if security.is_some() {
            self.view.e2ee_refused = None;
        }
        self.view.security = security;
        vec![Change::View]
    }

    /// `id` raised or lowered their hand (a sealed message, opened; unknown ids change nothing).
    pub fn set_hand(&mut self, id: u32, raised: bool) -> Vec<Change> {
        match self.view.participants.iter_mut().find(|p| p.id == id) {
            Some(p) if p.hand_raised != raised => {
                p.hand_raised = raised;
                p.hand_order = raised.then_some(self.next_hand);
                self.next_hand += u32::from(raised);
                vec![Change::View]
            }
            _ => Vec::new(),
        }
    }

    /// How `id` is heard here: volume 0–200 % and mute-for-me (capped; unknown ids change
    /// nothing).
    pub fn set_listening(&mut self, id: u32, volume: u16, muted_for_me: bool) -> Vec<Change> {
        let volume = volume.min(parley_media::mixer::MAX_VOLUME_PERCENT);
        match self.view.participants.iter_mut().find(|p| p.id == id) {
            Some(p) if (p.volume, p.muted_for_me) != (volume, muted_for_me) => {
                p.volume = volume;
                p.muted_for_me = muted_for_me;
                vec![Change::View]
            }
            _ => Vec::new(),
        }
    }

    /// Who is speaking now (never us: we do not hear ourselves). The active speaker moves
    /// only when someone else speaks, so speaker view does not flicker in pauses.
    pub fn set_speaking(&mut self, ids: &[u32]) -> Vec<Change> {
        let you = self.view.you;
        let mut changed = false;
        for p in &mut self.view.participants {
            let now = Some(p.id) != you && ids.contains(&p.id);
            if p.speaking != now {
                p.speaking = now;
                changed = true;
            }
        }
        let current = self.view.active_speaker;
        let still = current.is_some_and(|c| ids.contains(&c));
        let present = |id: u32| self.view.participants.iter().any(|p| p.id == id);
        if self.speaker_from_server {
            // The server's choice stands; only someone who left is taken off the big tile.
            if current.is_some_and(|c| !present(c)) {
                self.view.active_speaker = None;
                changed = true;
            }
        } else if !still {
            if let Some(next) = ids
                .iter()
                .copied()
                .find(|id| Some(*id) != you && present(*id))
            {
                self.view.active_speaker = Some(next);
                changed = true;
            } else if current.is_some_and(|c| !present(c)) {
                self.view.active_speaker = None;
                changed = true;
            }
        }
        if changed {
            vec![Change::View]
        } else {
            Vec::new()
        }
    }

    /// Someone reacted (a sealed reaction, opened by the encryption layer).
    pub fn reacted(&self, id: u32, reaction: Reaction) -> Vec<Change> {
        vec![Change::Notice(Notice::Reaction {
            who: id,
            reaction: reaction_name(reaction),
        })]
    }

    /// The participants refused to add us to the encryption; the sentence says why.
    pub fn e2ee_refused(&mut self, message: String) -> Vec<Change> {
        self.view.e2ee_refused = Some(message);
        vec![Change::View]
    }

    /// Whose media cannot be decrypted, and why (everyone else's can).
    pub fn set_decrypt_problems(&mut self, problems: &[(u32, String)]) -> Vec<Change> {
        let mut changed = false;
        for p in &mut self.view.participants {
            let now = problems
                .iter()
                .find(|(id, _)| *id == p.id)
                .map(|(_, why)| why.clone());
            if p.decrypt_problem != now {
                p.decrypt_problem = now;
                changed = true;
            }
        }
        if changed {
            vec![Change::View]
        } else {
            Vec::new()
        }
    }

    /// What the UI draws.
    pub fn view(&self) -> &MeetingView {
        &self.view
    }

    /// Whether this participant may be heard and seen: not in event mode's audience (hosts,
    /// co-hosts and those on the stage may).
    pub fn may_send(&self) -> bool {
        let v = &self.view;
        let me = v
            .you
            .and_then(|you| v.participants.iter().find(|p| p.id == you));
        !v.policy.as_ref().is_some_and(|p| p.event_mode)
            || v.role != Some(RoleView::Participant)
            || me.is_some_and(|p| p.on_stage)
    }

    /// The display name of participant `id`, if known.
    pub fn name_of(&self, id: u32) -> Option<&str> {
        self.view
            .participants
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.as_str())
    }

    fn person_mut(&mut self, id: u32) -> Option<&mut Person> {
        self.view.participants.iter_mut().find(|p| p.id == id)
    }

    fn named(&self, id: u32) -> Option<String> {
        self.name_of(id).map(str::to_string)
    }

    /// The connection dropped; the app tries to get it back.
    pub fn reconnecting(&mut self) -> Vec<Change> {
        if self.view.phase == Phase::Ended || self.view.reconnecting {
            return Vec::new();
        }
        self.view.reconnecting = true;
        vec![Change::View]
    }

    /// Back on a new connection, answered with `first` (`joined` or `waiting`): the roster,
    /// the waiting list and the speaker come again from the server; what only this app knows
    /// (volumes, mute-for-me, raised hands) stays with those still there.
    pub fn reconnected(&mut self, first: &ServerMessage) -> Vec<Change> {
        let v = &mut self.view;
        v.reconnecting = false;
        v.waiting.clear();
        // A new connection is a new member of the encryption group: no keys, and so no
        // security code, until a member has added us again.
        v.security = None;
        v.active_speaker = None;
        self.speaker_from_server = false;
        // The roster that follows `joined` lists everyone now there; what this listener set
        // for each of them is put back as they are listed (see `ParticipantsJoined`).
        self.remembered = std::mem::take(&mut v.participants)
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let mut changes = self.apply(first);
        if !changes.contains(&Change::View) {
            changes.push(Change::View);
        }
        changes
    }

    /// The connection is gone for good (coming back failed or was refused): the meeting ends
    /// here with `message`.
    pub fn connection_refused(&mut self, message: &str) -> Vec<Change> {
        self.view.reconnecting = false;
        self.end("connection_lost", message)
    }

    /// The person left while the connection was down (the server lets their place go on its
    /// own).
    pub fn left(&mut self) -> Vec<Change> {
        self.view.reconnecting = false;
        self.end("left", "You left the meeting.")
    }

    /// The connection ended without a goodbye.
    pub fn connection_lost(&mut self) -> Vec<Change> {
        if self.view.phase == Phase::Ended {
            return Vec::new();
        }
        self.end(
            "connection_lost",
            "The connection to the meeting server was lost. Rejoin with the same link.",
        )
    }

    fn end(&mut self, reason: &str, message: &str) -> Vec<Change> {
        self.view.phase = Phase::Ended;
        self.view.ended_reason = Some(reason.to_string());
        self.view.ended_message = Some(message.to_string());
        vec![Change::View]
    }

    /// Take one message from the server.
    pub fn apply(&mut self, msg: &ServerMessage) -> Vec<Change> {
        let v = &mut self.view;
        match msg {
            // Another meeting on the server (a breakout room, or the main one again): its
            // own people, numbers and keys come with the `joined` that follows.
            ServerMessage::Moved { room, ends_in_secs } => {
                v.participants.clear();
                v.waiting.clear();
                v.security = None;
                v.active_speaker = None;
                v.breakout = *room;
                v.breakout_ends_in_secs = *ends_in_secs;
                v.breakout_closing_in_secs = None;
                self.speaker_from_server = false;
                self.remembered.clear();
                return vec![Change::View, Change::Notice(Notice::Moved { room: *room })];
            }
            ServerMessage::Breakouts {
                rooms,
                ends_in_secs,
                closing_in_secs,
            } => {
                v.breakouts = (!rooms.is_empty()).then(|| BreakoutsView {
                    rooms: rooms
                        .iter()
                        .map(|r| r.iter().map(|p| p.0).collect())
                        .collect(),
                    ends_in_secs: *ends_in_secs,
                    closing_in_secs: *closing_in_secs,
                });
            }
            ServerMessage::BreakoutClosing { in_secs } => {
                v.breakout_closing_in_secs = Some(*in_secs);
                return vec![
                    Change::View,
                    Change::Notice(Notice::BreakoutClosing { in_secs: *in_secs }),
                ];
            }
            ServerMessage::BreakoutBroadcast { body } => {
                return vec![Change::Notice(Notice::BreakoutMessage {
                    text: body.clone(),
                })];
            }
            ServerMessage::Waiting {
                title,
                host_present,
                recording,
            } => {
                v.phase = Phase::Waiting;
                v.title = title.as_str().to_string();
                v.host_present = *host_present;
                v.recorded_while_waiting = *recording;
            }
            ServerMessage::Joined {
                you,
                role,
                title,
                policy,
                locked,
                has_passcode,
                waiting,
                ..
            } => {
                v.phase = Phase::InMeeting;
                v.you = Some(you.0);
                v.role = Some((*role).into());
                v.title = title.as_str().to_string();
                v.policy = Some(policy.into());
                v.locked = *locked;
                v.has_passcode = *has_passcode;
                v.host_present = true;
                v.waiting = waiting
                    .iter()
                    .map(|w| Waiter {
                        id: w.id.0,
                        name: w.name.as_str().to_string(),
                        browser: w.browser,
                    })
                    .collect();
            }
            ServerMessage::Refused { kind, message, .. } => {
                return self.end(&kind_name(kind), message);
            }
            ServerMessage::Goodbye { reason, message } => {
                let reason = match reason {
                    GoodbyeReason::Removed => "removed",
                    GoodbyeReason::Denied => "denied",
                    GoodbyeReason::MeetingEnded => "meeting_ended",
                    GoodbyeReason::Replaced => "replaced",
                    _ => "left",
                };
                return self.end(reason, message);
            }
            ServerMessage::Error {
                kind,
                message,
                fatal,
            } => {
                if *fatal {
                    return self.end(&kind_name(kind), message);
                }
                return vec![Change::Notice(Notice::Refused {
                    code: ErrorCode::server(*kind),
                    message: message.clone(),
                })];
            }
            ServerMessage::ParticipantsJoined {
                participants,
                announce,
            } => {
                let you = v.you;
                let announced: Vec<u32> = participants
                    .iter()
                    .map(|p| p.id.0)
                    .filter(|id| *announce && Some(*id) != you)
                    .collect();
                for p in participants {
                    let mut person = Person::from(p);
                    match v.participants.iter_mut().find(|q| q.id == person.id) {
                        Some(q) => {
                            person.decrypt_problem = q.decrypt_problem.take();
                            person.speaking = q.speaking;
                            person.volume = q.volume;
                            person.muted_for_me = q.muted_for_me;
                            person.hand_raised = q.hand_raised;
                            person.hand_order = q.hand_order;
                            *q = person;
                        }
                        None => {
                            if let Some(q) = self.remembered.remove(&person.id) {
                                person.volume = q.volume;
                                person.muted_for_me = q.muted_for_me;
                            }
                            v.participants.push(person);
                        }
                    }
                }
                v.participants.sort_by_key(|p| p.id);
                if !announced.is_empty() {
                    return vec![
                        Change::View,
                        Change::Notice(Notice::PeopleJoined { ids: announced }),
                    ];
                }
            }
            ServerMessage::ParticipantLeft { id, announce, .. } => {
                v.participants.retain(|p| p.id != id.0);
                if *announce {
                    return vec![
                        Change::View,
                        Change::Notice(Notice::PersonLeft { id: id.0 }),
                    ];
                }
            }
            ServerMessage::WaitingJoined { waiting } => {
                if !v.waiting.iter().any(|w| w.id == waiting.id.0) {
                    v.waiting.push(Waiter {
                        id: waiting.id.0,
                        name: waiting.name.as_str().to_string(),
                        browser: waiting.browser,
                    });
                }
                return vec![
                    Change::View,
                    Change::Notice(Notice::SomeoneWaiting { who: waiting.id.0 }),
                ];
            }
            ServerMessage::WaitingLeft { ids } => {
                v.waiting.retain(|w| !ids.iter().any(|i| i.0 == w.id));
            }
            ServerMessage::RoleChanged { id, role } => {
                if v.you == Some(id.0) {
                    v.role = Some((*role).into());
                }
                if let Some(p) = self.person_mut(id.0) {
                    p.role = (*role).into();
                }
            }
            ServerMessage::PolicyChanged { policy } => {
                let starts = policy.event_mode && !v.policy.as_ref().is_some_and(|p| p.event_mode);
                v.policy = Some(policy.into());
                // Event mode mutes everyone in the audience (the server says so by the policy
                // alone, not person by person).
                if starts {
                    for p in &mut v.participants {
                        if p.role == RoleView::Participant && !p.on_stage {
                            p.muted = true;
                        }
                    }
                }
            }
            ServerMessage::LockChanged { locked } => v.locked = *locked,
            ServerMessage::PasscodeChanged { has_passcode } => v.has_passcode = *has_passcode,
            ServerMessage::Chat { from, to, body } => {
                let from_name = self.named(from.0).unwrap_or_else(|| format!("#{}", from.0));
                return vec![Change::Chat(ChatLine {
                    from: from.0,
                    from_name,
                    to: to.map(|t| t.0),
                    body: body.clone(),
                })];
            }
            ServerMessage::Renamed { id, name } => match self.person_mut(id.0) {
                Some(p) => p.name = name.as_str().to_string(),
                None => return Vec::new(),
            },
            ServerMessage::Muted { id, muted, .. } => match self.person_mut(id.0) {
                Some(p) => p.muted = *muted,
                None => return Vec::new(),
            },
            ServerMessage::Away { id, away } => match self.person_mut(id.0) {
                Some(p) => p.away = *away,
                None => return Vec::new(),
            },
            ServerMessage::ScreenShare { id, sharing } => match self.person_mut(id.0) {
                Some(p) => p.sharing = *sharing,
                None => return Vec::new(),
            },
            ServerMessage::Recording { id, on } => {
                match self.person_mut(id.0) {
                    Some(p) if p.recording != *on => p.recording = *on,
                    _ => return Vec::new(),
                }
                // Everyone is told, the recorder too (the host may have ended it).
                return vec![
                    Change::View,
                    Change::Notice(if *on {
                        Notice::RecordingStarted { by: id.0 }
                    } else {
                        Notice::RecordingStopped { by: id.0 }
                    }),
                ];
            }
            ServerMessage::ServerLoad { shedding } => {
                let shedding = ServerShedding::from(*shedding);
                if self.view.server_shedding == shedding {
                    return Vec::new();
                }
                self.view.server_shedding = shedding;
            }
            ServerMessage::Speaker { id } => {
                self.speaker_from_server = true;
                let you = self.view.you;
                let next = id.map(|i| i.0).filter(|i| {
                    Some(*i) != you && self.view.participants.iter().any(|p| p.id == *i)
                });
                // We speaking keep the one others were watching on our big tile.
                if next.is_none() && id.is_some() {
                    return Vec::new();
                }
                if self.view.active_speaker == next {
                    return Vec::new();
                }
                self.view.active_speaker = next;
            }
            ServerMessage::AllMuted { by } => {
                let you = self.view.you;
                for p in &mut self.view.participants {
                    if Some(p.id) != you || self.view.role == Some(RoleView::Participant) {
                        p.muted = true;
                    }
                }
                return vec![Change::View, Change::Notice(Notice::AllMuted { by: by.0 })];
            }
            ServerMessage::Stage { id, on, by } => {
                let Some(p) = self.person_mut(id.0) else {
                    return Vec::new();
                };
                p.on_stage = *on;
                if self.view.you != Some(id.0) {
                    return vec![Change::View];
                }
                // Told to whom it happens: they may speak now, or no longer.
                return vec![
                    Change::View,
                    Change::Notice(if *on {
                        Notice::StageOn { by: by.0 }
                    } else {
                        Notice::StageOff { by: by.0 }
                    }),
                ];
            }
            ServerMessage::UnmuteRequested { by } => {
                return vec![Change::Notice(Notice::UnmuteRequested { by: by.0 })];
            }
            _ => return Vec::new(),
        }
        vec![Change::View]
    }
}

/// The wire name of a reaction (`thumbs_up`, `clap`, …).
pub fn reaction_name(r: Reaction) -> String {
    kind_name(&r)
}

/// A change of the meeting view as it travels to the window: whole, or (after the first)
/// what changed, so a meeting of a thousand does not send a thousand people to the window
/// each time one of them starts speaking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ViewUpdate {
    /// The whole view.
    Full {
        /// It.
        view: MeetingView,
    },
    /// Everything but the participants whole (`head.participants` is empty); of them, only
    /// who changed or came (`upserts`) and who went (`removed`). `order` is the new order of
    /// everyone's numbers when who is there or their order changed; absent, the order is as
    /// before.
    Patch {
        /// The view without its participants.
        head: MeetingView,
        /// People new or changed.
        upserts: Vec<Person>,
        /// Numbers of people gone.
        removed: Vec<u32>,
        /// Everyone's numbers in order, when that changed.
        order: Option<Vec<u32>>,
    },
}

impl ViewUpdate {
    /// How to bring a window that shows `prev` (`None`: nothing yet) to `next`.
    pub fn between(prev: Option<&MeetingView>, next: &MeetingView) -> ViewUpdate {
        let Some(prev) = prev else {
            return ViewUpdate::Full { view: next.clone() };
        };
        let before: HashMap<u32, &Person> = prev.participants.iter().map(|p| (p.id, p)).collect();
        let upserts: Vec<Person> = next
            .participants
            .iter()
            .filter(|p| before.get(&p.id) != Some(p))
            .cloned()
            .collect();
        // Most of the list changed: the whole view is as small.
        if upserts.len() * 2 > next.participants.len().max(1) {
            return ViewUpdate::Full { view: next.clone() };
        }
        let now: std::collections::HashSet<u32> = next.participants.iter().map(|p| p.id).collect();
        let removed: Vec<u32> = prev
            .participants
            .iter()
            .map(|p| p.id)
            .filter(|id| !now.contains(id))
            .collect();
        let same_order = prev.participants.len() == next.participants.len()
            && prev
                .participants
                .iter()
                .zip(&next.participants)
                .all(|(a, b)| a.id == b.id);
        let head = MeetingView {
            participants: Vec::new(),
            ..next.clone()
        };
        ViewUpdate::Patch {
            head,
            upserts,
            removed,
            order: (!same_order).then(|| next.participants.iter().map(|p| p.id).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_proto::{DisplayName, ParticipantId, Title, WaitingInfo};

    fn joined(you: u32, role: Role) -> ServerMessage {
        ServerMessage::Joined {
            you: ParticipantId(you),
            role,
            title: Title::new("Works council").unwrap(),
            policy: Policy::default(),
            locked: false,
            has_passcode: false,
            waiting: vec![],
            ice_servers: vec![],
            found_group: false,
        }
    }

    fn person(id: u32, name: &str) -> ParticipantInfo {
        ParticipantInfo {
            id: ParticipantId(id),
            identity: parley_proto::Identity::from_seed(&[id as u8; 32]).public(),
            name: DisplayName::new(name).unwrap(),
            role: Role::Participant,
            muted: false,
            sharing: false,
            on_stage: false,
            away: false,
            browser: false,
            recording: false,
        }
    }

    #[test]
    fn joins_and_leaves_are_announced_by_number_only_when_the_host_allows_it() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(1, Role::Host));
        // The roster we are given on entering is not news.
        let first = m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Ann"), person(2, "Bo")],
            announce: false,
        });
        assert!(!first.iter().any(|c| matches!(c, Change::Notice(_))));
        let came = m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(3, "Cy"), person(4, "Di")],
            announce: true,
        });
        assert!(came.contains(&Change::Notice(Notice::PeopleJoined { ids: vec![3, 4] })));
        let went = m.apply(&ServerMessage::ParticipantLeft {
            id: ParticipantId(3),
            reason: parley_proto::LeaveReason::Left,
            announce: true,
        });
        assert!(went.contains(&Change::Notice(Notice::PersonLeft { id: 3 })));
        let quiet = m.apply(&ServerMessage::ParticipantLeft {
            id: ParticipantId(4),
            reason: parley_proto::LeaveReason::Left,
            announce: false,
        });
        assert!(!quiet.iter().any(|c| matches!(c, Change::Notice(_))));
    }

    #[test]
    fn a_move_to_a_breakout_room_starts_a_new_roster_and_the_main_meeting_sees_the_rooms() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(2, Role::Participant));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Ann"), person(2, "Bo"), person(3, "Cy")],
            announce: false,
        });
        m.set_listening(3, 150, true);
        m.apply(&ServerMessage::Breakouts {
            rooms: vec![vec![ParticipantId(2)], vec![ParticipantId(3)]],
            ends_in_secs: Some(600),
            closing_in_secs: None,
        });
        assert_eq!(
            m.view().breakouts.as_ref().map(|b| b.rooms.clone()),
            Some(vec![vec![2], vec![3]])
        );
        let changes = m.apply(&ServerMessage::Moved {
            room: Some(1),
            ends_in_secs: Some(600),
        });
        assert!(changes.contains(&Change::Notice(Notice::Moved { room: Some(1) })));
        assert!(
            m.view().participants.is_empty(),
            "another meeting's people come"
        );
        assert_eq!(m.view().security, None);
        assert_eq!(
            (m.view().breakout, m.view().breakout_ends_in_secs),
            (Some(1), Some(600))
        );
        m.apply(&joined(1, Role::Participant));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Bo"), person(3, "Cy")],
            announce: false,
        });
        // Number 3 here is someone else: what was set for the main meeting's #3 is not theirs.
        let cy = m.view().participants.iter().find(|p| p.id == 3).unwrap();
        assert_eq!((cy.volume, cy.muted_for_me), (100, false));
        let closing = m.apply(&ServerMessage::BreakoutClosing { in_secs: 30 });
        assert!(closing.contains(&Change::Notice(Notice::BreakoutClosing { in_secs: 30 })));
        assert_eq!(m.view().breakout_closing_in_secs, Some(30));
        let said = m.apply(&ServerMessage::BreakoutBroadcast {
            body: "Two minutes".into(),
        });
        assert_eq!(
            said,
            vec![Change::Notice(Notice::BreakoutMessage {
                text: "Two minutes".into()
            })]
        );
        m.apply(&ServerMessage::Moved {
            room: None,
            ends_in_secs: None,
        });
        assert_eq!(
            (m.view().breakout, m.view().breakout_closing_in_secs),
            (None, None)
        );
        m.apply(&ServerMessage::Breakouts {
            rooms: vec![],
            ends_in_secs: None,
            closing_in_secs: None,
        });
        assert_eq!(m.view().breakouts, None, "closed");
    }

    #[test]
    fn a_reconnect_shows_reconnecting_then_the_new_roster_keeping_what_this_listener_set() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(1, Role::Participant));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Ann"), person(2, "Bo"), person(3, "Cy")],
            announce: false,
        });
        m.set_listening(2, 150, true);
        m.set_security(Some(SecurityView {
            code: "12345 67890 13579 24680".into(),
            members: 3,
        }));
        assert_eq!(m.reconnecting(), vec![Change::View]);
        assert!(m.view().reconnecting);
        assert!(m.reconnecting().is_empty(), "said once");
        assert_eq!(m.view().phase, Phase::InMeeting, "the meeting screen stays");
        // Back: Cy left meanwhile; the roster that follows names Ann and Bo.
        assert!(
            m.reconnected(&joined(1, Role::Participant))
                .contains(&Change::View)
        );
        assert!(!m.view().reconnecting);
        assert_eq!(m.view().security, None, "no keys until added again");
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Ann"), person(2, "Bo")],
            announce: false,
        });
        let ids: Vec<u32> = m.view().participants.iter().map(|p| p.id).collect();
        assert_eq!(ids, [1, 2]);
        let bo = &m.view().participants[1];
        assert_eq!((bo.volume, bo.muted_for_me), (150, true));
    }

    #[test]
    fn raised_hands_keep_the_order_they_went_up_in() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(1, Role::Host));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Ann"), person(2, "Bo"), person(3, "Cy")],
            announce: false,
        });
        let order = |m: &MeetingModel, id: u32| {
            m.view()
                .participants
                .iter()
                .find(|p| p.id == id)
                .and_then(|p| p.hand_order)
        };
        m.set_hand(3, true);
        m.set_hand(2, true);
        assert!(order(&m, 3) < order(&m, 2), "Cy was first");
        // Told again (after a change of keys): still first.
        m.set_hand(3, true);
        assert!(order(&m, 3) < order(&m, 2));
        // Down and up again: now last.
        m.set_hand(3, false);
        assert_eq!(order(&m, 3), None);
        m.set_hand(3, true);
        assert!(order(&m, 3) > order(&m, 2));
        // A roster update keeps the order.
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(2, "Bob")],
            announce: false,
        });
        assert!(order(&m, 2).is_some());
    }

    #[test]
    fn someone_elses_dropped_connection_marks_them_away_until_they_are_back() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(1, Role::Participant));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Ann"), person(2, "Bo")],
            announce: false,
        });
        let away = |m: &MeetingModel| m.view().participants[1].away;
        let msg = |on| ServerMessage::Away {
            id: ParticipantId(2),
            away: on,
        };
        assert_eq!(m.apply(&msg(true)), vec![Change::View]);
        assert!(away(&m));
        m.apply(&msg(false));
        assert!(!away(&m));
        assert!(
            m.apply(&ServerMessage::Away {
                id: ParticipantId(9),
                away: true
            })
            .is_empty()
        );
    }

    #[test]
    fn coming_back_refused_or_left_ends_with_why() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(1, Role::Participant));
        m.reconnecting();
        m.connection_refused("The meeting server restarted.");
        let v = m.view();
        assert_eq!(v.phase, Phase::Ended);
        assert!(!v.reconnecting);
        assert_eq!(
            v.ended_message.as_deref(),
            Some("The meeting server restarted.")
        );
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(1, Role::Participant));
        m.reconnecting();
        m.left();
        assert_eq!(m.view().ended_reason.as_deref(), Some("left"));
    }

    #[test]
    fn volume_and_mute_for_me_are_kept_per_person_and_survive_roster_updates() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(1, Role::Participant));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Ann"), person(2, "Bo")],
            announce: false,
        });
        let bo = |m: &MeetingModel| {
            m.view()
                .participants
                .iter()
                .find(|p| p.id == 2)
                .cloned()
                .unwrap()
        };
        assert_eq!((bo(&m).volume, bo(&m).muted_for_me), (100, false));
        assert_eq!(m.set_listening(2, 150, true), vec![Change::View]);
        assert!(
            m.set_listening(2, 150, true).is_empty(),
            "no change, no new view"
        );
        assert!(m.set_listening(9, 50, false).is_empty(), "nobody 9 here");
        // A roster update (Bo renamed) keeps how Bo is heard.
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(2, "Bob")],
            announce: false,
        });
        assert_eq!(
            (bo(&m).name.as_str(), bo(&m).volume, bo(&m).muted_for_me),
            ("Bob", 150, true)
        );
        // 300 % is capped at 200 %.
        m.set_listening(2, 300, false);
        assert_eq!(bo(&m).volume, 200);
    }

    #[test]
    fn event_mode_mutes_the_audience_and_says_who_may_send() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(2, Role::Participant));
        let mut host = person(1, "Hana");
        host.role = Role::Host;
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![host, person(2, "Ann"), person(3, "Bo")],
            announce: false,
        });
        assert!(m.may_send());
        let events = Policy {
            event_mode: true,
            ..Policy::default()
        };
        m.apply(&ServerMessage::PolicyChanged {
            policy: events.clone(),
        });
        assert!(!m.may_send(), "Ann is in the audience");
        let muted: Vec<u32> = m
            .view()
            .participants
            .iter()
            .filter(|p| p.muted)
            .map(|p| p.id)
            .collect();
        assert_eq!(muted, vec![2, 3], "the audience is muted, the host not");
        m.apply(&ServerMessage::Stage {
            id: ParticipantId(2),
            on: true,
            by: ParticipantId(1),
        });
        assert!(m.may_send(), "on the stage");
        m.apply(&ServerMessage::PolicyChanged {
            policy: Policy::default(),
        });
        assert!(m.may_send());
    }

    #[test]
    fn the_stage_is_shown_and_whoever_is_put_on_it_is_told() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(2, Role::Participant));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Hana"), person(2, "Ann"), person(3, "Bo")],
            announce: false,
        });
        let on_stage = |m: &MeetingModel, id: u32| {
            m.view()
                .participants
                .iter()
                .any(|p| p.id == id && p.on_stage)
        };
        let bo = ServerMessage::Stage {
            id: ParticipantId(3),
            on: true,
            by: ParticipantId(1),
        };
        assert_eq!(
            m.apply(&bo),
            vec![Change::View],
            "Bo's stage is no notice to Ann"
        );
        assert!(on_stage(&m, 3) && !on_stage(&m, 2));
        let ann = ServerMessage::Stage {
            id: ParticipantId(2),
            on: true,
            by: ParticipantId(1),
        };
        let changes = m.apply(&ann);
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::Notice(Notice::StageOn { .. }))),
            "{changes:?}"
        );
        assert!(on_stage(&m, 2));
        let off = ServerMessage::Stage {
            id: ParticipantId(2),
            on: false,
            by: ParticipantId(1),
        };
        let changes = m.apply(&off);
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::Notice(Notice::StageOff { .. })))
        );
        assert!(!on_stage(&m, 2));
        // Someone not in the meeting: nothing.
        let nobody = ServerMessage::Stage {
            id: ParticipantId(9),
            on: true,
            by: ParticipantId(1),
        };
        assert!(m.apply(&nobody).is_empty());
    }

    /// A meeting of Ann, Bo and Cy, seen by Ann (a participant).
    fn ann_bo_and_cy() -> MeetingModel {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(1, Role::Participant));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Ann"), person(2, "Bo"), person(3, "Cy")],
            announce: false,
        });
        m
    }

    #[test]
    fn the_active_speaker_follows_whoever_speaks_and_stays_through_pauses() {
        let mut m = ann_bo_and_cy();
        let you = m.view().you.unwrap();
        assert!(!m.set_speaking(&[2]).is_empty());
        assert_eq!(m.view().active_speaker, Some(2));
        assert!(
            m.view()
                .participants
                .iter()
                .any(|p| p.id == 2 && p.speaking)
        );
        // A pause: nobody speaks; Bo stays on the big tile but is no longer marked speaking.
        m.set_speaking(&[]);
        assert_eq!(m.view().active_speaker, Some(2));
        assert!(m.view().participants.iter().all(|p| !p.speaking));
        // Cy speaks: the big tile moves. We never count as speaking ourselves.
        m.set_speaking(&[3, you]);
        assert_eq!(m.view().active_speaker, Some(3));
        assert!(
            m.view()
                .participants
                .iter()
                .all(|p| p.id != you || !p.speaking)
        );
        // Nothing changed: no new view.
        assert!(m.set_speaking(&[3, you]).is_empty());
    }

    #[test]
    fn the_servers_shedding_is_shown_while_it_lasts() {
        let mut m = ann_bo_and_cy();
        assert_eq!(m.view().server_shedding, ServerShedding::None);
        let load = |shedding| ServerMessage::ServerLoad { shedding };
        assert!(!m.apply(&load(parley_proto::Shedding::MainVideo)).is_empty());
        assert_eq!(m.view().server_shedding, ServerShedding::MainVideo);
        // Told again: nothing new to draw.
        assert!(m.apply(&load(parley_proto::Shedding::MainVideo)).is_empty());
        m.apply(&load(parley_proto::Shedding::VoicesOnly));
        assert_eq!(m.view().server_shedding, ServerShedding::VoicesOnly);
        m.apply(&load(parley_proto::Shedding::None));
        assert_eq!(m.view().server_shedding, ServerShedding::None);
    }

    #[test]
    fn the_servers_dominant_speaker_leads_speaker_view() {
        let mut m = ann_bo_and_cy();
        let you = m.view().you.unwrap();
        let speaker = |id: Option<u32>| ServerMessage::Speaker {
            id: id.map(ParticipantId),
        };
        assert!(!m.apply(&speaker(Some(3))).is_empty());
        assert_eq!(m.view().active_speaker, Some(3));
        // What this app hears no longer moves the big tile; it still marks who speaks.
        m.set_speaking(&[2]);
        assert_eq!(m.view().active_speaker, Some(3));
        assert!(
            m.view()
                .participants
                .iter()
                .any(|p| p.id == 2 && p.speaking)
        );
        // We are the dominant speaker: the big tile stays on the one before.
        assert!(m.apply(&speaker(Some(you))).is_empty());
        assert_eq!(m.view().active_speaker, Some(3));
        // Someone unknown (or gone) is never put on it; nobody clears it.
        assert!(m.apply(&speaker(Some(99))).is_empty());
        m.apply(&speaker(None));
        assert_eq!(m.view().active_speaker, None);
        m.apply(&speaker(Some(2)));
        assert_eq!(m.view().active_speaker, Some(2));
    }

    #[test]
    fn waiting_then_admitted() {
        let mut m = MeetingModel::new(false, false);
        assert_eq!(m.view().phase, Phase::Connecting);
        m.apply(&ServerMessage::Waiting {
            title: Title::new("Clinic").unwrap(),
            host_present: false,
            recording: true,
        });
        assert!(m.view().recorded_while_waiting, "told before entering");
        assert_eq!(m.view().phase, Phase::Waiting);
        assert_eq!(m.view().title, "Clinic");
        assert_eq!(m.apply(&joined(4, Role::Participant)), vec![Change::View]);
        let v = m.view();
        assert_eq!(
            (v.phase.clone(), v.you, v.role),
            (Phase::InMeeting, Some(4), Some(RoleView::Participant))
        );
        assert_eq!(v.policy.as_ref().map(|p| p.waiting_room), Some(true));
        assert!(
            !v.policy.as_ref().unwrap().file_transfer,
            "file transfer is off by default"
        );
    }

    #[test]
    fn roster_follows_joins_leaves_and_renames() {
        let mut m = MeetingModel::new(true, true);
        m.apply(&joined(1, Role::Host));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(3, "Cy"), person(2, "Bo"), person(1, "Ann")],
            announce: true,
        });
        let ids: Vec<u32> = m.view().participants.iter().map(|p| p.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        m.apply(&ServerMessage::Renamed {
            id: ParticipantId(2),
            name: DisplayName::new("Bob").unwrap(),
        });
        assert_eq!(m.name_of(2), Some("Bob"));
        m.apply(&ServerMessage::ParticipantLeft {
            id: ParticipantId(3),
            reason: parley_proto::LeaveReason::Removed,
            announce: true,
        });
        assert_eq!(m.view().participants.len(), 2);
        // A hand (opened from a sealed message) shows, survives a roster update, and one
        // of someone unknown changes nothing.
        assert_eq!(m.set_hand(2, true), vec![Change::View]);
        assert!(m.set_hand(2, true).is_empty(), "no change, no update");
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(2, "Bob")],
            announce: false,
        });
        assert!(
            m.view()
                .participants
                .iter()
                .any(|p| p.id == 2 && p.hand_raised)
        );
        assert!(m.set_hand(9, true).is_empty());
    }

    #[test]
    fn a_waiter_is_listed_and_announced_until_admitted() {
        let mut m = MeetingModel::new(true, true);
        m.apply(&joined(1, Role::Host));
        let w = WaitingInfo {
            id: ParticipantId(5),
            name: DisplayName::new("Eve").unwrap(),
            browser: true,
        };
        let changes = m.apply(&ServerMessage::WaitingJoined { waiting: w });
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::Notice(Notice::SomeoneWaiting { who: 5 })))
        );
        // The name to show is in the view, sent before the notice.
        assert_eq!(changes.first(), Some(&Change::View));
        assert_eq!(m.view().waiting.len(), 1);
        assert_eq!(m.view().waiting[0].name, "Eve");
        assert!(m.view().waiting[0].browser, "knocks from a browser");
        m.apply(&ServerMessage::WaitingLeft {
            ids: vec![ParticipantId(5)],
        });
        assert!(m.view().waiting.is_empty());
    }

    #[test]
    fn two_waiters_with_one_name_are_announced_by_their_own_numbers() {
        let mut m = MeetingModel::new(true, true);
        m.apply(&joined(1, Role::Host));
        let announced = |changes: Vec<Change>| {
            changes
                .into_iter()
                .find_map(|c| match c {
                    Change::Notice(Notice::SomeoneWaiting { who }) => Some(who),
                    _ => None,
                })
                .expect("a waiter is announced")
        };
        let eve = |id| ServerMessage::WaitingJoined {
            waiting: WaitingInfo {
                id: ParticipantId(id),
                name: DisplayName::new("Eve").unwrap(),
                browser: false,
            },
        };
        let first = announced(m.apply(&eve(5)));
        let second = announced(m.apply(&eve(6)));
        assert_eq!((first, second), (5, 6), "each by their own number");
        let ids: Vec<u32> = m.view().waiting.iter().map(|w| w.id).collect();
        assert_eq!(ids, [5, 6]);
    }

    #[test]
    fn chat_carries_the_senders_name_and_the_body_untouched() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(2, Role::Participant));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(1, "Ann")],
            announce: false,
        });
        let body = r"<b>see \\fileserver\share</b>";
        let c = m.apply(&ServerMessage::Chat {
            from: ParticipantId(1),
            to: None,
            body: body.into(),
        });
        assert_eq!(
            c,
            vec![Change::Chat(ChatLine {
                from: 1,
                from_name: "Ann".into(),
                to: None,
                body: body.into()
            })]
        );
    }

    #[test]
    fn removal_and_end_say_why() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(2, Role::Participant));
        m.apply(&ServerMessage::goodbye(GoodbyeReason::Removed));
        assert_eq!(m.view().phase, Phase::Ended);
        assert_eq!(m.view().ended_reason.as_deref(), Some("removed"));
        assert!(
            m.view()
                .ended_message
                .as_deref()
                .unwrap()
                .contains("removed")
        );
        // A lost connection after the goodbye does not overwrite the reason.
        assert!(m.connection_lost().is_empty());
        assert_eq!(m.view().ended_reason.as_deref(), Some("removed"));
    }

    #[test]
    fn a_refusal_ends_with_the_servers_kind() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&ServerMessage::refused(parley_proto::ErrorKind::Locked));
        assert_eq!(m.view().ended_reason.as_deref(), Some("locked"));
    }

    #[test]
    fn promotion_changes_our_role() {
        let mut m = MeetingModel::new(false, false);
        m.apply(&joined(2, Role::Participant));
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(2, "Me")],
            announce: false,
        });
        m.apply(&ServerMessage::RoleChanged {
            id: ParticipantId(2),
            role: Role::Cohost,
        });
        assert_eq!(m.view().role, Some(RoleView::Cohost));
        assert_eq!(m.view().participants[0].role, RoleView::Cohost);
    }

    /// What the window does with an update (`ui/src/api.ts` `applyUpdate`, the same steps).
    fn apply(prev: &MeetingView, u: ViewUpdate) -> MeetingView {
        match u {
            ViewUpdate::Full { view } => view,
            ViewUpdate::Patch {
                head,
                upserts,
                removed,
                order,
            } => {
                let mut by_id: HashMap<u32, Person> = prev
                    .participants
                    .iter()
                    .map(|p| (p.id, p.clone()))
                    .collect();
                for id in removed {
                    by_id.remove(&id);
                }
                for p in upserts {
                    by_id.insert(p.id, p);
                }
                let ids: Vec<u32> =
                    order.unwrap_or_else(|| prev.participants.iter().map(|p| p.id).collect());
                MeetingView {
                    participants: ids.iter().filter_map(|id| by_id.remove(id)).collect(),
                    ..head
                }
            }
        }
    }

    #[test]
    fn a_thousand_people_travel_once_then_only_what_changes() {
        let mut m = MeetingModel::new(true, true);
        m.apply(&joined(1, Role::Host));
        let people: Vec<ParticipantInfo> = (2..=1001).map(|id| person(id, "Guest")).collect();
        for chunk in people.chunks(200) {
            m.apply(&ServerMessage::ParticipantsJoined {
                participants: chunk.to_vec(),
                announce: false,
            });
        }
        let first = ViewUpdate::between(None, m.view());
        assert!(matches!(first, ViewUpdate::Full { .. }));
        let full_bytes = serde_json::to_vec(&first).unwrap().len();
        // Someone starts speaking: one person changes.
        let prev = m.view().clone();
        m.set_speaking(&[500]);
        let u = ViewUpdate::between(Some(&prev), m.view());
        let patch_bytes = serde_json::to_vec(&u).unwrap().len();
        let ViewUpdate::Patch {
            ref upserts,
            ref removed,
            ref order,
            ..
        } = u
        else {
            panic!("a patch");
        };
        assert_eq!(upserts.iter().map(|p| p.id).collect::<Vec<_>>(), [500]);
        assert!(removed.is_empty() && order.is_none());
        assert_eq!(apply(&prev, u), *m.view());
        println!(
            "a speaker change in a meeting of 1,001: {full_bytes} bytes whole, {patch_bytes} as a patch"
        );
        assert!(
            patch_bytes * 20 < full_bytes,
            "{patch_bytes} vs {full_bytes}"
        );
        // Someone leaves and someone comes: the order travels.
        let prev = m.view().clone();
        m.apply(&ServerMessage::ParticipantLeft {
            id: ParticipantId(7),
            reason: parley_proto::LeaveReason::Left,
            announce: true,
        });
        m.apply(&ServerMessage::ParticipantsJoined {
            participants: vec![person(2000, "Late")],
            announce: true,
        });
        let u = ViewUpdate::between(Some(&prev), m.view());
        assert!(matches!(&u, ViewUpdate::Patch { removed, order: Some(_), .. } if removed == &[7]));
        assert_eq!(apply(&prev, u), *m.view());
        // Nearly everything changed: the whole view.
        let prev = m.view().clone();
        m.reconnecting();
        let u = ViewUpdate::between(Some(&prev), m.view());
        assert_eq!(apply(&prev, u), *m.view());
    }
}

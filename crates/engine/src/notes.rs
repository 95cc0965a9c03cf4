//! The meeting's shared notes and whiteboard: one CRDT document (yrs, the Rust port of Yjs)
//! that every participant holds, so concurrent edits merge the same way everywhere.
//!
//! This module holds the document and the wire shape of what travels; sealing (MLS
//! application messages) and who is asked for the notes are [`crate::E2ee`]'s part.
//!
//! - **A change** is a yrs update. Local changes are gathered and sent at most every
//!   [`SEND_EVERY`] (`notes_update`, relayed to everyone else).
//! - **A newcomer** asks one member of the encryption group for what it lacks, naming its
//!   state vector; that member answers with the difference (`notes_sync`, to the newcomer
//!   alone). A change the newcomer could not open (sealed for keys it never had) makes it ask
//!   again, so nothing sent around its arrival is missed.
//! - **Large content** (a change or an answer) travels in parts of at most [`PART_BYTES`],
//!   joined before they are applied; what one sender may have in flight is bounded.
//! - The notes are text (Markdown when exported); the whiteboard is a list of strokes, each
//!   drawn once and then only erased.

use std::collections::HashMap;
use std::fmt::Write as _;

use parley_proto::ParticipantId;
use serde::Serialize;
use web_time::{Duration, Instant};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Any, Array, ArrayRef, Doc, GetString, Out, ReadTxn, StateVector, Text, TextRef, Transact,
    Update,
};

/// Local changes are gathered and sent at most this often (typing makes one change a key).
pub const SEND_EVERY: Duration = Duration::from_millis(200);
/// Bytes of content in one sealed part (a sealed part stays under the server's body limit).
pub const PART_BYTES: usize = 30 * 1024;
/// Most parts of one change or answer (about 1.9 MiB).
pub const MAX_PARTS: u16 = 64;
/// Longest notes text, in bytes.
pub const MAX_TEXT_BYTES: usize = 512 * 1024;
/// Most strokes on the whiteboard.
pub const MAX_STROKES: usize = 2_000;
/// Most points in one stroke.
pub const MAX_STROKE_POINTS: usize = 1_000;
/// The whiteboard's coordinates run from 0 to this, on both axes (16:9 is the UI's business).
pub const BOARD_SIZE: u16 = 10_000;
/// Widest pen, in board units.
pub const MAX_PEN: u16 = 400;
/// Senders whose parts may be in flight at once; beyond, the oldest assembly is dropped.
const MAX_ASSEMBLIES: usize = 16;

const KIND_UPDATE: u8 = 1;
const KIND_ASK: u8 = 2;
const KIND_STATE: u8 = 3;

/// One stroke on the whiteboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stroke {
    /// Its own number (random), by which it is erased.
    pub id: u32,
    /// Colour, 0xRRGGBB.
    pub color: u32,
    /// Pen width, 1 to [`MAX_PEN`] board units.
    pub width: u16,
    /// Points, each 0 to [`BOARD_SIZE`] on both axes.
    pub points: Vec<(u16, u16)>,
}

impl Stroke {
    fn check(&self) -> Result<(), NotesError> {
        if self.color > 0xFF_FFFF
            || !(1..=MAX_PEN).contains(&self.width)
            || self.points.is_empty()
            || self.points.len() > MAX_STROKE_POINTS
            || self
                .points
                .iter()
                .any(|&(x, y)| x > BOARD_SIZE || y > BOARD_SIZE)
        {
            return Err(NotesError::Invalid(
                "that stroke is not one the whiteboard takes",
            ));
        }
        Ok(())
    }

    fn encode(&self) -> String {
        let mut s = format!("{} {:06x} {}", self.id, self.color, self.width);
        for (x, y) in &self.points {
            let _ = write!(s, " {x},{y}");
        }
        s
    }

    /// A stroke as the document stores it; `None` for anything malformed (a hostile member's
    /// stroke is skipped, not shown).
    fn decode(s: &str) -> Option<Stroke> {
        let mut it = s.split(' ');
        let id = it.next()?.parse().ok()?;
        let color = u32::from_str_radix(it.next()?, 16).ok()?;
        let width = it.next()?.parse().ok()?;
        let points = it
            .map(|p| {
                let (x, y) = p.split_once(',')?;
                Some((x.parse().ok()?, y.parse().ok()?))
            })
            .collect::<Option<Vec<(u16, u16)>>>()?;
        let stroke = Stroke {
            id,
            color,
            width,
            points,
        };
        stroke.check().ok().map(|()| stroke)
    }
}

/// A change to the notes or the whiteboard, as a person makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotesEdit {
    /// The notes' text is now this (what changed is found by comparing).
    SetText(String),
    /// Add a line at the end of the notes.
    AppendLine(String),
    /// Draw a stroke (its `id` is given here).
    Draw {
        /// Colour, 0xRRGGBB.
        color: u32,
        /// Pen width.
        width: u16,
        /// Its points.
        points: Vec<(u16, u16)>,
    },
    /// Erase one stroke.
    Erase(u32),
    /// Erase the whole whiteboard.
    ClearBoard,
}

/// Why a change to the notes was not made; the sentence is for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotesError {
    /// Too long, too many, out of range.
    #[error("{0}")]
    Invalid(&'static str),
    /// The host has locked the notes.
    #[error("the host has locked the shared notes; only hosts and co-hosts may change them")]
    Locked,
}

/// What a sealed notes message carries (before sealing / after opening).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// A part of a change.
    Update(Part),
    /// A request for what we lack: our state vector.
    Ask(Vec<u8>),
    /// A part of an answer.
    State(Part),
}

/// A part of a larger content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Which content (the sender's own numbering).
    pub seq: u32,
    /// This part's index.
    pub index: u16,
    /// How many parts.
    pub count: u16,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Wire {
    /// The bytes to seal.
    pub fn encode(&self) -> Vec<u8> {
        let part = |kind: u8, p: &Part| {
            let mut v = Vec::with_capacity(9 + p.bytes.len());
            v.push(kind);
            v.extend_from_slice(&p.seq.to_be_bytes());
            v.extend_from_slice(&p.index.to_be_bytes());
            v.extend_from_slice(&p.count.to_be_bytes());
            v.extend_from_slice(&p.bytes);
            v
        };
        match self {
            Wire::Update(p) => part(KIND_UPDATE, p),
            Wire::State(p) => part(KIND_STATE, p),
            Wire::Ask(sv) => {
                let mut v = vec![KIND_ASK];
                v.extend_from_slice(sv);
                v
            }
        }
    }

    /// Opened bytes as a notes message; `None` for anything else.
    pub fn decode(b: &[u8]) -> Option<Wire> {
        let (&kind, rest) = b.split_first()?;
        let part = || {
            if rest.len() < 8 {
                return None;
            }
            let seq = u32::from_be_bytes(rest[0..4].try_into().ok()?);
            let index = u16::from_be_bytes(rest[4..6].try_into().ok()?);
            let count = u16::from_be_bytes(rest[6..8].try_into().ok()?);
            let bytes = rest[8..].to_vec();
            ((1..=MAX_PARTS).contains(&count) && index < count && bytes.len() <= PART_BYTES)
                .then_some(Part {
                    seq,
                    index,
                    count,
                    bytes,
                })
        };
        match kind {
            KIND_UPDATE => part().map(Wire::Update),
            KIND_STATE => part().map(Wire::State),
            KIND_ASK if rest.len() <= PART_BYTES => Some(Wire::Ask(rest.to_vec())),
            _ => None,
        }
    }
}

/// Parts of one content from one sender, until all have come.
struct Assembly {
    seq: u32,
    parts: Vec<Option<Vec<u8>>>,
    started: u64,
}

/// The shared document, what waits to be sent, and parts on their way in.
pub struct Notes {
    doc: Doc,
    text: TextRef,
    board: ArrayRef,
    /// Local changes not sent yet.
    pending: Vec<Vec<u8>>,
    last_sent: Option<Instant>,
    seq: u32,
    incoming: HashMap<(ParticipantId, bool), Assembly>,
    arrivals: u64,
    /// Bumped at every change, local or remote.
    version: u64,
}

impl std::fmt::Debug for Notes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notes")
            .field("version", &self.version)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Default for Notes {
    fn default() -> Self {
        Notes::new()
    }
}

impl Notes {
    /// Empty notes and whiteboard.
    pub fn new() -> Self {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("notes");
        let board = doc.get_or_insert_array("board");
        Notes {
            doc,
            text,
            board,
            pending: Vec::new(),
            last_sent: None,
            seq: 0,
            incoming: HashMap::new(),
            arrivals: 0,
            version: 0,
        }
    }

    /// The notes' text.
    pub fn text(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// The whiteboard's strokes, oldest first (malformed ones skipped).
    pub fn strokes(&self) -> Vec<Stroke> {
        let txn = self.doc.transact();
        self.board
            .iter(&txn)
            .filter_map(|v| match v {
                Out::Any(Any::String(s)) => Stroke::decode(&s),
                _ => None,
            })
            .collect()
    }

    /// Bumped at every change, local or remote.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Make a change here; it is sent with the next [`Notes::take_update`].
    pub fn edit(&mut self, edit: NotesEdit) -> Result<(), NotesError> {
        let mut txn = self.doc.transact_mut();
        match edit {
            NotesEdit::SetText(new) => {
                if new.len() > MAX_TEXT_BYTES {
                    return Err(NotesError::Invalid("the notes are too long"));
                }
                let old = self.text.get_string(&txn);
                let (at, removed, inserted) = difference(&old, &new);
                if removed > 0 {
                    self.text.remove_range(&mut txn, at, removed);
                }
                if !inserted.is_empty() {
                    self.text.insert(&mut txn, at, inserted);
                }
            }
            NotesEdit::AppendLine(line) => {
                let len = self.text.len(&txn);
                if len as usize + line.len() + 1 > MAX_TEXT_BYTES {
                    return Err(NotesError::Invalid("the notes are too long"));
                }
                // Each line carries its own end, so lines added at once stay lines.
                let ends = len == 0 || self.text.get_string(&txn).ends_with('\n');
                let line = if ends {
                    format!("{line}\n")
                } else {
                    format!("\n{line}\n")
                };
                self.text.insert(&mut txn, len, &line);
            }
            NotesEdit::Draw {
                color,
                width,
                points,
            } => {
                if self.board.len(&txn) as usize >= MAX_STROKES {
                    return Err(NotesError::Invalid(
                        "the whiteboard is full; erase something first",
                    ));
                }
                let mut id = [0u8; 4];
                getrandom::fill(&mut id)
                    .map_err(|_| NotesError::Invalid("no randomness for the stroke"))?;
                let stroke = Stroke {
                    id: u32::from_be_bytes(id),
                    color,
                    width,
                    points,
                };
                stroke.check()?;
                self.board.push_back(&mut txn, stroke.encode());
            }
            NotesEdit::Erase(id) => {
                let at = self.board.iter(&txn).position(|v| match v {
                    Out::Any(Any::String(s)) => {
                        s.split(' ').next().and_then(|n| n.parse::<u32>().ok()) == Some(id)
                    }
                    _ => false,
                });
                let Some(at) = at else { return Ok(()) };
                self.board.remove(&mut txn, at as u32);
            }
            NotesEdit::ClearBoard => {
                let len = self.board.len(&txn);
                if len > 0 {
                    self.board.remove_range(&mut txn, 0, len);
                }
            }
        }
        let update = txn.encode_update_v1();
        drop(txn);
        // An edit that changed nothing encodes as an empty update (two zero bytes).
        if update.len() > 2 {
            self.pending.push(update);
            self.version += 1;
        }
        Ok(())
    }

    /// Local changes are waiting to be sent.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The local changes to send now, as parts (empty until [`SEND_EVERY`] has passed since
    /// the last send).
    pub fn take_update(&mut self, now: Instant) -> Vec<Wire> {
        if self.pending.is_empty()
            || self
                .last_sent
                .is_some_and(|t| now.saturating_duration_since(t) < SEND_EVERY)
        {
            return Vec::new();
        }
        let merged = match yrs::merge_updates_v1(self.pending.iter().map(Vec::as_slice)) {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        self.pending.clear();
        self.last_sent = Some(now);
        self.split(&merged).into_iter().map(Wire::Update).collect()
    }

    /// Our state vector, to ask another member for what we lack.
    pub fn ask(&self) -> Wire {
        Wire::Ask(self.doc.transact().state_vector().encode_v1())
    }

    /// What a member who has `state_vector` lacks, as parts of an answer; `None` if the
    /// vector is malformed.
    pub fn answer(&mut self, state_vector: &[u8]) -> Option<Vec<Wire>> {
        let sv = StateVector::decode_v1(state_vector).ok()?;
        let diff = self.doc.transact().encode_diff_v1(&sv);
        Some(self.split(&diff).into_iter().map(Wire::State).collect())
    }

    fn split(&mut self, bytes: &[u8]) -> Vec<Part> {
        self.seq = self.seq.wrapping_add(1);
        let chunks: Vec<&[u8]> = if bytes.is_empty() {
            vec![&[]]
        } else {
            bytes.chunks(PART_BYTES).collect()
        };
        let count = u16::try_from(chunks.len()).unwrap_or(u16::MAX);
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| Part {
                seq: self.seq,
                index: i as u16,
                count,
                bytes: c.to_vec(),
            })
            .collect()
    }

    /// A part of a change or an answer from `from`. When it completes its content, the
    /// content is applied: `Ok(Some(true))` if the document changed, `Ok(None)` while parts
    /// are missing. `Err` for content that is not a valid change.
    pub fn receive(
        &mut self,
        from: ParticipantId,
        answer: bool,
        part: Part,
    ) -> Result<Option<bool>, NotesError> {
        let whole = if part.count == 1 {
            part.bytes
        } else {
            if part.count > MAX_PARTS || part.index >= part.count {
                return Err(NotesError::Invalid("a malformed part of the notes"));
            }
            self.arrivals += 1;
            let key = (from, answer);
            let fresh = self
                .incoming
                .get(&key)
                .is_none_or(|a| a.seq != part.seq || a.parts.len() != usize::from(part.count));
            if fresh {
                if !self.incoming.contains_key(&key) && self.incoming.len() >= MAX_ASSEMBLIES {
                    let oldest = self
                        .incoming
                        .iter()
                        .min_by_key(|(_, a)| a.started)
                        .map(|(k, _)| *k);
                    if let Some(k) = oldest {
                        self.incoming.remove(&k);
                    }
                }
                self.incoming.insert(
                    key,
                    Assembly {
                        seq: part.seq,
                        parts: vec![None; usize::from(part.count)],
                        started: self.arrivals,
                    },
                );
            }
            let a = self.incoming.get_mut(&key).expect("just inserted");
            a.parts[usize::from(part.index)] = Some(part.bytes);
            if a.parts.iter().any(Option::is_none) {
                return Ok(None);
            }
            let a = self.incoming.remove(&key).expect("present");
            a.parts.into_iter().flatten().flatten().collect()
        };
        self.apply(&whole).map(Some)
    }

    /// Forget parts from someone who left.
    pub fn forget(&mut self, who: ParticipantId) {
        self.incoming.retain(|(from, _), _| *from != who);
    }

    fn apply(&mut self, update: &[u8]) -> Result<bool, NotesError> {
        if update.is_empty() {
            return Ok(false);
        }
        let update = Update::decode_v1(update)
            .map_err(|_| NotesError::Invalid("a change to the notes that could not be read"))?;
        let mut txn = self.doc.transact_mut();
        let before = txn.state_vector();
        txn.apply_update(update)
            .map_err(|_| NotesError::Invalid("a change to the notes that did not apply"))?;
        let changed = txn.state_vector() != before || !txn.delete_set().is_empty();
        drop(txn);
        if changed {
            self.version += 1;
        }
        Ok(changed)
    }

    /// The notes as a Markdown file.
    pub fn markdown(&self) -> String {
        let mut t = self.text();
        if !t.ends_with('\n') {
            t.push('\n');
        }
        t
    }

    /// The whiteboard as an SVG picture (16:9, white background).
    pub fn svg(&self) -> String {
        svg(&self.strokes())
    }
}

/// Strokes as an SVG picture (16:9, white background); every value in it is a number.
pub fn svg(strokes: &[Stroke]) -> String {
    let h = u32::from(BOARD_SIZE) * 9 / 16;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {BOARD_SIZE} {h}\" width=\"1600\" height=\"900\">\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
    );
    for st in strokes {
        let scale = |y: u16| u32::from(y) * 9 / 16;
        let mut d = String::new();
        for (i, (x, y)) in st.points.iter().enumerate() {
            let _ = write!(d, "{}{} {}", if i == 0 { "M" } else { " L" }, x, scale(*y));
        }
        if st.points.len() == 1 {
            let (x, y) = st.points[0];
            let _ = write!(d, " L{} {}", x, scale(y));
        }
        let _ = writeln!(
            s,
            "<path d=\"{d}\" stroke=\"#{:06x}\" stroke-width=\"{}\" fill=\"none\" stroke-linecap=\"round\" stroke-linejoin=\"round\"/>",
            st.color, st.width
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A member asked for the notes is asked again after this, or the next one is.
pub const ASK_AGAIN: Duration = Duration::from_secs(3);
/// After this many unanswered requests we stop asking (and keep what we have).
pub const MAX_ASKS: u32 = 8;
/// We answer one member's request at most this often.
pub const ANSWER_EVERY: Duration = Duration::from_secs(1);

/// Catching up: whom we asked for the notes and when, and whom we answered.
#[derive(Debug, Default)]
pub struct Catchup {
    synced: bool,
    asked: Option<(ParticipantId, Instant)>,
    attempts: u32,
    not_before: Option<Instant>,
    answered: HashMap<ParticipantId, Instant>,
}

impl Catchup {
    /// We have what the group has (we started it, or an answer came).
    pub fn settled(&mut self) {
        self.synced = true;
        self.asked = None;
        self.attempts = 0;
        self.not_before = None;
    }

    /// We may have missed something: ask again, from `now + delay` on.
    pub fn restart(&mut self, now: Instant, delay: Duration) {
        self.synced = false;
        self.asked = None;
        self.attempts = 0;
        self.not_before = Some(now + delay);
    }

    /// Whom to ask now, if anyone: one of `members` (others in the encryption group, in a
    /// fixed order), spread by our own number so that newcomers do not all ask the same one.
    pub fn next_ask(
        &mut self,
        now: Instant,
        me: ParticipantId,
        members: &[ParticipantId],
    ) -> Option<ParticipantId> {
        if self.synced
            || self.not_before.is_some_and(|t| now < t)
            || self
                .asked
                .is_some_and(|(_, at)| now.saturating_duration_since(at) < ASK_AGAIN)
        {
            return None;
        }
        if members.is_empty() || self.attempts >= MAX_ASKS {
            // Alone (nobody has notes we lack), or nobody answers: keep what we have.
            self.settled();
            return None;
        }
        let at = (me.0 as usize).wrapping_add(self.attempts as usize) % members.len();
        let to = members[at];
        self.attempts += 1;
        self.asked = Some((to, now));
        Some(to)
    }

    /// An answer from `from` is one we asked for.
    pub fn asked(&self, from: ParticipantId) -> bool {
        self.asked.is_some_and(|(to, _)| to == from)
    }

    /// Whether to answer `who`'s request now (at most one per [`ANSWER_EVERY`]).
    pub fn may_answer(&mut self, who: ParticipantId, now: Instant) -> bool {
        match self.answered.get(&who) {
            Some(&t) if now.saturating_duration_since(t) < ANSWER_EVERY => false,
            _ => {
                self.answered.insert(who, now);
                true
            }
        }
    }

    /// `who` left: if we were waiting on them, ask someone else at once.
    pub fn gone(&mut self, who: ParticipantId) {
        self.answered.remove(&who);
        if self.asked(who) {
            self.asked = None;
        }
    }

    /// We have caught up (or given up).
    pub fn is_synced(&self) -> bool {
        self.synced
    }
}

/// What turns `old` into `new`: at byte `at`, remove `removed` bytes and insert the returned
/// text (the common beginning and end kept, on character boundaries).
fn difference<'a>(old: &str, new: &'a str) -> (u32, u32, &'a str) {
    let prefix: usize = old
        .chars()
        .zip(new.chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum();
    let (old_rest, new_rest) = (&old[prefix..], &new[prefix..]);
    let suffix: usize = old_rest
        .chars()
        .rev()
        .zip(new_rest.chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum();
    let removed = old_rest.len() - suffix;
    let inserted = &new_rest[..new_rest.len() - suffix];
    (prefix as u32, removed as u32, inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(a: &mut Notes, b: &mut Notes, now: Instant) {
        for w in a.take_update(now) {
            let Wire::Update(p) = w else { panic!() };
            b.receive(ParticipantId(1), false, p).unwrap();
        }
        for w in b.take_update(now) {
            let Wire::Update(p) = w else { panic!() };
            a.receive(ParticipantId(2), false, p).unwrap();
        }
    }

    #[test]
    fn concurrent_edits_merge_the_same_way_on_both_sides() {
        let now = Instant::now();
        let (mut a, mut b) = (Notes::new(), Notes::new());
        a.edit(NotesEdit::SetText("Agenda\n1. budget\n".into()))
            .unwrap();
        sync(&mut a, &mut b, now);
        assert_eq!(b.text(), "Agenda\n1. budget\n");
        // Both type at once, at different places and at the same place.
        a.edit(NotesEdit::SetText("Agenda (Tuesday)\n1. budget\n".into()))
            .unwrap();
        b.edit(NotesEdit::SetText("Agenda\n1. budget\n2. rota\n".into()))
            .unwrap();
        a.edit(NotesEdit::Draw {
            color: 0xff0000,
            width: 20,
            points: vec![(0, 0), (100, 100)],
        })
        .unwrap();
        b.edit(NotesEdit::Draw {
            color: 0x0000ff,
            width: 10,
            points: vec![(5000, 5000)],
        })
        .unwrap();
        sync(&mut a, &mut b, now + SEND_EVERY);
        assert_eq!(a.text(), b.text());
        assert_eq!(a.text(), "Agenda (Tuesday)\n1. budget\n2. rota\n");
        assert_eq!(a.strokes(), b.strokes());
        assert_eq!(a.strokes().len(), 2);
        let first = a.strokes()[0].id;
        b.edit(NotesEdit::Erase(first)).unwrap();
        sync(&mut a, &mut b, now + SEND_EVERY * 2);
        assert_eq!(a.strokes().len(), 1);
        assert_eq!(a.strokes(), b.strokes());
    }

    #[test]
    fn changes_are_gathered_and_sent_at_most_every_interval() {
        let now = Instant::now();
        let mut a = Notes::new();
        a.edit(NotesEdit::SetText("a".into())).unwrap();
        assert_eq!(a.take_update(now).len(), 1);
        a.edit(NotesEdit::SetText("ab".into())).unwrap();
        a.edit(NotesEdit::SetText("abc".into())).unwrap();
        assert!(a.take_update(now + SEND_EVERY / 2).is_empty());
        assert!(a.has_pending());
        let parts = a.take_update(now + SEND_EVERY);
        assert_eq!(parts.len(), 1);
        let mut b = Notes::new();
        // b missed the first change: the second is held until it comes (yrs keeps it).
        let Wire::Update(p) = parts[0].clone() else {
            panic!()
        };
        b.receive(ParticipantId(1), false, p).unwrap();
        assert_eq!(b.text(), "");
        let Wire::Ask(sv) = b.ask() else { panic!() };
        for w in a.answer(&sv).unwrap() {
            let Wire::State(p) = w else { panic!() };
            b.receive(ParticipantId(1), true, p).unwrap();
        }
        assert_eq!(b.text(), "abc");
        // An edit that changes nothing sends nothing.
        a.edit(NotesEdit::SetText("abc".into())).unwrap();
        assert!(!a.has_pending());
    }

    #[test]
    fn a_large_answer_travels_in_parts_in_any_order() {
        let now = Instant::now();
        let mut a = Notes::new();
        let long: String = (0..200_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        a.edit(NotesEdit::SetText(long.clone())).unwrap();
        let _ = a.take_update(now);
        let mut b = Notes::new();
        let Wire::Ask(sv) = b.ask() else { panic!() };
        let mut parts = a.answer(&sv).unwrap();
        assert!(parts.len() > 3, "{} parts", parts.len());
        parts.reverse();
        let last = parts.pop().unwrap();
        for w in parts {
            let Wire::State(p) = w else { panic!() };
            assert_eq!(b.receive(ParticipantId(1), true, p), Ok(None));
        }
        let Wire::State(p) = last else { panic!() };
        assert_eq!(b.receive(ParticipantId(1), true, p), Ok(Some(true)));
        assert_eq!(b.text(), long);
    }

    #[test]
    fn hostile_content_is_refused_and_bounded() {
        let mut b = Notes::new();
        let junk = Part {
            seq: 1,
            index: 0,
            count: 1,
            bytes: vec![0xff; 40],
        };
        assert!(b.receive(ParticipantId(9), false, junk).is_err());
        // Senders with parts in flight are bounded.
        for who in 0..100u32 {
            let p = Part {
                seq: 1,
                index: 0,
                count: 2,
                bytes: vec![1; 10],
            };
            assert_eq!(b.receive(ParticipantId(who), false, p), Ok(None));
        }
        assert_eq!(b.incoming.len(), MAX_ASSEMBLIES);
        b.forget(ParticipantId(99));
        assert_eq!(b.incoming.len(), MAX_ASSEMBLIES - 1);
        // Wire shapes that lie are not notes messages.
        assert_eq!(Wire::decode(&[KIND_UPDATE, 0, 0, 0, 1, 0, 5, 0, 2]), None);
        assert_eq!(Wire::decode(&[KIND_UPDATE, 0, 0, 0, 1, 0, 0, 0, 0]), None);
        assert_eq!(Wire::decode(&[9, 1, 2]), None);
        assert_eq!(Wire::decode(&[]), None);
        let w = Wire::State(Part {
            seq: 7,
            index: 1,
            count: 3,
            bytes: b"xyz".to_vec(),
        });
        assert_eq!(Wire::decode(&w.encode()), Some(w));
        // Strokes out of range, too long or too many points are refused.
        let mut a = Notes::new();
        for bad in [
            (0x1_000_000, 5, vec![(1, 1)]),
            (0, 0, vec![(1, 1)]),
            (0, 5, vec![]),
            (0, 5, vec![(BOARD_SIZE + 1, 0)]),
            (0, 5, vec![(1, 1); MAX_STROKE_POINTS + 1]),
        ] {
            let (color, width, points) = bad;
            assert!(
                a.edit(NotesEdit::Draw {
                    color,
                    width,
                    points
                })
                .is_err()
            );
        }
        assert!(
            a.edit(NotesEdit::SetText("x".repeat(MAX_TEXT_BYTES + 1)))
                .is_err()
        );
        assert!(!a.has_pending());
        assert_eq!(Stroke::decode("1 ff0000 5 1,1 <script>"), None);
    }

    #[test]
    fn the_difference_keeps_characters_whole() {
        assert_eq!(difference("héllo", "hallo"), (1, 2, "a"));
        assert_eq!(difference("abc", "abXc"), (2, 0, "X"));
        assert_eq!(difference("abc", ""), (0, 3, ""));
        assert_eq!(difference("ßß", "ß"), (2, 2, ""));
        let mut a = Notes::new();
        a.edit(NotesEdit::SetText("Grüße 👋 an alle".into()))
            .unwrap();
        a.edit(NotesEdit::SetText("Grüße 👋👋 an alle!".into()))
            .unwrap();
        assert_eq!(a.text(), "Grüße 👋👋 an alle!");
    }

    #[test]
    fn a_newcomer_asks_one_member_then_the_next_and_stops_in_the_end() {
        let t = Instant::now();
        let me = ParticipantId(5);
        let members = [ParticipantId(1), ParticipantId(2), ParticipantId(3)];
        let mut c = Catchup::default();
        let first = c.next_ask(t, me, &members).unwrap();
        assert!(c.asked(first));
        assert_eq!(c.next_ask(t + ASK_AGAIN / 2, me, &members), None);
        let second = c.next_ask(t + ASK_AGAIN, me, &members).unwrap();
        assert_ne!(first, second);
        // The one we wait on leaves: the next is asked at once.
        c.gone(second);
        assert!(c.next_ask(t + ASK_AGAIN, me, &members).is_some());
        c.settled();
        assert!(c.is_synced());
        assert_eq!(c.next_ask(t + ASK_AGAIN * 9, me, &members), None);
        // Something missed: asked again after the delay, and given up after MAX_ASKS.
        c.restart(t, ASK_AGAIN);
        assert_eq!(c.next_ask(t, me, &members), None);
        let mut asks = 0;
        for i in 1..=(MAX_ASKS + 3) {
            asks += usize::from(c.next_ask(t + ASK_AGAIN * i, me, &members).is_some());
        }
        assert_eq!(asks, MAX_ASKS as usize);
        assert!(c.is_synced());
        // Alone: nothing to ask.
        let mut alone = Catchup::default();
        assert_eq!(alone.next_ask(t, me, &[]), None);
        assert!(alone.is_synced());
        // Answers to one member are spaced.
        assert!(c.may_answer(ParticipantId(2), t));
        assert!(!c.may_answer(ParticipantId(2), t + ANSWER_EVERY / 2));
        assert!(c.may_answer(ParticipantId(3), t));
        assert!(c.may_answer(ParticipantId(2), t + ANSWER_EVERY));
    }

    #[test]
    fn exports_are_markdown_and_svg() {
        let mut a = Notes::new();
        a.edit(NotesEdit::AppendLine("# Minutes".into())).unwrap();
        a.edit(NotesEdit::AppendLine("- agreed".into())).unwrap();
        assert_eq!(a.markdown(), "# Minutes\n- agreed\n");
        a.edit(NotesEdit::Draw {
            color: 0x00aa00,
            width: 30,
            points: vec![(0, 0), (1600, 1600)],
        })
        .unwrap();
        let svg = a.svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("d=\"M0 0 L1600 900\""), "{svg}");
        assert!(svg.contains("stroke=\"#00aa00\""));
    }
}

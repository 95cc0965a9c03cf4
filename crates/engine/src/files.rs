//! Files, sealed end to end, sent through the meeting server when a host allows it.
//!
//! - **The offer** names the file's size in the clear (the server enforces its limit, and
//!   could count the sealed parts anyway); its name and SHA-256 travel sealed, as an MLS
//!   application message.
//! - **The content** follows in parts of [`FILE_CHUNK_BYTES`], each an MLS application message,
//!   about ten a second (half the server's message rate, so chat and the rest keep flowing).
//!   A receiver checks that each part comes from the sender MLS names, that no more comes than
//!   the size said, and the checksum at the end; only then is the file handed over, to be
//!   saved where the person chooses. Nothing is ever opened.
//! - **Names** are made safe to show and to save ([`safe_file_name`]): no folders, no control
//!   or direction-changing characters (which can make `exe.pdf` look like `pdf.exe`), no
//!   characters a file system refuses, and a mark on kinds of file that run when opened.
//!
//! Bounds: at most [`MAX_INCOMING`] files arriving at once (a further offer is refused here),
//! each at most the size the server announced (and never over [`MAX_FILE_BYTES`]).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use web_time::Instant;

use parley_proto::message::{FILE_CHUNK_BYTES, file_chunks};
use parley_proto::{ParticipantId, TransferId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Files being received at once; a further offer is refused until one is done.
pub const MAX_INCOMING: usize = 4;
/// Files waiting to be numbered or sent.
pub const MAX_OUTGOING: usize = 2;
/// Largest file this client sends or takes, whatever a server announces.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Longest name kept, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// An offer the server has not numbered in this long was refused (its refusal said why):
/// the file is let go.
const NUMBERING_TIMEOUT: Duration = Duration::from_secs(10);

/// Endings of files that run programs when opened: such a file is marked `risky` and the UI
/// says so before it is saved.
const RISKY: &[&str] = &[
    "exe", "com", "bat", "cmd", "scr", "pif", "msi", "msp", "msc", "cpl", "dll", "ps1", "psm1",
    "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta", "jar", "lnk", "reg", "sh", "bash", "zsh",
    "command", "app", "pkg", "dmg", "deb", "rpm", "appimage", "desktop", "run", "bin", "py", "pl",
    "rb", "php", "iso", "img", "vhd", "vhdx", "docm", "xlsm", "pptm", "url", "scf", "inf", "sys",
    "drv", "ocx", "apk",
];

/// A file name fit to show and to save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafeName {
    /// The name: no folders, no control or direction characters, nothing a file system
    /// refuses, at most [`MAX_NAME_CHARS`] characters; never empty.
    pub name: String,
    /// It ends in a kind of file that runs when opened.
    pub risky: bool,
}

/// Make a name received from someone safe to show and to save.
pub fn safe_file_name(raw: &str) -> SafeName {
    // The last part of any path, whichever separator it uses.
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_direction_mark(*c))
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    // Runs of spaces can push a second ending out of sight ("report.pdf      .exe").
    while name.contains("  ") {
        name = name.replace("  ", " ");
    }
    let mut name = name
        .trim_matches(|c: char| c == ' ' || c == '.')
        .to_string();
    if name.chars().count() > MAX_NAME_CHARS {
        // Keep the ending: it says what the file is.
        let ending: String = match name.rsplit_once('.') {
            Some((_, e)) if e.chars().count() <= 16 => format!(".{e}"),
            _ => String::new(),
        };
        let keep = MAX_NAME_CHARS - ending.chars().count();
        name = name.chars().take(keep).collect::<String>() + &ending;
    }
    if name.is_empty() {
        name = "file".into();
    }
    let risky = name
        .rsplit_once('.')
        .is_some_and(|(_, e)| RISKY.contains(&e.to_ascii_lowercase().as_str()));
    SafeName { name, risky }
}

/// Characters that change the direction text is shown in (and zero-width joiners), with
/// which a name can be made to look like another.
fn is_direction_mark(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        | '\u{061C}' | '\u{FEFF}')
}

/// What happened to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// Someone is sending us a file (it arrives on its own; nothing is saved yet).
    Offered {
        /// Its number.
        transfer: TransferId,
        /// Who sends it.
        from: ParticipantId,
        /// Its name, made safe.
        name: SafeName,
        /// Its size in bytes.
        size: u64,
    },
    /// Our file was numbered by the server and is being sent.
    Sending {
        /// Its number.
        transfer: TransferId,
        /// Its name.
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// More of a file went or came (about every tenth of it).
    Progress {
        /// Which.
        transfer: TransferId,
        /// Bytes so far.
        done: u64,
        /// Of.
        size: u64,
    },
    /// A file arrived whole and its checksum matches: the person may save it.
    Received {
        /// Its number.
        transfer: TransferId,
        /// Who sent it.
        from: ParticipantId,
        /// Its name, made safe.
        name: SafeName,
        /// The content.
        data: Vec<u8>,
    },
    /// Our file was sent whole.
    Sent {
        /// Its number.
        transfer: TransferId,
    },
    /// A file stopped: cancelled, its sender left, file transfer was switched off, or what
    /// came did not check out.
    Failed {
        /// Its number.
        transfer: TransferId,
        /// Why, for a person.
        reason: String,
    },
}

/// Why a file was not sent; the sentence is for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// Larger than the server takes.
    #[error("the file is {size} bytes; this meeting server takes files up to {limit} bytes")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Two files are on their way already.
    #[error("two files are being sent already; wait until one has gone")]
    Busy,
    /// The host has not allowed file transfer.
    #[error("the host has not allowed sending files in this meeting")]
    Off,
    /// Sealing failed (no keys yet).
    #[error("{0}")]
    Sealing(String),
}

/// What is sealed in an offer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileMeta {
    pub name: String,
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

impl FileMeta {
    pub(crate) fn of(name: &str, data: &[u8]) -> Self {
        FileMeta {
            name: name.to_string(),
            size: data.len() as u64,
            sha256: hex(&Sha256::digest(data)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct Outgoing {
    /// The sealed offer (the server's echo carries it back with the number).
    body: String,
    name: String,
    data: Vec<u8>,
    transfer: Option<TransferId>,
    next: u64,
    offered_at: Instant,
}

#[derive(Debug)]
struct Incoming {
    from: ParticipantId,
    name: SafeName,
    size: u64,
    sha256: String,
    data: Vec<u8>,
    chunks_left: u64,
    /// Tenths reported so far.
    reported: u64,
}

/// The files a participant's client is sending and receiving.
#[derive(Debug)]
pub struct Files {
    outgoing: VecDeque<Outgoing>,
    incoming: HashMap<TransferId, Incoming>,
    /// The largest file the server takes (from its `welcome`).
    pub(crate) max_bytes: u64,
    /// The host allows file transfer (the meeting's switch, as last told).
    pub(crate) allowed: bool,
}

impl Default for Files {
    fn default() -> Self {
        Files {
            outgoing: VecDeque::new(),
            incoming: HashMap::new(),
            max_bytes: MAX_FILE_BYTES,
            allowed: false,
        }
    }
}

impl Files {
    /// Check a file before it is sealed.
    pub(crate) fn check(&self, size: u64) -> Result<(), FileError> {
        if !self.allowed {
            return Err(FileError::Off);
        }
        let limit = self.max_bytes.min(MAX_FILE_BYTES);
        if size > limit {
            return Err(FileError::TooLarge { size, limit });
        }
        if self.outgoing.len() >= MAX_OUTGOING {
            return Err(FileError::Busy);
        }
        Ok(())
    }

    /// Keep a file to send once the server numbers its offer (sealed as `body`).
    pub(crate) fn sending(&mut self, body: String, name: String, data: Vec<u8>, now: Instant) {
        self.outgoing.push_back(Outgoing {
            body,
            name,
            data,
            transfer: None,
            next: 0,
            offered_at: now,
        });
    }

    /// Let go of offers the server refused (never numbered); their names.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<String> {
        let mut gone = Vec::new();
        self.outgoing.retain(|o| {
            let refused = o.transfer.is_none()
                && now.saturating_duration_since(o.offered_at) >= NUMBERING_TIMEOUT;
            if refused {
                gone.push(o.name.clone());
            }
            !refused
        });
        gone
    }

    /// The server numbered one of our offers.
    pub(crate) fn numbered(&mut self, transfer: TransferId, body: &str) -> Option<FileEvent> {
        let o = self
            .outgoing
            .iter_mut()
            .find(|o| o.transfer.is_none() && o.body == body)?;
        o.transfer = Some(transfer);
        Some(FileEvent::Sending {
            transfer,
            name: o.name.clone(),
            size: o.data.len() as u64,
        })
    }

    /// The next part to seal and send (one per call, the files taking turns), with progress
    /// and completion events. `None` when nothing is due.
    pub(crate) fn next_part(&mut self) -> Option<(TransferId, Vec<u8>, Vec<FileEvent>)> {
        let i = self.outgoing.iter().position(|o| o.transfer.is_some())?;
        let mut o = self.outgoing.remove(i)?;
        let transfer = o.transfer?;
        let size = o.data.len() as u64;
        let start = (o.next * FILE_CHUNK_BYTES).min(size);
        let end = (start + FILE_CHUNK_BYTES).min(size);
        let part = o.data[start as usize..end as usize].to_vec();
        o.next += 1;
        let mut events = Vec::new();
        let tenth = |done: u64| done * 10 / size.max(1);
        if tenth(end) > tenth(start) && end < size {
            events.push(FileEvent::Progress {
                transfer,
                done: end,
                size,
            });
        }
        if o.next >= file_chunks(size) {
            events.push(FileEvent::Sent { transfer });
        } else {
            // To the back: another file's part goes next.
            self.outgoing.push_back(o);
        }
        Some((transfer, part, events))
    }

    /// Someone offers us a file; `None` and a failure if we cannot take it.
    pub(crate) fn offered(
        &mut self,
        transfer: TransferId,
        from: ParticipantId,
        size: u64,
        meta: FileMeta,
    ) -> FileEvent {
        if meta.size != size || size > MAX_FILE_BYTES || meta.sha256.len() != 64 {
            return FileEvent::Failed {
                transfer,
                reason: "the file's description does not match what was sent".into(),
            };
        }
        if self.incoming.len() >= MAX_INCOMING {
            return FileEvent::Failed {
                transfer,
                reason: format!(
                    "{MAX_INCOMING} files are arriving already; ask for it again later"
                ),
            };
        }
        let name = safe_file_name(&meta.name);
        self.incoming.insert(
            transfer,
            Incoming {
                from,
                name: name.clone(),
                size,
                sha256: meta.sha256,
                // Grown as parts come: a large size alone reserves nothing.
                data: Vec::new(),
                chunks_left: file_chunks(size),
                reported: 0,
            },
        );
        FileEvent::Offered {
            transfer,
            from,
            name,
            size,
        }
    }

    /// Whether a part of `transfer` from `from` is expected.
    pub(crate) fn expects(&self, transfer: TransferId, from: ParticipantId) -> bool {
        self.incoming.get(&transfer).is_some_and(|i| i.from == from)
    }

    /// A part came (opened; `None`: it did not open as the sender's). Events: progress, the
    /// whole file, or a failure.
    pub(crate) fn part(&mut self, transfer: TransferId, part: Option<Vec<u8>>) -> Vec<FileEvent> {
        let Some(i) = self.incoming.get_mut(&transfer) else {
            return Vec::new();
        };
        let fail = |reason: &str| FileEvent::Failed {
            transfer,
            reason: reason.into(),
        };
        let Some(part) = part else {
            self.incoming.remove(&transfer);
            return vec![fail("a part of the file could not be decrypted")];
        };
        if i.data.len() as u64 + part.len() as u64 > i.size || i.chunks_left == 0 {
            self.incoming.remove(&transfer);
            return vec![fail("more came than the file's size")];
        }
        i.data.extend_from_slice(&part);
        i.chunks_left -= 1;
        let done = i.data.len() as u64;
        let mut events = Vec::new();
        let tenth = done * 10 / i.size.max(1);
        if tenth > i.reported && done < i.size {
            i.reported = tenth;
            events.push(FileEvent::Progress {
                transfer,
                done,
                size: i.size,
            });
        }
        if i.chunks_left == 0 {
            let Some(i) = self.incoming.remove(&transfer) else {
                return events;
            };
            if i.data.len() as u64 != i.size || hex(&Sha256::digest(&i.data)) != i.sha256 {
                events.push(fail("the file did not arrive intact; ask for it again"));
            } else {
                events.push(FileEvent::Received {
                    transfer,
                    from: i.from,
                    name: i.name,
                    data: i.data,
                });
            }
        }
        events
    }

    /// A transfer stopped (the server says so): ours or one coming to us.
    pub(crate) fn cancelled(&mut self, transfer: TransferId) -> Option<FileEvent> {
        let ours = self
            .outgoing
            .iter()
            .position(|o| o.transfer == Some(transfer));
        let known = match ours {
            Some(at) => self.outgoing.remove(at).is_some(),
            None => self.incoming.remove(&transfer).is_some(),
        };
        known.then(|| FileEvent::Failed {
            transfer,
            reason: "the file stopped: its sender cancelled or left, or a host switched file transfer off".into(),
        })
    }

    /// Start over on a new connection: transfers under way are void.
    pub(crate) fn reconnected(&mut self) -> Vec<FileEvent> {
        let mut events: Vec<FileEvent> = self
            .incoming
            .drain()
            .map(|(transfer, _)| transfer)
            .chain(self.outgoing.drain(..).filter_map(|o| o.transfer))
            .map(|transfer| FileEvent::Failed {
                transfer,
                reason: "the connection dropped; send the file again".into(),
            })
            .collect();
        events.sort_by_key(|e| match e {
            FileEvent::Failed { transfer, .. } => *transfer,
            _ => TransferId(0),
        });
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_folders_direction_marks_and_hidden_endings() {
        let n = |s: &str| safe_file_name(s).name;
        assert_eq!(n("../../etc/passwd"), "passwd");
        assert_eq!(n("C:\\Users\\ann\\report.pdf"), "report.pdf");
        assert_eq!(n("\\\\fileserver\\share\\notes.txt"), "notes.txt");
        // U+202E makes "invoice_fdp.exe" look like "invoice_exe.pdf".
        let tricked = safe_file_name("invoice_\u{202E}fdp.exe");
        assert_eq!(tricked.name, "invoice_fdp.exe");
        assert!(tricked.risky);
        assert_eq!(n("report.pdf        .exe"), "report.pdf .exe");
        assert!(safe_file_name("report.pdf        .EXE").risky);
        assert_eq!(n("a<b>c:d\"e|f?g*h.txt"), "a_b_c_d_e_f_g_h.txt");
        assert_eq!(n("line\nbreak\u{0}.txt"), "linebreak.txt");
        assert_eq!(n("..."), "file");
        assert_eq!(n(""), "file");
        let long = format!("{}.pdf", "x".repeat(300));
        let kept = n(&long);
        assert_eq!(kept.chars().count(), MAX_NAME_CHARS);
        assert!(kept.ends_with(".pdf"), "the ending survives: {kept}");
        assert!(!safe_file_name("minutes.odt").risky);
    }

    #[test]
    fn parts_rebuild_the_file_and_a_bad_checksum_or_excess_fails() {
        let data: Vec<u8> = (0..(FILE_CHUNK_BYTES * 2 + 5)).map(|i| i as u8).collect();
        let meta = || FileMeta::of("a.bin", &data);
        let mut f = Files::default();
        let t = TransferId(1);
        let from = ParticipantId(2);
        assert!(matches!(
            f.offered(t, from, data.len() as u64, meta()),
            FileEvent::Offered { .. }
        ));
        assert!(f.expects(t, from));
        assert!(!f.expects(t, ParticipantId(3)), "only from its sender");
        let mut events = Vec::new();
        for c in data.chunks(FILE_CHUNK_BYTES as usize) {
            events.extend(f.part(t, Some(c.to_vec())));
        }
        match events.last() {
            Some(FileEvent::Received {
                data: got, name, ..
            }) => {
                assert_eq!(got, &data);
                assert_eq!(name.name, "a.bin");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            events
                .iter()
                .any(|e| matches!(e, FileEvent::Progress { .. }))
        );

        // The same size, other content: the checksum catches it.
        let t2 = TransferId(2);
        f.offered(t2, from, data.len() as u64, meta());
        let mut last = Vec::new();
        for c in data.chunks(FILE_CHUNK_BYTES as usize) {
            let mut c = c.to_vec();
            c[0] ^= 1;
            last = f.part(t2, Some(c));
        }
        assert!(matches!(last.last(), Some(FileEvent::Failed { .. })));

        // A description that does not match the size is refused.
        assert!(matches!(
            f.offered(TransferId(3), from, 5, meta()),
            FileEvent::Failed { .. }
        ));
    }

    #[test]
    fn at_most_four_files_arrive_at_once_and_sending_takes_turns() {
        let mut f = Files::default();
        for i in 0..MAX_INCOMING as u32 {
            let e = f.offered(
                TransferId(i),
                ParticipantId(2),
                3,
                FileMeta::of("x", b"abc"),
            );
            assert!(matches!(e, FileEvent::Offered { .. }));
        }
        let e = f.offered(
            TransferId(9),
            ParticipantId(2),
            3,
            FileMeta::of("x", b"abc"),
        );
        assert!(matches!(e, FileEvent::Failed { .. }));

        let mut f = Files::default();
        assert_eq!(f.check(1), Err(FileError::Off), "until the host allows it");
        f.allowed = true;
        let now = Instant::now();
        let big = vec![7u8; (FILE_CHUNK_BYTES * 2) as usize];
        f.sending("b1".into(), "one".into(), big.clone(), now);
        f.sending("b2".into(), "two".into(), big, now);
        assert_eq!(f.check(1), Err(FileError::Busy));
        assert!(
            f.next_part().is_none(),
            "nothing before the server numbers them"
        );
        f.numbered(TransferId(1), "b1");
        f.numbered(TransferId(2), "b2");
        let order: Vec<TransferId> = std::iter::from_fn(|| f.next_part().map(|p| p.0)).collect();
        assert_eq!(
            order,
            [TransferId(1), TransferId(2), TransferId(1), TransferId(2)]
        );
        f.max_bytes = 10;
        assert!(matches!(f.check(11), Err(FileError::TooLarge { .. })));

        // An offer never numbered (the server refused it) is let go after a while.
        f.sending("b3".into(), "three".into(), vec![1], now);
        assert!(f.expire(now + Duration::from_secs(1)).is_empty());
        assert_eq!(f.expire(now + NUMBERING_TIMEOUT), ["three"]);
    }
}

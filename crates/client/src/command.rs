//! The commands typed on standard input during a meeting.

use std::collections::BTreeMap;

use parley_engine::notes::NotesEdit;

use parley_proto::{
    ClientMessage, DisplayName, ParticipantId, PolicyChange, PollId, Reaction, ShareRule,
    TransferId,
};

/// What a typed line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// Send this to the server.
    Send(ClientMessage),
    /// React (sealed end to end before it is sent).
    React(Reaction),
    /// Raise (`true`) or lower one's hand (sealed end to end before it is sent).
    Hand(bool),
    /// Open a poll (sealed end to end before it is sent).
    OpenPoll {
        /// The question.
        question: String,
        /// The options.
        options: Vec<String>,
        /// Several may be chosen.
        multiple: bool,
        /// Votes reach the hosts without the voter.
        anonymous: bool,
    },
    /// Vote: the poll and the options chosen (indexes from 0).
    Vote(PollId, Vec<u8>),
    /// Share a poll's results with everyone.
    SharePoll(PollId),
    /// Send a file (sealed), to one participant or everyone.
    SendFile(std::path::PathBuf, Option<ParticipantId>),
    /// Save a received file at this path (never over an existing file).
    SaveFile(TransferId, std::path::PathBuf),
    /// Forget a received file without saving it.
    DiscardFile(TransferId),
    /// Change the shared notes or whiteboard.
    Notes(NotesEdit),
    /// Print the shared notes and whiteboard.
    ShowNotes,
    /// Open this many breakout rooms, everyone else here dealt into them at random.
    BreakoutRandom {
        /// How many rooms.
        rooms: usize,
        /// For how long.
        minutes: Option<u16>,
    },
    /// A message to every breakout room (sealed with the link's key).
    BreakoutBroadcast(String),
    /// Save the notes as Markdown at this path (never over an existing file).
    SaveNotes(std::path::PathBuf),
    /// Save the whiteboard as SVG at this path (never over an existing file).
    SaveBoard(std::path::PathBuf),
    /// Print the invite link again (host only).
    Link,
    /// List who is here and who waits.
    Who,
    /// Print the command list.
    Help,
    /// Use another camera (a name or id, `default`), or none (`off`).
    Camera(Option<String>),
    /// Use another microphone, or none.
    Microphone(Option<String>),
    /// Play on another speaker.
    Speaker(String),
    /// How loud a participant is for me, 0–200 %.
    Volume(ParticipantId, u16),
    /// Silence a participant for me only (or hear them again).
    MuteForMe(ParticipantId, bool),
    /// An empty line.
    Nothing,
}

/// The command list.
pub const HELP: &str = "\
Everyone:  breakout return (from a breakout room)
           chat TEXT | dm WHO TEXT | hand up|down | react thumbs_up|clap|heart|laugh|surprised|celebrate
           mute | unmute | rename NAME | share on|off | who | leave
           vote POLL N[,N...]   (options numbered from 1)
           record on|off   (with --record DIR, while the host allows recording)
           send-file [--to WHO] PATH | save-file N PATH | discard-file N | cancel-file N
               (when a host allows file transfer)
           note TEXT (a line at the end of the shared notes) | notes | notes save PATH
           draw #RRGGBB WIDTH X,Y X,Y ...  (0-10000 each) | erase STROKE | board clear
           board save PATH (SVG)
Devices:   camera NAME|default|off | mic NAME|default|off | speaker NAME|default
           volume WHO PERCENT (0-200) | mute-for-me WHO | unmute-for-me WHO
Hosts:     admit WHO | admit-all | deny WHO | remove WHO | lock | unlock | mute-all
           ask-unmute WHO | stage WHO on|off | cohost WHO | uncohost WHO | transfer WHO
           passcode CODE|none
           poll open [--multiple] [--anonymous] QUESTION | OPTION | OPTION ...
           poll close POLL | poll share POLL
           breakout open [--minutes N] WHO,WHO | WHO | ...  (one group per room)
           breakout random N [--minutes N] | breakout visit N | breakout broadcast TEXT
           breakout close
           set SWITCH on|off (waiting_room chat private_chat rename unmute_self
               file_transfer save_chat announce_join_leave auto_promote screen_share
               event_mode recording notes_locked)
           capacity N | link | end
WHO is a participant number (#3 or 3) or a unique name.";

/// Parse one line. `names` maps known participant numbers to names, for WHO given by name.
pub fn parse(line: &str, names: &BTreeMap<ParticipantId, String>) -> Result<Command, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Command::Nothing);
    }
    let (verb, rest) = match line.split_once(char::is_whitespace) {
        Some((v, r)) => (v, r.trim()),
        None => (line, ""),
    };
    let who = |s: &str| resolve(s, names);
    let on_off = |s: &str| match s {
        "on" | "up" | "yes" | "true" => Ok(true),
        "off" | "down" | "no" | "false" => Ok(false),
        _ => Err(format!("expected on or off, got {s:?}")),
    };
    let send = |m: ClientMessage| Ok(Command::Send(m));
    match verb {
        "help" | "?" => Ok(Command::Help),
        "who" => Ok(Command::Who),
        "link" => Ok(Command::Link),
        "leave" | "quit" | "exit" => send(ClientMessage::Leave {}),
        "chat" | "say" => {
            nonempty(rest, "chat TEXT")?;
            send(ClientMessage::Chat {
                to: None,
                body: rest.to_string(),
            })
        }
        "dm" => {
            let (target, text) = rest
                .split_once(char::is_whitespace)
                .ok_or("usage: dm WHO TEXT")?;
            send(ClientMessage::Chat {
                to: Some(who(target)?),
                body: text.trim().to_string(),
            })
        }
        "hand" => Ok(Command::Hand(on_off(if rest.is_empty() {
            "up"
        } else {
            rest
        })?)),
        "react" => {
            let reaction: Reaction = serde_json::from_value(serde_json::Value::String(rest.into()))
                .map_err(|_| format!("unknown reaction {rest:?}; try thumbs_up, clap, heart"))?;
            Ok(Command::React(reaction))
        }
        "poll" => poll(rest),
        "breakout" => breakout(rest, names),
        "note" => {
            nonempty(rest, "note TEXT")?;
            Ok(Command::Notes(NotesEdit::AppendLine(rest.to_string())))
        }
        "notes" => match rest.split_once(char::is_whitespace) {
            None if rest.is_empty() => Ok(Command::ShowNotes),
            Some(("save", path)) => Ok(Command::SaveNotes(path.trim().into())),
            _ => Err("usage: notes | notes save PATH".into()),
        },
        "draw" => draw(rest),
        "erase" => Ok(Command::Notes(NotesEdit::Erase(
            rest.trim_start_matches('#')
                .parse()
                .map_err(|_| format!("a stroke is named by its number; got {rest:?}"))?,
        ))),
        "board" => match rest.split_once(char::is_whitespace) {
            None if rest == "clear" => Ok(Command::Notes(NotesEdit::ClearBoard)),
            Some(("save", path)) => Ok(Command::SaveBoard(path.trim().into())),
            _ => Err("usage: board clear | board save PATH".into()),
        },
        "send-file" => {
            let (to, path) = match rest.strip_prefix("--to") {
                Some(r) => {
                    let (person, path) = r
                        .trim_start()
                        .split_once(char::is_whitespace)
                        .ok_or("usage: send-file [--to WHO] PATH")?;
                    (Some(who(person)?), path.trim())
                }
                None => (None, rest),
            };
            nonempty(path, "send-file [--to WHO] PATH")?;
            Ok(Command::SendFile(path.into(), to))
        }
        "save-file" => {
            let (n, path) = rest
                .split_once(char::is_whitespace)
                .ok_or("usage: save-file N PATH")?;
            Ok(Command::SaveFile(transfer_id(n)?, path.trim().into()))
        }
        "discard-file" => Ok(Command::DiscardFile(transfer_id(rest)?)),
        "cancel-file" => send(ClientMessage::FileCancel {
            transfer: transfer_id(rest)?,
        }),
        "vote" => {
            let (poll, choices) = rest
                .split_once(char::is_whitespace)
                .ok_or("usage: vote POLL N[,N...]")?;
            let choices = choices
                .split(',')
                .map(|c| {
                    c.trim()
                        .parse::<u8>()
                        .ok()
                        .and_then(|n| n.checked_sub(1))
                        .ok_or_else(|| format!("options are numbered from 1; got {c:?}"))
                })
                .collect::<Result<Vec<u8>, String>>()?;
            Ok(Command::Vote(poll_id(poll)?, choices))
        }
        "camera" => {
            nonempty(rest, "camera NAME|default|off")?;
            Ok(Command::Camera((rest != "off").then(|| rest.to_string())))
        }
        "mic" | "microphone" => {
            nonempty(rest, "mic NAME|default|off")?;
            Ok(Command::Microphone(
                (rest != "off").then(|| rest.to_string()),
            ))
        }
        "speaker" => {
            nonempty(rest, "speaker NAME|default")?;
            Ok(Command::Speaker(rest.to_string()))
        }
        "volume" => {
            let (target, percent) = rest
                .rsplit_once(char::is_whitespace)
                .ok_or("usage: volume WHO PERCENT")?;
            let percent: u16 = percent
                .trim_end_matches('%')
                .parse()
                .ok()
                .filter(|p| *p <= 200)
                .ok_or("the volume is a percentage from 0 to 200")?;
            Ok(Command::Volume(who(target)?, percent))
        }
        "mute-for-me" => Ok(Command::MuteForMe(who(rest)?, true)),
        "unmute-for-me" => Ok(Command::MuteForMe(who(rest)?, false)),
        "record" => send(ClientMessage::Record {
            on: on_off(if rest.is_empty() { "on" } else { rest })?,
        }),
        "mute" => send(ClientMessage::SetMuted { muted: true }),
        "unmute" => send(ClientMessage::SetMuted { muted: false }),
        "rename" => send(ClientMessage::Rename {
            name: DisplayName::new(rest).map_err(|e| e.to_string())?,
        }),
        "share" => send(ClientMessage::ShareScreen {
            sharing: on_off(rest)?,
        }),
        "admit" => send(ClientMessage::Admit { id: who(rest)? }),
        "admit-all" => send(ClientMessage::AdmitAll {}),
        "deny" => send(ClientMessage::Deny { id: who(rest)? }),
        "remove" => send(ClientMessage::Remove { id: who(rest)? }),
        "lock" => send(ClientMessage::Lock {}),
        "unlock" => send(ClientMessage::Unlock {}),
        "mute-all" => send(ClientMessage::MuteAll {}),
        "ask-unmute" => send(ClientMessage::AskUnmute { id: who(rest)? }),
        "stage" => {
            let (person, value) = rest
                .rsplit_once(char::is_whitespace)
                .ok_or("usage: stage WHO on|off")?;
            send(ClientMessage::SetStage {
                id: who(person.trim())?,
                on: on_off(value.trim())?,
            })
        }
        "cohost" => send(ClientMessage::MakeCohost { id: who(rest)? }),
        "uncohost" => send(ClientMessage::RevokeCohost { id: who(rest)? }),
        "transfer" => send(ClientMessage::TransferHost { id: who(rest)? }),
        "end" => send(ClientMessage::End {}),
        "passcode" => send(ClientMessage::SetPasscode {
            passcode: match rest {
                "" => return Err("usage: passcode CODE|none".into()),
                "none" => None,
                p => Some(p.to_string()),
            },
        }),
        "capacity" => send(ClientMessage::SetPolicy {
            change: PolicyChange {
                capacity: Some(rest.parse().map_err(|_| "usage: capacity N")?),
                ..Default::default()
            },
        }),
        "set" => {
            let (switch, value) = rest
                .split_once(char::is_whitespace)
                .ok_or("usage: set SWITCH on|off")?;
            let v = on_off(value.trim())?;
            let mut c = PolicyChange::default();
            match switch {
                "waiting_room" => c.waiting_room = Some(v),
                "auto_promote" => c.auto_promote = Some(v),
                "chat" => c.chat = Some(v),
                "private_chat" => c.private_chat = Some(v),
                "rename" => c.rename = Some(v),
                "unmute_self" => c.unmute_self = Some(v),
                "file_transfer" => c.file_transfer = Some(v),
                "save_chat" => c.save_chat = Some(v),
                "announce_join_leave" => c.announce_join_leave = Some(v),
                "event_mode" => c.event_mode = Some(v),
                "recording" => c.recording = Some(v),
                "notes_locked" => c.notes_locked = Some(v),
                "screen_share" => {
                    c.screen_share = Some(if v {
                        ShareRule::Everyone
                    } else {
                        ShareRule::HostsOnly
                    })
                }
                other => return Err(format!("unknown switch {other:?}; type help")),
            }
            send(ClientMessage::SetPolicy { change: c })
        }
        other => Err(format!("unknown command {other:?}; type help")),
    }
}

/// `poll open …`, `poll close POLL`, `poll share POLL`.
fn poll(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: poll open [--multiple] [--anonymous] QUESTION | OPTION | OPTION ... | poll close POLL | poll share POLL";
    let (verb, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    match verb {
        "open" => {
            let (mut multiple, mut anonymous) = (false, false);
            let mut text = rest.trim();
            loop {
                if let Some(t) = text.strip_prefix("--multiple") {
                    multiple = true;
                    text = t.trim_start();
                } else if let Some(t) = text.strip_prefix("--anonymous") {
                    anonymous = true;
                    text = t.trim_start();
                } else {
                    break;
                }
            }
            let mut parts = text.split('|').map(|p| p.trim().to_string());
            let question = parts.next().filter(|q| !q.is_empty()).ok_or(USAGE)?;
            Ok(Command::OpenPoll {
                question,
                options: parts.collect(),
                multiple,
                anonymous,
            })
        }
        "close" => Ok(Command::Send(ClientMessage::PollClose {
            poll: poll_id(rest.trim())?,
        })),
        "share" => Ok(Command::SharePoll(poll_id(rest.trim())?)),
        _ => Err(USAGE.into()),
    }
}

/// `breakout open|random|visit|return|broadcast|close …`
fn breakout(rest: &str, names: &BTreeMap<ParticipantId, String>) -> Result<Command, String> {
    const USAGE: &str = "usage: breakout open [--minutes N] WHO,WHO | WHO | ... | breakout random N [--minutes N] | breakout visit N | breakout return | breakout broadcast TEXT | breakout close";
    let (verb, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let rest = rest.trim();
    // `--minutes N` at the start of what follows.
    let minutes = |text: &str| -> Result<(Option<u16>, String), String> {
        match text.strip_prefix("--minutes") {
            Some(t) => {
                let t = t.trim_start();
                let (n, more) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
                let n: u16 = n.parse().map_err(|_| "--minutes takes a number")?;
                Ok((Some(n), more.trim().to_string()))
            }
            None => Ok((None, text.to_string())),
        }
    };
    match verb {
        "open" => {
            let (minutes, text) = minutes(rest)?;
            let rooms = text
                .split('|')
                .map(|room| {
                    room.split(',')
                        .map(str::trim)
                        .filter(|w| !w.is_empty())
                        .map(|w| resolve(w, names))
                        .collect::<Result<Vec<ParticipantId>, String>>()
                })
                .collect::<Result<Vec<_>, String>>()?;
            if rooms.iter().all(Vec::is_empty) {
                return Err(USAGE.into());
            }
            Ok(Command::Send(ClientMessage::BreakoutOpen {
                rooms,
                minutes,
            }))
        }
        "random" => {
            let (n, more) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let rooms: usize = n
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or("breakout random takes a number of rooms")?;
            let (minutes, _) = minutes(more.trim())?;
            Ok(Command::BreakoutRandom { rooms, minutes })
        }
        "visit" => Ok(Command::Send(ClientMessage::BreakoutVisit {
            room: rest
                .parse()
                .map_err(|_| "breakout visit takes a room number")?,
        })),
        "return" => Ok(Command::Send(ClientMessage::BreakoutReturn {})),
        "broadcast" => {
            nonempty(rest, "breakout broadcast TEXT")?;
            Ok(Command::BreakoutBroadcast(rest.to_string()))
        }
        "close" => Ok(Command::Send(ClientMessage::BreakoutClose {})),
        _ => Err(USAGE.into()),
    }
}

/// Deal `people` into `rooms` rooms at random (each room gets its share, give or take one).
pub fn deal(mut people: Vec<ParticipantId>, rooms: usize) -> Vec<Vec<ParticipantId>> {
    use std::hash::BuildHasher as _;
    // A fresh random seed per call (std's hasher keys come from the operating system).
    let random = std::collections::hash_map::RandomState::new();
    for i in (1..people.len()).rev() {
        let j = (random.hash_one(i) % (i as u64 + 1)) as usize;
        people.swap(i, j);
    }
    let mut out = vec![Vec::new(); rooms.max(1)];
    for (i, p) in people.into_iter().enumerate() {
        out[i % rooms.max(1)].push(p);
    }
    out
}

/// `draw #RRGGBB WIDTH X,Y X,Y ...`
fn draw(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: draw #RRGGBB WIDTH X,Y X,Y ... (coordinates 0-10000)";
    let mut it = rest.split_whitespace();
    let color = it
        .next()
        .and_then(|c| u32::from_str_radix(c.trim_start_matches('#'), 16).ok())
        .ok_or(USAGE)?;
    let width = it.next().and_then(|w| w.parse().ok()).ok_or(USAGE)?;
    let points = it
        .map(|p| {
            let (x, y) = p.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect::<Option<Vec<(u16, u16)>>>()
        .ok_or(USAGE)?;
    Ok(Command::Notes(NotesEdit::Draw {
        color,
        width,
        points,
    }))
}

fn transfer_id(s: &str) -> Result<TransferId, String> {
    s.trim()
        .trim_start_matches('#')
        .parse()
        .map(TransferId)
        .map_err(|_| format!("a file is named by its number; got {s:?}"))
}

fn poll_id(s: &str) -> Result<PollId, String> {
    s.trim_start_matches('#')
        .parse()
        .map(PollId)
        .map_err(|_| format!("a poll is named by its number; got {s:?}"))
}

fn nonempty(s: &str, usage: &str) -> Result<(), String> {
    if s.is_empty() {
        Err(format!("usage: {usage}"))
    } else {
        Ok(())
    }
}

fn resolve(s: &str, names: &BTreeMap<ParticipantId, String>) -> Result<ParticipantId, String> {
    let s = s.trim();
    if let Ok(n) = s.trim_start_matches('#').parse::<u32>() {
        return Ok(ParticipantId(n));
    }
    let matches: Vec<_> = names.iter().filter(|(_, n)| n.as_str() == s).collect();
    match matches.as_slice() {
        [(id, _)] => Ok(**id),
        [] => Err(format!(
            "nobody called {s:?} here; use their number (see who)"
        )),
        _ => Err(format!(
            "several people are called {s:?}; use their number (see who)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakout_rooms_are_given_by_hand_or_dealt_at_random() {
        let names: BTreeMap<ParticipantId, String> = [(ParticipantId(2), "Ann".to_string())]
            .into_iter()
            .collect();
        assert_eq!(
            parse("breakout open --minutes 10 Ann,3 | 4", &names),
            Ok(Command::Send(ClientMessage::BreakoutOpen {
                rooms: vec![
                    vec![ParticipantId(2), ParticipantId(3)],
                    vec![ParticipantId(4)]
                ],
                minutes: Some(10),
            }))
        );
        assert!(parse("breakout open", &names).is_err());
        assert!(parse("breakout open Zed", &names).is_err());
        assert_eq!(
            parse("breakout random 3", &names),
            Ok(Command::BreakoutRandom {
                rooms: 3,
                minutes: None
            })
        );
        let people: Vec<ParticipantId> = (1..=10).map(ParticipantId).collect();
        let rooms = deal(people.clone(), 3);
        assert_eq!(rooms.iter().map(Vec::len).collect::<Vec<_>>(), [4, 3, 3]);
        let mut all: Vec<ParticipantId> = rooms.into_iter().flatten().collect();
        all.sort();
        assert_eq!(all, people);
    }

    #[test]
    fn parses_host_and_participant_commands() {
        let mut names = BTreeMap::new();
        names.insert(ParticipantId(3), "Gus".to_string());
        assert_eq!(
            parse("admit Gus", &names),
            Ok(Command::Send(ClientMessage::Admit {
                id: ParticipantId(3)
            }))
        );
        assert_eq!(
            parse("remove #7", &names),
            Ok(Command::Send(ClientMessage::Remove {
                id: ParticipantId(7)
            }))
        );
        assert_eq!(
            parse("chat hello  world", &names),
            Ok(Command::Send(ClientMessage::Chat {
                to: None,
                body: "hello  world".into()
            }))
        );
        assert!(matches!(
            parse("set file_transfer on", &names),
            Ok(Command::Send(ClientMessage::SetPolicy { .. }))
        ));
        assert_eq!(
            parse("stage Gus on", &names),
            Ok(Command::Send(ClientMessage::SetStage {
                id: ParticipantId(3),
                on: true
            }))
        );
        assert_eq!(
            parse("stage #4 off", &names),
            Ok(Command::Send(ClientMessage::SetStage {
                id: ParticipantId(4),
                on: false
            }))
        );
        assert!(parse("stage Gus", &names).is_err());
        assert!(matches!(
            parse("set event_mode on", &names),
            Ok(Command::Send(ClientMessage::SetPolicy { change })) if change.event_mode == Some(true)
        ));
        assert!(parse("admit Nobody", &names).is_err());
        assert!(parse("frobnicate", &names).is_err());
        assert_eq!(parse("   ", &names), Ok(Command::Nothing));
    }

    #[test]
    fn parses_device_and_listening_commands() {
        let mut names = BTreeMap::new();
        names.insert(ParticipantId(3), "Gus Grand".to_string());
        assert_eq!(parse("camera off", &names), Ok(Command::Camera(None)));
        assert_eq!(
            parse("mic USB Headset", &names),
            Ok(Command::Microphone(Some("USB Headset".into())))
        );
        assert_eq!(
            parse("speaker default", &names),
            Ok(Command::Speaker("default".into()))
        );
        assert_eq!(
            parse("volume Gus Grand 150%", &names),
            Ok(Command::Volume(ParticipantId(3), 150))
        );
        assert_eq!(
            parse("volume #4 0", &names),
            Ok(Command::Volume(ParticipantId(4), 0))
        );
        assert!(parse("volume 3 250", &names).is_err());
        assert!(parse("volume 3 loud", &names).is_err());
        assert_eq!(
            parse("mute-for-me 3", &names),
            Ok(Command::MuteForMe(ParticipantId(3), true))
        );
        assert_eq!(
            parse("unmute-for-me Gus Grand", &names),
            Ok(Command::MuteForMe(ParticipantId(3), false))
        );
        assert!(parse("camera", &names).is_err());
    }
}

//! # parley-web
//!
//! The browser guest's side of a meeting: the same [`MeetingEngine`] as the desktop app and
//! `parley-cli`, compiled to WebAssembly. The guest page's JavaScript is its driver: it opens
//! the WebSocket the engine asks for, hands it what arrives ([`Guest::handle_text`] …), carries
//! out what [`Guest::poll`] returns (JSON, one output at a time) and wakes it after
//! [`Guest::timeout_ms`]. The link's key stays in the page: only the room token and the signed
//! join reach the server, and every chat line is sealed end to end here.

use parley_engine::ClientError;
use parley_engine::e2ee::E2eeEvent;
use parley_engine::engine::{
    Action, Command, Ending, Event, JoinAs, MeetingEngine, Output, Unsent,
};
use parley_engine::frames::{FrameKind, FrameTransform};
use parley_proto::{ClientMessage, DisplayName, Identity, MeetingLink, ServerMessage};
use serde_json::{Value, json};
use wasm_bindgen::prelude::*;
use web_time::Instant;

/// One guest in one meeting.
#[wasm_bindgen]
pub struct Guest {
    engine: MeetingEngine,
    last_leaf: std::cell::Cell<u32>,
    ws_url: String,
    server: String,
}

fn refusal(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen]
impl Guest {
    /// A guest joining the meeting of `link` (the whole invite link, with its `#k=` key) as
    /// `name`, with a fresh identity key. Refused with a sentence for a bad link or name.
    #[wasm_bindgen(constructor)]
    pub fn new(link: &str, name: &str, passcode: Option<String>) -> Result<Guest, JsError> {
        let link = MeetingLink::parse(link).map_err(refusal)?;
        let join = JoinAs {
            room: link.token.clone(),
            key: link.key.clone(),
            name: DisplayName::new(name).map_err(refusal)?,
            identity: Identity::generate(),
            passcode: passcode.filter(|p| !p.is_empty()),
            host_secret: None,
        };
        let engine = MeetingEngine::new(join, Instant::now()).map_err(refusal)?;
        Ok(Guest {
            engine,
            last_leaf: std::cell::Cell::new(u32::MAX),
            ws_url: link.server.ws_url(),
            server: link.server.http_base(),
        })
    }

    /// The WebSocket opened.
    pub fn handle_open(&mut self) {
        self.engine.handle_open(Instant::now());
    }

    /// A text message arrived. One this version cannot read is ignored (the meeting goes on).
    pub fn handle_text(&mut self, text: &str) {
        if let Ok(m) = ServerMessage::decode(text) {
            self.engine.handle_message(Instant::now(), m);
        }
    }

    /// The WebSocket closed (or failed after opening).
    pub fn handle_closed(&mut self) {
        self.engine.handle_closed(Instant::now());
    }

    /// The WebSocket could not be opened.
    pub fn handle_connect_failed(&mut self, detail: &str) {
        let error = ClientError::Connect {
            server: self.server.clone(),
            detail: detail.to_string(),
        };
        self.engine.handle_connect_failed(Instant::now(), error);
    }

    /// Time passed (called when [`Guest::timeout_ms`] said).
    pub fn handle_timeout(&mut self) {
        self.engine.handle_timeout(Instant::now());
    }

    /// Milliseconds until [`Guest::handle_timeout`] is due; negative when nothing is.
    pub fn timeout_ms(&self) -> f64 {
        self.engine.poll_timeout().map_or(-1.0, |at| {
            at.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0
        })
    }

    /// Send a chat line to everyone (sealed end to end; held until the keys arrive).
    pub fn chat(&mut self, body: &str) {
        self.engine.handle_command(
            Instant::now(),
            Command::Chat {
                to: None,
                body: body.to_string(),
            },
        );
    }

    /// Vote in poll `poll`: the options chosen, by index (sealed; anonymous polls under the
    /// poll's own key). A vote that does not fit the poll is refused with a `not_sent`.
    pub fn vote(&mut self, poll: u32, choices: &[u8]) {
        self.engine.handle_command(
            Instant::now(),
            Command::Vote {
                poll: parley_proto::PollId(poll),
                choices: choices.to_vec(),
            },
        );
    }

    /// Raise or lower the hand (sealed).
    pub fn hand(&mut self, raised: bool) {
        self.engine
            .handle_command(Instant::now(), Command::Hand(raised));
    }

    /// Say whether this guest's microphone is off (`true`) or on; a host's hard mute may
    /// refuse the unmute (an `error` with kind `disabled_by_host` is then shown).
    pub fn set_muted(&mut self, muted: bool) {
        self.engine.handle_command(
            Instant::now(),
            Command::Send(ClientMessage::SetMuted { muted }),
        );
    }

    /// Leave the meeting (or stop joining).
    pub fn leave(&mut self) {
        self.engine.handle_command(Instant::now(), Command::Leave);
    }

    /// A message of the browser's media connection for the server (`{"type":"sdp_offer",…}`
    /// or `sdp_answer`), sent only while connected; anything else is refused.
    pub fn media_message(&mut self, json: &str) -> Result<(), JsError> {
        let msg: ClientMessage = serde_json::from_str(json).map_err(refusal)?;
        match msg {
            ClientMessage::SdpOffer { .. } | ClientMessage::SdpAnswer { .. } => {
                self.engine.handle_media_message(msg);
                Ok(())
            }
            _ => Err(JsError::new(
                "only sdp_offer and sdp_answer are media messages",
            )),
        }
    }

    /// Seal one encoded frame (an Opus packet if `audio`, else a VP8 frame) with the group's
    /// current key; `undefined` while there is none (the frame is then not sent: never in
    /// the clear).
    pub fn seal(&self, audio: bool, frame: &[u8]) -> Option<Vec<u8>> {
        FrameTransform::seal(&*self.engine.e2ee().frames(), kind(audio), frame.to_vec())
    }

    /// Open one received frame; `undefined` if it cannot be opened (no key yet, or it fails
    /// authentication): it is then dropped, never handed to a decoder. Whose it was is kept
    /// for [`Guest::last_sender_leaf`].
    pub fn open(&self, audio: bool, frame: &[u8]) -> Option<Vec<u8>> {
        let (frame, leaf) = parley_engine::e2ee::open_with_sender(
            &self.engine.e2ee().frames(),
            kind(audio),
            frame,
        )?;
        self.last_leaf.set(leaf);
        Some(frame)
    }

    /// The group leaf of the sender whose frame [`Guest::open`] opened last (proven by the key
    /// that opened it); the page asks [`Guest::participant_at`] when it changes.
    pub fn last_sender_leaf(&self) -> u32 {
        self.last_leaf.get()
    }

    /// The participant number of whoever holds group leaf `leaf`, if anyone admitted does.
    pub fn participant_at(&self, leaf: u32) -> Option<u32> {
        self.engine.e2ee().participant_at(leaf).map(|p| p.0)
    }

    /// The meeting's security code, once this guest holds the keys.
    pub fn security_code(&self) -> Option<String> {
        self.engine.e2ee().security_code().map(|c| c.to_string())
    }

    /// The next thing to do, as JSON (`{"kind":"send","text":…}`, `{"kind":"connect","url":…}`,
    /// `{"kind":"shown","message":…}`, `{"kind":"ended",…}`, …); `undefined` when there is
    /// nothing now.
    pub fn poll(&mut self) -> Option<String> {
        let out = self.engine.poll_output()?;
        Some(describe(out, &self.ws_url).to_string())
    }
}

fn kind(audio: bool) -> FrameKind {
    if audio {
        FrameKind::Audio
    } else {
        FrameKind::Video
    }
}

/// One engine output as the page's JavaScript reads it.
fn describe(out: Output, ws_url: &str) -> Value {
    match out {
        Output::Transmit(m) => json!({"kind": "send", "text": m.encode()}),
        Output::Action(Action::Connect) => json!({"kind": "connect", "url": ws_url}),
        Output::Action(Action::Disconnect) => json!({"kind": "disconnect"}),
        Output::Action(Action::StartMedia { you, ice_servers }) => json!({
            "kind": "start_media",
            "you": you.0,
            "ice_servers": serde_json::to_value(ice_servers).unwrap_or(Value::Null),
        }),
        Output::Action(Action::StopMedia) => json!({"kind": "stop_media"}),
        Output::Event(Event::Shown(m)) => {
            json!({"kind": "shown", "message": serde_json::to_value(&m).unwrap_or(Value::Null)})
        }
        Output::Event(Event::E2ee(e)) => match e {
            E2eeEvent::Secured {
                epoch,
                code,
                members,
            } => {
                json!({"kind": "secured", "epoch": epoch, "code": code.to_string(), "members": members})
            }
            E2eeEvent::Refused(message) => json!({"kind": "e2ee_refused", "message": message}),
            E2eeEvent::Removed => json!({"kind": "e2ee_removed"}),
            E2eeEvent::Reaction { from, reaction } => json!({
                "kind": "reaction",
                "from": from.0,
                "reaction": serde_json::to_value(reaction).unwrap_or(Value::Null),
            }),
            E2eeEvent::Hand { from, raised } => {
                json!({"kind": "hand", "from": from.0, "raised": raised})
            }
            E2eeEvent::Poll(poll) => {
                json!({"kind": "poll", "poll": serde_json::to_value(poll).unwrap_or(Value::Null)})
            }
            // The guest page takes no files yet: it is told one came, nothing more.
            E2eeEvent::File(_) => json!({"kind": "file"}),
            // Nor shared notes yet: it is told they changed.
            E2eeEvent::NotesChanged => json!({"kind": "notes"}),
            E2eeEvent::Unreadable { from } => json!({"kind": "unreadable", "from": from.0}),
            E2eeEvent::Problem(message) => json!({"kind": "e2ee_problem", "message": message}),
        },
        Output::Event(Event::Reconnecting) => json!({"kind": "reconnecting"}),
        Output::Event(Event::Reconnected) => json!({"kind": "reconnected"}),
        Output::Event(Event::NotSent { what, reason }) => {
            let what = match what {
                Unsent::Chat => "chat",
                Unsent::Reaction => "reaction",
                Unsent::Hand => "hand",
                Unsent::Poll => "poll",
                Unsent::File => "file",
                Unsent::Notes => "notes",
                Unsent::Request => "request",
            };
            json!({"kind": "not_sent", "what": what, "reason": reason})
        }
        Output::Event(Event::HandHeld) => json!({"kind": "hand_held"}),
        Output::Event(Event::Ended(ending)) => {
            let (reason, message) = match ending {
                Ending::Goodbye(r) => (
                    serde_json::to_value(r)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| "left".into()),
                    String::new(),
                ),
                Ending::Left => ("left".into(), String::new()),
                Ending::Failed(e) => (
                    e.kind()
                        .and_then(|k| serde_json::to_value(k).ok())
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| "connect".into()),
                    e.to_string(),
                ),
                Ending::Lost(message) => ("connection_lost".into(), message),
            };
            json!({"kind": "ended", "reason": reason, "message": message})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_asks_to_connect_to_the_links_server_and_greets_it() {
        let link = MeetingLink::new(
            parley_proto::ServerAddr::parse("http://127.0.0.1:7880").unwrap(),
            parley_proto::RoomToken::random(),
            parley_proto::MeetingKey::random(),
        )
        .to_string();
        let mut g = Guest::new(&link, "Gwen", None).unwrap_or_else(|_| panic!("a guest"));
        let first: Value = serde_json::from_str(&g.poll().unwrap()).unwrap();
        assert_eq!(first["kind"], "connect");
        assert_eq!(first["url"], "ws://127.0.0.1:7880/ws");
        assert!(g.poll().is_none());
        g.handle_open();
        let hello: Value = serde_json::from_str(&g.poll().unwrap()).unwrap();
        assert_eq!(hello["kind"], "send");
        assert!(hello["text"].as_str().unwrap().contains("\"hello\""));
        g.leave();
        let out: Vec<Value> = std::iter::from_fn(|| g.poll())
            .map(|t| serde_json::from_str(&t).unwrap())
            .collect();
        assert!(
            out.iter()
                .any(|o| o["kind"] == "ended" && o["reason"] == "left")
        );
    }
}

//! Desktop notifications for the host: "Ann is waiting to join". The window asks (it has the
//! words in the person's language, and knows whether it has focus); the app posts one through
//! the desktop's notification service on the session bus (org.freedesktop.Notifications, on
//! Linux) and asks the window manager for attention on every platform.
//!
//! - **Nothing leaves the computer**: the session bus is a local socket.
//! - **Hostile names**: a display name is the waiting person's choice, and notification
//!   services may read the body as markup (links, images). The body is escaped, and summary
//!   and body are cut to [`MAX_SUMMARY_CHARS`] and [`MAX_BODY_CHARS`].
//! - **No flood**: one notification is kept and replaced (its id is reused), and at most one
//!   is posted per [`MIN_INTERVAL`]; what comes sooner is merged into the next (the window
//!   says how many wait).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest summary kept, in characters.
pub const MAX_SUMMARY_CHARS: usize = 120;
/// Longest body kept, in characters.
pub const MAX_BODY_CHARS: usize = 400;
/// Least time between two notifications.
pub const MIN_INTERVAL: Duration = Duration::from_secs(2);

/// The text of a notification, cut to size, with the body escaped for markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The heading (plain text).
    pub summary: String,
    /// The body, escaped so no markup in it is interpreted.
    pub body: String,
}

impl Note {
    /// Cut and escape what the window asked to show.
    pub fn new(summary: &str, body: &str) -> Self {
        Note {
            summary: plain(summary, MAX_SUMMARY_CHARS),
            body: escape_markup(&plain(body, MAX_BODY_CHARS)),
        }
    }
}

/// At most `max` characters, without control characters (line breaks become spaces).
fn plain(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

/// `&`, `<`, `>`, `"` and `'` as entities: the notification body markup is a subset of HTML.
pub fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Default)]
struct State {
    /// The id the notification service gave our notification (it is replaced, not stacked).
    id: u32,
    last: Option<Instant>,
    /// A note that came too soon, posted when the interval has passed.
    held: Option<Note>,
    timer: bool,
}

/// Posts notifications, one at a time, rate-limited.
#[derive(Default)]
pub struct Notifier {
    state: std::sync::Arc<Mutex<State>>,
}

impl Notifier {
    /// Show `note` now, or when [`MIN_INTERVAL`] has passed since the last one (a newer note
    /// replaces a held one). Posting happens on a thread of its own: the bus may be slow.
    pub fn show(&self, note: Note) {
        let state = self.state.clone();
        let mut s = lock(&state);
        let wait = s
            .last
            .map(|t| MIN_INTERVAL.saturating_sub(t.elapsed()))
            .unwrap_or_default();
        s.held = Some(note);
        if s.timer {
            return; // the pending post takes the newer note
        }
        s.timer = true;
        drop(s);
        let spawned = std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || {
                std::thread::sleep(wait);
                let note = {
                    let mut s = lock(&state);
                    s.timer = false;
                    s.last = Some(Instant::now());
                    s.held.take()
                };
                let Some(note) = note else { return };
                let replaces = lock(&state).id;
                match post(&note, replaces) {
                    Ok(id) => lock(&state).id = id,
                    // No notification service (a bare session): the window still shows it.
                    Err(e) => tracing::info!(error = %e, "no desktop notification posted"),
                }
            });
        if spawned.is_err() {
            lock(&self.state).timer = false;
        }
    }
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Post through org.freedesktop.Notifications; the notification's id.
#[cfg(target_os = "linux")]
fn post(note: &Note, replaces: u32) -> Result<u32, String> {
    use std::collections::HashMap;
    let conn = zbus::blocking::Connection::session().map_err(|e| e.to_string())?;
    let hints: HashMap<&str, zbus::zvariant::Value<'_>> =
        HashMap::from([("urgency", zbus::zvariant::Value::U8(1))]);
    let reply = conn
        .call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "Notify",
            &(
                "Parley",
                replaces,
                "",
                note.summary.as_str(),
                note.body.as_str(),
                Vec::<&str>::new(),
                hints,
                -1i32,
            ),
        )
        .map_err(|e| e.to_string())?;
    reply.body().deserialize::<u32>().map_err(|e| e.to_string())
}

/// Other platforms: the window's attention request (made by the command) is the notification.
#[cfg(not(target_os = "linux"))]
fn post(_note: &Note, _replaces: u32) -> Result<u32, String> {
    Err("desktop notifications are posted on Linux only; the window asks for attention".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_name_stays_text() {
        let n = Note::new(
            "Someone is waiting",
            "<a href=\"file:///etc/passwd\">Eve</a> & <img src=x> is waiting",
        );
        assert_eq!(
            n.body,
            "&lt;a href=&quot;file:///etc/passwd&quot;&gt;Eve&lt;/a&gt; &amp; &lt;img src=x&gt; is waiting"
        );
        assert!(!n.body.contains('<'));
    }

    #[test]
    fn long_or_multiline_text_is_cut_and_flattened() {
        let n = Note::new(&"S".repeat(1000), &format!("a\nb\u{7}{}", "x".repeat(5000)));
        assert_eq!(n.summary.chars().count(), MAX_SUMMARY_CHARS);
        assert!(n.body.starts_with("a b "));
        assert_eq!(n.body.chars().count(), MAX_BODY_CHARS);
        // Escaping happens after cutting, so an entity is never cut in half.
        let amp = Note::new("s", &"&".repeat(1000));
        assert!(amp.body.ends_with("&amp;"));
    }
}

//! A local recording of what this participant receives: per other participant a WebM file
//! of their VP8 video and Opus audio, as they arrived (opened, never re-encoded). It records
//! only between [`RecordSink::start`] and [`RecordSink::stop`], which the client calls when
//! the meeting server has announced the recording to everyone: the server enforces the
//! host's permission, the clients show who records.
//!
//! A participant's file begins at their first keyframe (a picture needs one to start);
//! their sound before it is not kept. Files are `participant-<number>-<recording>.webm`.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use parley_media::VideoFrame;

use crate::sink::MediaSink;
use crate::webm::{WebmWriter, vp8_keyframe_size};

/// Participants recorded at once (one file each); others are left out.
pub const MAX_RECORDED: usize = 49;

#[derive(Default)]
struct State {
    /// Recording since; `None` while not recording.
    since: Option<Instant>,
    /// Recordings made so far (numbers the files).
    count: u32,
    writers: HashMap<String, WebmWriter<BufWriter<File>>>,
    /// Files finished in this run, for the person.
    written: Vec<PathBuf>,
}

/// Records what is received into a folder, while switched on.
pub struct RecordSink {
    dir: PathBuf,
    state: Mutex<State>,
}

impl std::fmt::Debug for RecordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSink")
            .field("dir", &self.dir)
            .finish()
    }
}

/// A file name part from a stream id (which a hostile server chooses): digits only.
fn number(who: &str) -> Option<String> {
    let digits: String = who.chars().filter(char::is_ascii_digit).take(10).collect();
    (!digits.is_empty()).then_some(digits)
}

impl RecordSink {
    /// Record into `dir` (made when a recording starts).
    pub fn new(dir: &Path) -> Self {
        RecordSink {
            dir: dir.to_path_buf(),
            state: Mutex::new(State::default()),
        }
    }

    /// The folder recordings go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start recording (a new set of files), making the folder if needed.
    pub fn start(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut s = self.lock();
        if s.since.is_none() {
            s.since = Some(Instant::now());
            s.count += 1;
        }
        Ok(())
    }

    /// Stop recording; the files written.
    pub fn stop(&self) -> Vec<PathBuf> {
        let mut s = self.lock();
        s.since = None;
        let writers: Vec<_> = s.writers.drain().collect();
        for (_, w) in writers {
            if let Err(e) = w.finish() {
                tracing::warn!(error = %e, "a recording could not be finished");
            }
        }
        std::mem::take(&mut s.written)
    }

    /// Whether it records now.
    pub fn is_recording(&self) -> bool {
        self.lock().since.is_some()
    }
}

impl MediaSink for RecordSink {
    fn video(&self, _from: &str, _frame: &VideoFrame) {}

    fn audio(&self, _from: &str, _pcm: &[i16]) {}

    fn encoded_video(&self, from: &str, frame: &[u8], keyframe: bool) {
        let mut s = self.lock();
        let Some(since) = s.since else { return };
        let ms = since.elapsed().as_millis() as u64;
        if !s.writers.contains_key(from) {
            let (Some((w, h)), Some(n)) =
                (vp8_keyframe_size(frame).filter(|_| keyframe), number(from))
            else {
                return;
            };
            if s.writers.len() >= MAX_RECORDED {
                return;
            }
            let path = self.dir.join(format!("participant-{n}-{}.webm", s.count));
            let opened = File::create(&path).and_then(|f| WebmWriter::new(BufWriter::new(f), w, h));
            match opened {
                Ok(writer) => {
                    s.writers.insert(from.to_string(), writer);
                    s.written.push(path);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a recording file could not be made");
                    return;
                }
            }
        }
        if let Some(w) = s.writers.get_mut(from)
            && let Err(e) = w.video(ms, keyframe, frame)
        {
            tracing::warn!(error = %e, "a recording stopped: the file could not be written");
            s.writers.remove(from);
        }
    }

    fn wants_keyframe(&self, from: &str) -> bool {
        let s = self.lock();
        s.since.is_some() && !s.writers.contains_key(from) && s.writers.len() < MAX_RECORDED
    }

    fn encoded_audio(&self, from: &str, packet: &[u8]) {
        let mut s = self.lock();
        let Some(since) = s.since else { return };
        let ms = since.elapsed().as_millis() as u64;
        if let Some(w) = s.writers.get_mut(from)
            && let Err(e) = w.audio(ms, packet)
        {
            tracing::warn!(error = %e, "a recording stopped: the file could not be written");
            s.writers.remove(from);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyframe() -> Vec<u8> {
        let mut f = vec![0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a];
        f.extend_from_slice(&64u16.to_le_bytes());
        f.extend_from_slice(&48u16.to_le_bytes());
        f.extend_from_slice(&[1; 10]);
        f
    }

    #[test]
    fn only_what_comes_while_recording_is_kept_from_each_senders_first_keyframe() {
        let dir = std::env::temp_dir().join(format!("parley-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let r = RecordSink::new(&dir);
        r.encoded_video("2", &keyframe(), true);
        assert!(!r.is_recording());
        assert!(!r.wants_keyframe("2"), "not while not recording");
        r.start().unwrap();
        assert!(r.wants_keyframe("2"), "a recording starts at a keyframe");
        r.encoded_audio("2", b"before-any-picture");
        r.encoded_video("2", b"delta", false);
        r.encoded_video("2", &keyframe(), true);
        r.encoded_audio("2", b"opus");
        assert!(!r.wants_keyframe("2"), "has one");
        r.encoded_video("../../etc", &keyframe(), true);
        let files = r.stop();
        assert_eq!(files, [dir.join("participant-2-1.webm")]);
        let c = crate::webm::read(&std::fs::read(&files[0]).unwrap()).unwrap();
        assert_eq!(c.size, Some((64, 48)));
        let kinds: Vec<u64> = c.blocks.iter().map(|b| b.track).collect();
        assert_eq!(kinds, [1, 2], "from the keyframe on, nothing before");
        assert_eq!(c.blocks[1].data, b"opus");
        // Not recording again: nothing more is written.
        r.encoded_video("2", &keyframe(), true);
        assert!(r.stop().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

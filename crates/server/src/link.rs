//! The sending side of one signaling connection, shared by the hub (the rooms' outputs) and
//! the SFU (its SDP offers and answers): a leaf both use, so neither depends on the other.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;

use crate::meter::ReadMeter;
use crate::room::ConnId;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a connection's writer task sends next.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A text frame.
    Text(Utf8Bytes),
    /// Close the connection.
    Close,
}

/// The sending side of one connection, shared with the rooms: a bounded queue that never
/// blocks the sender, and gives its memory back once drained.
#[derive(Debug)]
pub struct ConnLink {
    /// The connection's number.
    pub id: ConnId,
    /// The peer's address (for the passcode limiter; never logged).
    pub addr: IpAddr,
    /// What the connection may make the server hold of unfinished messages.
    meter: Option<Arc<ReadMeter>>,
    pub(crate) queue: Mutex<VecDeque<Outbound>>,
    capacity: usize,
    ready: Notify,
    killed: AtomicBool,
    kill: Notify,
    /// The meeting (its serial) the connection is in now; 0: not told. A breakout room
    /// moves it; what the media server says about another meeting is no longer for it.
    room: std::sync::atomic::AtomicU64,
}

/// Queue capacity kept after a burst is drained; more is returned to the allocator.
const QUEUE_KEEP: usize = 8;

impl ConnLink {
    /// A link whose queue holds at most `capacity` frames.
    pub fn new(id: ConnId, addr: IpAddr, capacity: usize) -> Arc<Self> {
        Self::metered(id, addr, capacity, None)
    }

    /// A link whose connection's reads are counted by `meter`.
    pub fn metered(
        id: ConnId,
        addr: IpAddr,
        capacity: usize,
        meter: Option<Arc<ReadMeter>>,
    ) -> Arc<Self> {
        Arc::new(ConnLink {
            id,
            addr,
            meter,
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(8),
            ready: Notify::new(),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            room: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The connection is now in meeting `room`: `first` is queued, and from then on
    /// [`ConnLink::push_for_room`] takes only what is for `room` (both under the queue's lock,
    /// so nothing about the old meeting can follow `first`).
    pub fn enter_room(&self, room: u64, first: Option<Outbound>) {
        let q = lock(&self.queue);
        self.room.store(room, Ordering::SeqCst);
        if let Some(first) = first {
            self.push_into(q, first);
        }
    }

    /// Queue a frame about meeting `room` (from the media server), unless the connection has
    /// moved to another meeting since.
    pub fn push_for_room(&self, room: u64, out: Outbound) {
        let q = lock(&self.queue);
        let now = self.room.load(Ordering::SeqCst);
        if now != 0 && now != room {
            return;
        }
        self.push_into(q, out);
    }

    /// Queue a frame; a full queue means the client is not reading: it is disconnected.
    pub fn push(&self, out: Outbound) {
        self.push_into(lock(&self.queue), out);
    }

    fn push_into(&self, mut q: MutexGuard<'_, VecDeque<Outbound>>, out: Outbound) {
        if q.len() >= self.capacity {
            drop(q);
            self.kill();
            return;
        }
        q.push_back(out);
        drop(q);
        self.ready.notify_one();
    }

    /// Wait until something is queued, then take frames up to `max_frames` of them or
    /// `max_bytes` of text (at least one frame).
    pub async fn next_batch(&self, max_frames: usize, max_bytes: usize) -> Vec<Outbound> {
        loop {
            {
                let mut q = lock(&self.queue);
                if !q.is_empty() {
                    let mut bytes = 0;
                    let mut n = 0;
                    for out in q.iter().take(max_frames) {
                        if n > 0 && bytes >= max_bytes {
                            break;
                        }
                        bytes += match out {
                            Outbound::Text(t) => t.len(),
                            Outbound::Close => 0,
                        };
                        n += 1;
                    }
                    let batch: Vec<Outbound> = q.drain(..n).collect();
                    if q.is_empty() && q.capacity() > QUEUE_KEEP {
                        q.shrink_to(QUEUE_KEEP);
                    }
                    return batch;
                }
            }
            // A notify_one() without a waiter leaves a permit, so no wake-up is lost here.
            self.ready.notified().await;
        }
    }

    /// Whether frames are waiting to be written.
    pub fn has_queued(&self) -> bool {
        !lock(&self.queue).is_empty()
    }

    /// The connection is in the encryption group: it may send the large `mls_commit`.
    pub fn allow_large_messages(&self) {
        if let Some(m) = &self.meter {
            m.allow_large_messages();
        }
    }

    /// The connection was admitted to a meeting: it may send a large session description.
    pub fn allow_media_messages(&self) {
        if let Some(m) = &self.meter {
            m.allow_media_messages();
        }
    }

    /// Disconnect at once (slow consumer).
    pub fn kill(&self) {
        if !self.killed.swap(true, Ordering::SeqCst) {
            self.kill.notify_one();
        }
    }

    /// Whether the connection was killed.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Resolves when the connection is killed.
    pub async fn killed(&self) {
        if self.is_killed() {
            return;
        }
        self.kill.notified().await;
    }
}

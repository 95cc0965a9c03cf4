//! What a signaling connection may make the server hold of messages not yet complete. Every
//! byte read from a client is counted until the message it belongs to has been delivered
//! whole; a connection may hold 64 KiB of unfinished messages until it is admitted to a
//! meeting, 128 KiB after (a large gallery page's session description), and 1.5 MiB once it is
//! in the meeting's encryption group (only members send the large `mls_commit`); all
//! connections together may hold [`crate::config::LimitsConfig::max_unfinished_bytes`]; and a
//! message may not stay unfinished longer than [`PARTIAL_TIMEOUT`]. Past a limit the
//! connection is no longer read, and its driver closes it with a typed error.
//!
//! [`Metered`] wraps the byte stream (inside TLS) that hyper and the WebSocket read; the
//! driver reports each delivered message with [`ReadMeter::delivered`].

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parley_proto::ErrorKind;
use parley_proto::message::{MAX_MESSAGE_BYTES, MAX_MLS_MESSAGE_BYTES, MAX_SDP_MESSAGE_BYTES};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Longest a message may stay unfinished.
pub const PARTIAL_TIMEOUT: Duration = Duration::from_secs(20);
/// Unfinished bytes below this do not count as a message in progress (a client that splits
/// messages into several frames leaves a few header bytes uncounted).
const SLACK: usize = 1024;
/// Frame overhead allowed beyond a message's size.
const FRAME_SLACK: usize = 64;
/// A connection admitted to a meeting: up to an `sdp_answer`'s size.
const ADMITTED: u8 = 1;
/// A connection in the meeting's encryption group: up to an `mls_commit`'s size.
const IN_GROUP: u8 = 2;

/// Unfinished bytes held by all connections of one server.
#[derive(Debug)]
pub struct ReadBudget {
    used: AtomicUsize,
    cap: usize,
}

impl ReadBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(ReadBudget {
            used: AtomicUsize::new(0),
            cap,
        })
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }
}

/// One connection's count of unfinished bytes.
#[derive(Debug)]
pub struct ReadMeter {
    budget: Arc<ReadBudget>,
    pending: AtomicUsize,
    /// What the connection may send: 0 any connection, [`ADMITTED`], [`IN_GROUP`].
    tier: AtomicU8,
    start: Instant,
    /// Milliseconds after `start` since which a message has been in progress (0: none).
    partial_since: AtomicU64,
    refusal: std::sync::Mutex<Option<ErrorKind>>,
    over: Notify,
}

impl ReadMeter {
    /// A meter drawing on `budget`, created at `now`.
    pub fn new(budget: Arc<ReadBudget>, now: Instant) -> Arc<Self> {
        Arc::new(ReadMeter {
            budget,
            pending: AtomicUsize::new(0),
            tier: AtomicU8::new(0),
            start: now,
            partial_since: AtomicU64::new(0),
            refusal: std::sync::Mutex::new(None),
            over: Notify::new(),
        })
    }

    /// The connection is in the encryption group: it may send the large `mls_commit`.
    pub fn allow_large_messages(&self) {
        self.tier.fetch_max(IN_GROUP, Ordering::SeqCst);
    }

    /// The connection was admitted to a meeting: it may send a large session description.
    pub fn allow_media_messages(&self) {
        self.tier.fetch_max(ADMITTED, Ordering::SeqCst);
    }

    fn allowance(&self) -> usize {
        FRAME_SLACK
            + match self.tier.load(Ordering::SeqCst) {
                IN_GROUP => MAX_MLS_MESSAGE_BYTES,
                ADMITTED => MAX_SDP_MESSAGE_BYTES,
                _ => MAX_MESSAGE_BYTES,
            }
    }

    /// Forget what was read so far (the HTTP request before the WebSocket upgrade).
    pub fn reset(&self) {
        let n = self.pending.swap(0, Ordering::SeqCst);
        self.budget.used.fetch_sub(n, Ordering::SeqCst);
        self.partial_since.store(0, Ordering::SeqCst);
    }

    /// `n` bytes were read at `now`.
    pub(crate) fn read(&self, n: usize, now: Instant) {
        if n == 0 {
            return;
        }
        let pending = self.pending.fetch_add(n, Ordering::SeqCst) + n;
        let used = self.budget.used.fetch_add(n, Ordering::SeqCst) + n;
        if pending > SLACK && self.partial_since.load(Ordering::SeqCst) == 0 {
            self.partial_since
                .store(self.millis(now).max(1), Ordering::SeqCst);
        }
        if pending > self.allowance() {
            self.refuse(ErrorKind::TooLarge);
        } else if used > self.budget.cap {
            self.refuse(ErrorKind::ServerBusy);
        }
    }

    /// A message of `payload` bytes was delivered whole.
    pub fn delivered(&self, payload: usize) {
        let frame = payload
            + 6
            + match payload {
                0..126 => 0,
                126..65536 => 2,
                _ => 8,
            };
        let mut taken = 0;
        let _ = self
            .pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| {
                taken = p.min(frame);
                Some(p - taken)
            });
        self.budget.used.fetch_sub(taken, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) <= SLACK {
            self.partial_since.store(0, Ordering::SeqCst);
        }
    }

    /// Whether a message has been unfinished for longer than [`PARTIAL_TIMEOUT`] at `now`.
    pub fn stalled(&self, now: Instant) -> bool {
        let since = self.partial_since.load(Ordering::SeqCst);
        since != 0 && self.millis(now).saturating_sub(since) >= PARTIAL_TIMEOUT.as_millis() as u64
    }

    /// Unfinished bytes held now.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Why the connection is no longer read, once it is not.
    pub fn refusal(&self) -> Option<ErrorKind> {
        *self.refusal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves (with the reason) once the connection is no longer read.
    pub async fn refused(&self) -> ErrorKind {
        loop {
            let notified = self.over.notified();
            if let Some(kind) = self.refusal() {
                return kind;
            }
            notified.await;
        }
    }

    fn refuse(&self, kind: ErrorKind) {
        let mut r = self.refusal.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some(kind);
            self.over.notify_waiters();
        }
    }

    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_millis() as u64
    }
}

impl Drop for ReadMeter {
    fn drop(&mut self) {
        // The connection is gone: what it held goes back to the server.
        self.budget
            .used
            .fetch_sub(*self.pending.get_mut(), Ordering::SeqCst);
    }
}

/// A byte stream whose reads are counted by a [`ReadMeter`], and stop once it refused.
#[derive(Debug)]
pub struct Metered<S> {
    inner: S,
    meter: Arc<ReadMeter>,
}

impl<S> Metered<S> {
    /// Count `inner`'s reads with `meter`.
    pub fn new(inner: S, meter: Arc<ReadMeter>) -> Self {
        Metered { inner, meter }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.meter.refusal().is_some() {
            // Read nothing more; the driver closes the connection with the reason.
            return Poll::Pending;
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if r.is_ready() {
            let n = buf.filled().len() - before;
            self.meter.read(n, Instant::now());
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_messages_are_bounded_per_connection_in_all_and_in_time() {
        let budget = ReadBudget::new(200 * 1024);
        let t0 = Instant::now();
        let a = ReadMeter::new(budget.clone(), t0);
        // Whole messages come and go.
        a.read(100 + 6, t0);
        a.delivered(100);
        assert_eq!((a.pending(), budget.used()), (0, 0));
        // Before joining the group, 64 KiB of an unfinished message is the most.
        a.read(60 * 1024, t0);
        assert_eq!(a.refusal(), None);
        a.read(8 * 1024, t0);
        assert_eq!(a.refusal(), Some(ErrorKind::TooLarge));
        // Admitted, a gallery page's session description fits, but no more.
        let budget = ReadBudget::new(4 << 20);
        let g = ReadMeter::new(budget.clone(), t0);
        g.allow_media_messages();
        g.read(MAX_SDP_MESSAGE_BYTES, t0);
        assert_eq!(g.refusal(), None);
        g.read(1024, t0);
        assert_eq!(g.refusal(), Some(ErrorKind::TooLarge));
        // Joining the group after admission raises it; admission after the group lowers nothing.
        let h = ReadMeter::new(budget.clone(), t0);
        h.allow_media_messages();
        h.allow_large_messages();
        h.allow_media_messages();
        h.read(MAX_SDP_MESSAGE_BYTES + 1024, t0);
        assert_eq!(h.refusal(), None);
        // In the group, a 1.5 MiB commit fits (the budget allowing).
        let budget = ReadBudget::new(4 << 20);
        let m = ReadMeter::new(budget.clone(), t0);
        m.allow_large_messages();
        m.read(MAX_MLS_MESSAGE_BYTES, t0);
        assert_eq!(m.refusal(), None);
        m.delivered(MAX_MLS_MESSAGE_BYTES - 14);
        assert_eq!(m.pending(), 0);
        // A message that never finishes stalls after the time limit.
        m.read(10 * 1024, t0);
        assert!(!m.stalled(t0 + PARTIAL_TIMEOUT - Duration::from_millis(5)));
        assert!(m.stalled(t0 + PARTIAL_TIMEOUT + Duration::from_millis(5)));
        // All connections together: past the budget, the one that overdraws is refused.
        let budget = ReadBudget::new(100 * 1024);
        let conns: Vec<_> = (0..3).map(|_| ReadMeter::new(budget.clone(), t0)).collect();
        conns[0].read(50 * 1024, t0);
        conns[1].read(45 * 1024, t0);
        assert_eq!(conns[1].refusal(), None);
        conns[2].read(10 * 1024, t0);
        assert_eq!(conns[2].refusal(), Some(ErrorKind::ServerBusy));
        // Memory comes back when connections go.
        drop(conns);
        assert_eq!(budget.used(), 0);
    }
}

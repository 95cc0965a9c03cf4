//! Datagrams a media worker has to send, sent in batches: one `sendmmsg` system call for up to
//! [`BATCH`] datagrams on Linux (one `sendto` each elsewhere). Order is kept. As with one
//! `sendto` each, a full socket buffer drops what does not fit, as the network would.
//!
//! On Linux, consecutive datagrams to the same receiver (the packets of one video frame) go as
//! one message the kernel splits (UDP generic segmentation offload, `UDP_SEGMENT`), so the
//! stack is walked once for them: every one but the last of such a run has the first one's
//! size, the last is no larger. Where the kernel or the route refuses that, the outbox sends
//! each datagram on its own from then on.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

/// Most datagrams handed to the kernel in one call.
pub const BATCH: usize = 64;

/// Datagrams waiting to be sent, in order.
#[derive(Debug, Default)]
pub struct Outbox {
    items: Vec<Datagram>,
    /// The local addresses datagrams may be sent from, by socket (the first is the worker's
    /// main one; more when it also listens on this machine's interfaces).
    sources: Vec<SocketAddr>,
    /// Datagrams the kernel refused (full buffer or an error), since the start.
    dropped: u64,
    /// Datagrams the kernel took, since the start.
    sent: u64,
    /// Runs to one receiver are not sent as one segmented message (the kernel refused it once,
    /// or [`Outbox::without_segmentation`]).
    no_gso: bool,
}

/// One datagram: through which socket, to whom, what.
#[derive(Debug)]
struct Datagram {
    via: usize,
    to: SocketAddr,
    data: Vec<u8>,
}

impl Outbox {
    /// An outbox whose datagrams go from `sources` (by index, the sockets given to
    /// [`Outbox::flush`]).
    pub fn from_sources(sources: Vec<SocketAddr>) -> Self {
        Outbox {
            sources,
            ..Outbox::default()
        }
    }

    /// The same outbox, sending every datagram as a message of its own (no segmentation
    /// offload), as before it was used: for comparison in benchmarks and tests.
    pub fn without_segmentation(mut self) -> Self {
        self.no_gso = true;
        self
    }

    /// Whether runs of datagrams to one receiver still go as one segmented message.
    pub fn segments(&self) -> bool {
        !self.no_gso && cfg!(target_os = "linux")
    }

    /// Queue one datagram (from the main socket).
    pub fn push(&mut self, to: SocketAddr, data: Vec<u8>) {
        self.items.push(Datagram { via: 0, to, data });
    }

    /// Queue one datagram to go from the local address `from` (the main socket if that is
    /// not one of the sources).
    pub fn push_from(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let via = if self.sources.len() > 1 {
            self.sources.iter().position(|s| *s == from).unwrap_or(0)
        } else {
            0
        };
        self.items.push(Datagram { via, to, data });
    }

    /// How many are waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none are waiting.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Take everything waiting, in order, without sending it (a driver that is not a socket:
    /// the virtual network of the tests).
    pub fn take(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        std::mem::take(&mut self.items)
            .into_iter()
            .map(|d| (d.to, d.data))
            .collect()
    }

    /// Datagrams sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Datagrams dropped so far because the socket would not take them.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Send everything waiting, each through its socket of `sockets` (by the index of its
    /// source); returns how many the kernel took. Order is kept.
    pub fn flush<S: std::ops::Deref<Target = UdpSocket>>(&mut self, sockets: &[S]) -> usize {
        let mut sent = 0;
        let mut at = 0;
        while at < self.items.len() {
            let via = self.items[at].via;
            // A run through one socket, at most a batch.
            let mut end = at + 1;
            while end < self.items.len() && end - at < BATCH && self.items[end].via == via {
                end += 1;
            }
            let Some(socket) = sockets.get(via) else {
                self.dropped += (end - at) as u64;
                at = end;
                continue;
            };
            match send_batch(socket, &self.items[at..end], !self.no_gso) {
                Ok(n) if n > 0 => {
                    // The first `n` went; if not all of them, the next call starts with the
                    // one that did not and says why.
                    sent += n;
                    at += n;
                }
                Ok(_) => {
                    self.dropped += 1;
                    at += 1;
                }
                Err(e) => {
                    let run = if self.no_gso {
                        1
                    } else {
                        same_receiver_run(&self.items[at..end])
                    };
                    if run > 1 && refuses_segmentation(&e) {
                        // Sent again one by one, and never segmented again.
                        tracing::info!(error = %e, "UDP segmentation offload refused; sending datagrams one by one");
                        self.no_gso = true;
                        continue;
                    }
                    // A full buffer or an error: that datagram (or run to one receiver) is
                    // dropped, as the network would, and the rest go.
                    self.dropped += run as u64;
                    at += run;
                }
            }
        }
        self.items.clear();
        if self.items.capacity() > 4 * BATCH * 16 {
            self.items.shrink_to(BATCH * 16);
        }
        self.sent += sent as u64;
        sent
    }
}

/// Most datagrams sent as one segmented message (the kernel takes 64 at least).
const MAX_SEGMENTS: usize = 64;

/// Most bytes of one segmented message (a UDP datagram's limit, with room for headers).
const MAX_SEGMENTED_BYTES: usize = 60_000;

/// How many datagrams from the start of `items` can go as one segmented message: the run to
/// the first one's receiver, through the same socket, of the first one's size, but for the
/// last, which may be shorter (and ends the run). 1 if none can be joined.
fn same_receiver_run(items: &[Datagram]) -> usize {
    let Some(first) = items.first() else {
        return 0;
    };
    let size = first.data.len();
    let mut bytes = size;
    let mut n = 1;
    for d in &items[1..] {
        if n == MAX_SEGMENTS
            || d.to != first.to
            || d.via != first.via
            || d.data.len() > size
            || d.data.is_empty()
            || bytes + d.data.len() > MAX_SEGMENTED_BYTES
        {
            break;
        }
        bytes += d.data.len();
        n += 1;
        if d.data.len() < size {
            break;
        }
    }
    n
}

/// Whether a send failed because this kernel, socket or route does not segment (then each
/// datagram goes on its own).
fn refuses_segmentation(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOPROTOOPT)
    )
}

/// Send `items` in order, runs to one receiver as one segmented message each if `segment`;
/// how many datagrams were sent before the first message that was not.
#[cfg(target_os = "linux")]
fn send_batch(socket: &UdpSocket, items: &[Datagram], segment: bool) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;

    // The messages: (first datagram, how many).
    let mut runs: Vec<(usize, usize)> = Vec::with_capacity(items.len());
    let mut at = 0;
    while at < items.len() {
        let n = if segment {
            same_receiver_run(&items[at..])
        } else {
            1
        };
        runs.push((at, n));
        at += n;
    }
    let addrs: Vec<socket2::SockAddr> = runs
        .iter()
        .map(|(i, _)| socket2::SockAddr::from(items[*i].to))
        .collect();
    let mut iovs: Vec<libc::iovec> = items
        .iter()
        .map(|d| libc::iovec {
            iov_base: d.data.as_ptr() as *mut libc::c_void,
            iov_len: d.data.len(),
        })
        .collect();
    // One control buffer per message (used by those of more than one datagram): a cmsghdr
    // and the segment size, 8-byte aligned.
    // SAFETY: CMSG_SPACE only computes a size.
    let cmsg_space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) } as usize;
    let mut controls: Vec<[u64; 4]> = vec![[0; 4]; runs.len()];
    debug_assert!(cmsg_space <= std::mem::size_of::<[u64; 4]>());
    let iov_base = iovs.as_mut_ptr();
    let mut msgs: Vec<libc::mmsghdr> = runs
        .iter()
        .zip(addrs.iter())
        .zip(controls.iter_mut())
        .map(|((&(first, n), addr), control)| {
            // SAFETY: an all-zero msghdr is valid (no control data, no flags).
            let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
            hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
            hdr.msg_namelen = addr.len();
            // SAFETY: `first + n <= iovs.len()`: the runs cover `items` once, in order.
            hdr.msg_iov = unsafe { iov_base.add(first) };
            hdr.msg_iovlen = n as _;
            if n > 1 {
                hdr.msg_control = control.as_mut_ptr() as *mut libc::c_void;
                hdr.msg_controllen = cmsg_space as _;
                // SAFETY: the control buffer is `cmsg_space` bytes, aligned, and holds exactly
                // one header with a u16 of data.
                unsafe {
                    let cmsg = libc::CMSG_FIRSTHDR(&hdr);
                    (*cmsg).cmsg_level = libc::SOL_UDP;
                    (*cmsg).cmsg_type = libc::UDP_SEGMENT;
                    (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
                    let size = items[first].data.len() as u16;
                    std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut u16, size);
                }
            }
            libc::mmsghdr {
                msg_hdr: hdr,
                msg_len: 0,
            }
        })
        .collect();
    // SAFETY: `msgs` points into `addrs`, `iovs`, `controls` and `items`, which all outlive
    // the call; the count is the length of `msgs` (at most BATCH); the socket is open for as
    // long as `socket` is borrowed.
    let n = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            msgs.as_mut_ptr(),
            msgs.len() as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(runs[..n as usize].iter().map(|(_, k)| k).sum())
}

/// Send `items` in order; how many were sent before the first that was not.
#[cfg(not(target_os = "linux"))]
fn send_batch(socket: &UdpSocket, items: &[Datagram], _segment: bool) -> std::io::Result<usize> {
    for (i, d) in items.iter().enumerate() {
        if let Err(e) = socket.try_send_to(&d.data, d.to) {
            return if i == 0 { Err(e) } else { Ok(i) };
        }
    }
    Ok(items.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_arrives_whole_and_in_order_across_batches_and_families() {
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let mut out = Outbox::default();
        // More than two batches, of varying sizes.
        let n = 2 * BATCH + 7;
        for i in 0..n {
            out.push(to, vec![(i % 251) as u8; 1 + i * 3]);
        }
        assert_eq!(out.flush(&[&tx]), n);
        assert!(out.is_empty());
        let mut buf = vec![0u8; 2048];
        for i in 0..n {
            let (len, from) = rx.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, tx.local_addr().unwrap());
            assert_eq!(len, 1 + i * 3, "datagram {i} whole and in order");
            assert!(buf[..len].iter().all(|b| *b == (i % 251) as u8));
        }

        // IPv6, to two receivers in one batch.
        let tx6 = UdpSocket::bind("[::1]:0").await.unwrap();
        let a = UdpSocket::bind("[::1]:0").await.unwrap();
        let b = UdpSocket::bind("[::1]:0").await.unwrap();
        out.push(a.local_addr().unwrap(), b"to a".to_vec());
        out.push(b.local_addr().unwrap(), b"to b".to_vec());
        assert_eq!(out.flush(&[&tx6]), 2);
        let (len, _) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"to a");
        let (len, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"to b");
    }

    #[test]
    fn runs_to_one_receiver_are_joined_only_where_the_kernel_can_split_them() {
        let (a, b): (SocketAddr, SocketAddr) = (
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        );
        let d = |to, len| Datagram {
            via: 0,
            to,
            data: vec![1; len],
        };
        let runs = |items: &[Datagram]| {
            let mut at = 0;
            let mut out = Vec::new();
            while at < items.len() {
                let n = same_receiver_run(&items[at..]);
                out.push(n);
                at += n;
            }
            out
        };
        // Equal sizes, then a shorter one that ends the run; a longer one never joins.
        let items = [
            d(a, 900),
            d(a, 900),
            d(a, 400),
            d(a, 900),
            d(a, 1000),
            d(b, 1000),
        ];
        assert_eq!(runs(&items), [3, 1, 1, 1]);
        // Another receiver or another socket ends a run.
        let mut other = d(a, 900);
        other.via = 1;
        assert_eq!(
            runs(&[d(a, 900), d(b, 900), d(b, 900), other, d(a, 900)]),
            [1, 2, 1, 1]
        );
        // At most 64 datagrams and 60,000 bytes in one.
        assert_eq!(
            runs(&(0..130).map(|_| d(a, 100)).collect::<Vec<_>>()),
            [64, 64, 2]
        );
        assert_eq!(
            runs(&(0..60).map(|_| d(a, 1200)).collect::<Vec<_>>()),
            [50, 10]
        );
        // An empty datagram is sent on its own.
        assert_eq!(runs(&[d(a, 10), d(a, 0), d(a, 0)]), [1, 1, 1]);
    }

    #[tokio::test]
    async fn joined_runs_arrive_as_the_datagrams_they_were_with_or_without_segmentation() {
        for segmented in [true, false] {
            let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (to, to_other) = (rx.local_addr().unwrap(), other.local_addr().unwrap());
            let mut out = Outbox::default();
            if !segmented {
                out = out.without_segmentation();
            }
            // Frames of three, two and one packets to `rx`, one to `other` between them.
            let sizes = [1100, 1100, 700, 1100, 1099, 500];
            for (i, len) in sizes.iter().enumerate() {
                out.push(to, vec![i as u8; *len]);
                if i == 2 {
                    out.push(to_other, b"between".to_vec());
                }
            }
            assert_eq!(out.flush(&[&tx]), sizes.len() + 1);
            assert_eq!(out.dropped(), 0);
            let mut buf = vec![0u8; 4096];
            for (i, len) in sizes.iter().enumerate() {
                let (n, from) = rx.recv_from(&mut buf).await.unwrap();
                assert_eq!(from, tx.local_addr().unwrap());
                assert_eq!(n, *len, "datagram {i} whole (segmented: {segmented})");
                assert!(
                    buf[..n].iter().all(|b| *b == i as u8),
                    "datagram {i} its own"
                );
            }
            let (n, _) = other.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"between");
            println!("segmented {segmented}: offload in use {}", out.segments());
        }
    }

    #[tokio::test]
    async fn each_datagram_goes_from_the_address_it_was_given_in_order() {
        let main = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let other = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let (a, b) = (main.local_addr().unwrap(), other.local_addr().unwrap());
        let mut out = Outbox::from_sources(vec![a, b]);
        let froms = [a, b, b, a, b, a, a];
        for (i, from) in froms.iter().enumerate() {
            out.push_from(*from, to, vec![i as u8]);
        }
        // An address that is not a source goes from the main socket.
        out.push_from("10.9.9.9:1".parse().unwrap(), to, vec![7]);
        assert_eq!(out.flush(&[&main, &other]), 8);
        let mut buf = [0u8; 16];
        for (i, want) in froms.iter().chain([&a]).enumerate() {
            let (len, from) = rx.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..len], from), (&[i as u8][..], *want), "datagram {i}");
        }
    }

    #[tokio::test]
    async fn a_datagram_the_kernel_refuses_is_dropped_and_the_rest_go() {
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let mut out = Outbox::default();
        out.push(to, b"first".to_vec());
        // Too large for UDP: refused by the kernel (EMSGSIZE).
        out.push(to, vec![0; 70_000]);
        out.push(to, b"third".to_vec());
        assert_eq!(out.flush(&[&tx]), 2);
        assert_eq!(out.dropped(), 1);
        let mut buf = vec![0u8; 2048];
        let (len, _) = rx.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"first");
        let (len, _) = rx.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"third");
    }
}

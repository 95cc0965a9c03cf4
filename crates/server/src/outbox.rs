//! Datagrams a media worker has to send, sent in batches: one `sendmmsg` system call for up to
//! [`BATCH`] datagrams on Linux (one `sendto` each elsewhere). Order is kept. As with one
//! `sendto` each, a full socket buffer drops what does not fit, as the network would.

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
            match send_batch(socket, &self.items[at..end]) {
                // The first `n` went; the next one failed or did not fit: drop it and go on
                // (a full buffer is dropped datagram by datagram, as with one send each).
                Ok(n) => {
                    sent += n;
                    at += n;
                    if at < end {
                        self.dropped += 1;
                        at += 1;
                    }
                }
                Err(_) => {
                    self.dropped += 1;
                    at += 1;
                }
            }
        }
        self.items.clear();
        if self.items.capacity() > 4 * BATCH * 16 {
            self.items.shrink_to(BATCH * 16);
        }
        sent
    }
}

/// Send `items` in order; how many were sent before the first that was not.
#[cfg(target_os = "linux")]
fn send_batch(socket: &UdpSocket, items: &[Datagram]) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;

    let addrs: Vec<socket2::SockAddr> = items
        .iter()
        .map(|d| socket2::SockAddr::from(d.to))
        .collect();
    let mut iovs: Vec<libc::iovec> = items
        .iter()
        .map(|d| libc::iovec {
            iov_base: d.data.as_ptr() as *mut libc::c_void,
            iov_len: d.data.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = addrs
        .iter()
        .zip(iovs.iter_mut())
        .map(|(addr, iov)| {
            // SAFETY: an all-zero msghdr is valid (no control data, no flags).
            let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
            hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
            hdr.msg_namelen = addr.len();
            hdr.msg_iov = iov as *mut libc::iovec;
            hdr.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: hdr,
                msg_len: 0,
            }
        })
        .collect();
    // SAFETY: `msgs` points into `addrs`, `iovs` and `items`, which all outlive the call; the
    // count is the length of `msgs` (at most BATCH); the socket is open for as long as
    // `socket` is borrowed.
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
    Ok(n as usize)
}

/// Send `items` in order; how many were sent before the first that was not.
#[cfg(not(target_os = "linux"))]
fn send_batch(socket: &UdpSocket, items: &[Datagram]) -> std::io::Result<usize> {
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

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
    items: Vec<(SocketAddr, Vec<u8>)>,
    /// Datagrams the kernel refused (full buffer or an error), since the start.
    dropped: u64,
}

impl Outbox {
    /// Queue one datagram.
    pub fn push(&mut self, to: SocketAddr, data: Vec<u8>) {
        self.items.push((to, data));
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
    }

    /// Datagrams dropped so far because the socket would not take them.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Send everything waiting; returns how many the kernel took.
    pub fn flush(&mut self, socket: &UdpSocket) -> usize {
        let mut sent = 0;
        let mut at = 0;
        while at < self.items.len() {
            let end = (at + BATCH).min(self.items.len());
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
fn send_batch(socket: &UdpSocket, items: &[(SocketAddr, Vec<u8>)]) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;

    let addrs: Vec<socket2::SockAddr> = items
        .iter()
        .map(|(to, _)| socket2::SockAddr::from(*to))
        .collect();
    let mut iovs: Vec<libc::iovec> = items
        .iter()
        .map(|(_, data)| libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
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
fn send_batch(socket: &UdpSocket, items: &[(SocketAddr, Vec<u8>)]) -> std::io::Result<usize> {
    for (i, (to, data)) in items.iter().enumerate() {
        if let Err(e) = socket.try_send_to(data, *to) {
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
        assert_eq!(out.flush(&tx), n);
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
        assert_eq!(out.flush(&tx6), 2);
        let (len, _) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"to a");
        let (len, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"to b");
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
        assert_eq!(out.flush(&tx), 2);
        assert_eq!(out.dropped(), 1);
        let mut buf = vec![0u8; 2048];
        let (len, _) = rx.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"first");
        let (len, _) = rx.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..len], b"third");
    }
}

//! A TCP relay on loopback that a test can cut: between a client and its meeting server, it
//! severs every connection with no goodbye (as a network change or a proxy's timeout would),
//! refuses new ones while cut, and relays again — to the same server or another one.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The relay; it stops relaying when dropped (its connections are severed).
pub struct CutRelay {
    /// Where clients connect.
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    open: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Both ends of every relayed connection, to sever.
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl CutRelay {
    /// A relay to `target`.
    pub fn to(target: SocketAddr) -> CutRelay {
        CutRelay::on([127, 0, 0, 1].into(), target)
    }

    /// A relay to `target` listening on `ip` (an address of a test network).
    pub fn on(ip: std::net::IpAddr, target: SocketAddr) -> CutRelay {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let relay = CutRelay {
            addr: listener.local_addr().unwrap(),
            target: Arc::new(Mutex::new(target)),
            open: Arc::new(AtomicBool::new(true)),
            stop: Arc::new(AtomicBool::new(false)),
            live: Arc::new(Mutex::new(Vec::new())),
        };
        let (target, open, stop, live) = (
            relay.target.clone(),
            relay.open.clone(),
            relay.stop.clone(),
            relay.live.clone(),
        );
        std::thread::spawn(move || {
            for inbound in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(inbound) = inbound else { continue };
                if !open.load(Ordering::SeqCst) {
                    // Cut: closed at once.
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                let to = *target.lock().unwrap();
                let Ok(outbound) = TcpStream::connect(to) else {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                };
                {
                    let mut live = live.lock().unwrap();
                    live.push(inbound.try_clone().unwrap());
                    live.push(outbound.try_clone().unwrap());
                }
                pipe(inbound.try_clone().unwrap(), outbound.try_clone().unwrap());
                pipe(outbound, inbound);
            }
        });
        relay
    }

    /// The relay's address as a server URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `link` (an invite link to a server on loopback) rewritten to go through the relay.
    pub fn link(&self, link: &str) -> String {
        let rest = link
            .split_once("://")
            .and_then(|(_, r)| r.split_once('/'))
            .map(|(_, path)| path)
            .expect("an invite link");
        format!("{}/{rest}", self.url())
    }

    /// Sever every relayed connection (both ends see it end, with no goodbye) and refuse new
    /// ones until [`CutRelay::restore`].
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Relay again, to `target`.
    pub fn restore(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for CutRelay {
    fn drop(&mut self) {
        self.cut();
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread so it sees the stop.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copy `from` to `to` on a thread until either ends.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        // Ends with the connection, cleanly or cut.
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

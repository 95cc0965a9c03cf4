//! One participant's bad network, made on loopback: a UDP relay between a client and the SFU
//! that loses packets at random (both ways) and can squeeze the client's uplink or downlink
//! through a bottleneck (a fixed rate with a drop-tail queue), as a congested home connection
//! does.
//!
//! The client reaches the SFU through the relay because the test rewrites the SFU's ICE
//! candidate in the session descriptions it hands the client ([`Relay::rewrite_sdp`]); the SFU
//! (ICE-lite) answers whatever address its checks come from, which is the relay's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

/// What the path does to packets.
#[derive(Debug, Clone, Copy)]
pub struct LinkModel {
    /// Chance that a packet is lost, each way (0–1).
    pub loss: f64,
    /// Uplink (client → SFU) rate in bit/s, or unlimited.
    pub uplink_bps: Option<u64>,
    /// Longest a packet waits in the uplink queue before the queue drops new arrivals.
    pub max_queue: Duration,
    /// Seed of the loss pattern (runs are repeatable).
    pub seed: u64,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel {
            loss: 0.0,
            uplink_bps: None,
            max_queue: Duration::from_millis(200),
            seed: 1,
        }
    }
}

/// Packet counts of a relay.
#[derive(Debug, Default)]
pub struct RelayCounts {
    /// Client → SFU packets received from the client.
    pub up_packets: AtomicU64,
    /// … of which lost at random.
    pub up_lost: AtomicU64,
    /// … of which dropped because the bottleneck queue was full.
    pub up_queue_drops: AtomicU64,
    /// Client → SFU bytes delivered.
    pub up_bytes: AtomicU64,
    /// SFU → client packets received from the SFU.
    pub down_packets: AtomicU64,
    /// … of which lost at random.
    pub down_lost: AtomicU64,
    /// … of which dropped because the downlink's bottleneck queue was full.
    pub down_queue_drops: AtomicU64,
}

impl RelayCounts {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Read a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// A running relay (it stops when dropped).
pub struct Relay {
    addr: SocketAddr,
    upstream: SocketAddr,
    counts: Arc<RelayCounts>,
    /// The uplink rate in bit/s now (0: unlimited).
    uplink_bps: Arc<AtomicU64>,
    /// The downlink rate in bit/s now (0: unlimited).
    downlink_bps: Arc<AtomicU64>,
    /// The client's address, as last seen.
    client: Arc<Mutex<Option<SocketAddr>>>,
    /// An address that went away: nothing from it is taken, nothing is sent to it.
    gone: Arc<Mutex<Option<SocketAddr>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

struct Dice(u64);

impl Dice {
    fn lose(&mut self, p: f64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

impl Relay {
    /// Relay to `upstream` (the SFU's UDP address) through `model`.
    pub async fn start(upstream: SocketAddr, model: LinkModel) -> std::io::Result<Relay> {
        let client_side = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let server_side = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let addr = client_side.local_addr()?;
        let counts = Arc::new(RelayCounts::default());
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let gone: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let (queue_tx, mut queue_rx) = tokio::sync::mpsc::channel::<(Instant, Vec<u8>)>(8192);
        let uplink_bps = Arc::new(AtomicU64::new(model.uplink_bps.unwrap_or(0)));
        let mut tasks = Vec::new();
        // Uplink: lose, then queue behind the bottleneck.
        {
            let (sock, counts, client) = (client_side.clone(), counts.clone(), client.clone());
            let server_side = server_side.clone();
            let rate = uplink_bps.clone();
            let gone = gone.clone();
            let mut dice = Dice(model.seed.max(1));
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                let mut free_at = Instant::now();
                while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                    if *gone.lock().unwrap() == Some(from) {
                        continue;
                    }
                    *client.lock().unwrap() = Some(from);
                    RelayCounts::add(&counts.up_packets, 1);
                    if dice.lose(model.loss) {
                        RelayCounts::add(&counts.up_lost, 1);
                        continue;
                    }
                    let bps = rate.load(Ordering::Relaxed);
                    if bps == 0 {
                        let _ = server_side.send_to(&buf[..n], upstream).await;
                        RelayCounts::add(&counts.up_bytes, n as u64);
                        continue;
                    }
                    let now = Instant::now();
                    free_at = free_at.max(now);
                    if free_at - now > model.max_queue {
                        RelayCounts::add(&counts.up_queue_drops, 1);
                        continue;
                    }
                    // Time on the wire, counting UDP/IP headers.
                    free_at += Duration::from_nanos((n as u64 + 28) * 8 * 1_000_000_000 / bps);
                    if queue_tx.try_send((free_at, buf[..n].to_vec())).is_err() {
                        RelayCounts::add(&counts.up_queue_drops, 1);
                    }
                }
            }));
        }
        {
            let (server_side, counts) = (server_side.clone(), counts.clone());
            tasks.push(tokio::spawn(async move {
                while let Some((at, packet)) = queue_rx.recv().await {
                    tokio::time::sleep_until(at).await;
                    let _ = server_side.send_to(&packet, upstream).await;
                    RelayCounts::add(&counts.up_bytes, packet.len() as u64);
                }
            }));
        }
        // Downlink: lose at random, then queue behind the bottleneck if there is one.
        let downlink_bps = Arc::new(AtomicU64::new(0));
        let (down_tx, mut down_rx) = tokio::sync::mpsc::channel::<(Instant, Vec<u8>)>(8192);
        {
            let counts = counts.clone();
            let (client, gone) = (client.clone(), gone.clone());
            let client_side = client_side.clone();
            let rate = downlink_bps.clone();
            let mut dice = Dice(model.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).max(1));
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                let mut free_at = Instant::now();
                while let Ok((n, _)) = server_side.recv_from(&mut buf).await {
                    RelayCounts::add(&counts.down_packets, 1);
                    if dice.lose(model.loss) {
                        RelayCounts::add(&counts.down_lost, 1);
                        continue;
                    }
                    // Time on the wire, counting UDP/IP headers (none: no bottleneck).
                    let bps = rate.load(Ordering::Relaxed);
                    if let Some(ns) = ((n as u64 + 28) * 8 * 1_000_000_000).checked_div(bps) {
                        let now = Instant::now();
                        free_at = free_at.max(now);
                        if free_at - now > model.max_queue {
                            RelayCounts::add(&counts.down_queue_drops, 1);
                            continue;
                        }
                        free_at += Duration::from_nanos(ns);
                        if down_tx.try_send((free_at, buf[..n].to_vec())).is_err() {
                            RelayCounts::add(&counts.down_queue_drops, 1);
                        }
                        continue;
                    }
                    let to = *client.lock().unwrap();
                    if let Some(to) = to.filter(|t| Some(*t) != *gone.lock().unwrap()) {
                        let _ = client_side.send_to(&buf[..n], to).await;
                    }
                }
            }));
        }
        {
            let (client, gone) = (client.clone(), gone.clone());
            tasks.push(tokio::spawn(async move {
                while let Some((at, packet)) = down_rx.recv().await {
                    tokio::time::sleep_until(at).await;
                    let to = *client.lock().unwrap();
                    if let Some(to) = to.filter(|t| Some(*t) != *gone.lock().unwrap()) {
                        let _ = client_side.send_to(&packet, to).await;
                    }
                }
            }));
        }
        Ok(Relay {
            addr,
            upstream,
            counts,
            uplink_bps,
            downlink_bps,
            client,
            gone,
            tasks,
        })
    }

    /// Where the client should send (the relay's address).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Change the uplink rate from now on (`None`: unlimited), as a link that gets congested
    /// or frees up. What is queued already keeps its place.
    pub fn set_uplink_bps(&self, bps: Option<u64>) {
        self.uplink_bps.store(bps.unwrap_or(0), Ordering::Relaxed);
    }

    /// Change the downlink rate from now on (`None`: unlimited): the client's side of a link
    /// that gets congested (someone else's download) or frees up. What is queued already
    /// keeps its place.
    pub fn set_downlink_bps(&self, bps: Option<u64>) {
        self.downlink_bps.store(bps.unwrap_or(0), Ordering::Relaxed);
    }

    /// The client's address goes away (its network changed): from now on nothing from it is
    /// relayed and nothing is sent to it. A new address of the client is relayed as before.
    pub fn drop_client_address(&self) {
        let current = *self.client.lock().unwrap();
        *self.gone.lock().unwrap() = current;
    }

    /// What went through so far.
    pub fn counts(&self) -> &RelayCounts {
        &self.counts
    }

    /// `sdp` with the SFU's host candidate replaced by the relay's address.
    pub fn rewrite_sdp(&self, sdp: &str) -> String {
        let from = format!(" {} {} typ ", self.upstream.ip(), self.upstream.port());
        let to = format!(" {} {} typ ", self.addr.ip(), self.addr.port());
        sdp.replace(&from, &to)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dice_lose_about_the_share_asked() {
        let mut d = Dice(7);
        let lost = (0..100_000).filter(|_| d.lose(0.1)).count();
        assert!((9_000..11_000).contains(&lost), "{lost}");
        assert_eq!((0..1000).filter(|_| d.lose(0.0)).count(), 0);
    }
}

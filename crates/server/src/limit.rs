//! Limiters, all sans-I/O (time is passed in): a growing back-off for wrong passcodes, a token
//! bucket for message rates, and a bounded per-address table that cannot be used to exhaust
//! memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Longest a back-off makes anyone wait.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Failures older than this are forgotten.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(600);

/// Growing back-off after repeated failures: the first `free` failures cost nothing, then each
/// further one doubles the wait (1 s, 2 s, 4 s … up to [`MAX_BACKOFF`]).
#[derive(Debug, Clone)]
pub struct Backoff {
    free: u32,
    failures: u32,
    last_failure: Option<Instant>,
    blocked_until: Option<Instant>,
}

impl Backoff {
    /// A back-off that allows `free` failures before it starts.
    pub fn new(free: u32) -> Self {
        Backoff {
            free,
            failures: 0,
            last_failure: None,
            blocked_until: None,
        }
    }

    /// `Ok` if an attempt may be made now, else how long to wait.
    pub fn check(&mut self, now: Instant) -> Result<(), Duration> {
        self.forget_old(now);
        match self.blocked_until {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Record a failure at `now`.
    pub fn failure(&mut self, now: Instant) {
        self.forget_old(now);
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(now);
        if self.failures > self.free {
            let exp = (self.failures - self.free - 1).min(16);
            let wait = Duration::from_secs(1u64 << exp).min(MAX_BACKOFF);
            self.blocked_until = Some(now + wait);
        }
    }

    /// Whether the record holds nothing worth keeping at `now`.
    pub fn is_idle(&self, now: Instant) -> bool {
        self.last_failure
            .is_none_or(|t| now.saturating_duration_since(t) >= FAILURE_MEMORY)
            && self.blocked_until.is_none_or(|t| t <= now)
    }

    fn forget_old(&mut self, now: Instant) {
        if let Some(t) = self.last_failure
            && now.saturating_duration_since(t) >= FAILURE_MEMORY
        {
            self.failures = 0;
            self.last_failure = None;
            self.blocked_until = None;
        }
    }
}

/// Per-address back-off with a fixed maximum number of entries. IPv6 addresses are grouped by
/// their /64, which one user typically controls whole.
#[derive(Debug)]
pub struct AddressLimiter {
    free: u32,
    capacity: usize,
    entries: HashMap<IpAddr, Backoff>,
}

impl AddressLimiter {
    /// A limiter holding at most `capacity` addresses.
    pub fn new(free: u32, capacity: usize) -> Self {
        AddressLimiter {
            free,
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// The address as one user holds it: IPv4 whole, IPv6 by its /64 (an IPv4-mapped IPv6
    /// address as the IPv4 address).
    pub fn key(addr: IpAddr) -> IpAddr {
        match addr {
            IpAddr::V4(_) => addr,
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return IpAddr::V4(v4);
                }
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        }
    }

    /// `Ok` if `addr` may try now, else how long to wait.
    pub fn check(&mut self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.entries.get_mut(&Self::key(addr)) {
            Some(b) => b.check(now),
            None => Ok(()),
        }
    }

    /// Record a failure from `addr`.
    pub fn failure(&mut self, addr: IpAddr, now: Instant) {
        let key = Self::key(addr);
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.entries.retain(|_, b| !b.is_idle(now));
            if self.entries.len() >= self.capacity {
                // Still full: forget the entry whose last failure is oldest.
                if let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, b)| b.last_failure)
                    .map(|(k, _)| *k)
                {
                    self.entries.remove(&oldest);
                }
            }
        }
        let free = self.free;
        self.entries
            .entry(key)
            .or_insert_with(|| Backoff::new(free))
            .failure(now);
    }

    /// How many addresses are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A token bucket: `rate` messages per second sustained, `burst` at once.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        TokenBucket {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: now,
        }
    }

    /// Take one token; `false` if the bucket is empty.
    pub fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Slots for connections: at most `total` in all and `per_address` from one address (IPv6 by
/// its /64), so one address cannot take every slot. The table holds only addresses with a
/// connection open, so it is bounded by `total`.
#[derive(Debug)]
pub struct Slots {
    total: usize,
    per_address: usize,
    used: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Slots {
    /// Slots for `total` connections, `per_address` of them from one address.
    pub fn new(total: usize, per_address: usize) -> Self {
        Slots {
            total,
            per_address: per_address.max(1),
            used: 0,
            by_address: HashMap::new(),
        }
    }

    /// Take a slot for `addr`; false if the server or that address is at its limit.
    pub fn acquire(&mut self, addr: IpAddr) -> bool {
        if self.used >= self.total {
            return false;
        }
        let n = self
            .by_address
            .entry(AddressLimiter::key(addr))
            .or_insert(0);
        if *n >= self.per_address {
            return false;
        }
        *n += 1;
        self.used += 1;
        true
    }

    /// Give back a slot taken for `addr`.
    pub fn release(&mut self, addr: IpAddr) {
        let key = AddressLimiter::key(addr);
        if let Some(n) = self.by_address.get_mut(&key) {
            *n -= 1;
            self.used -= 1;
            if *n == 0 {
                self.by_address.remove(&key);
            }
        }
    }

    /// Slots in use.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Addresses with a slot (memory check).
    pub fn addresses(&self) -> usize {
        self.by_address.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_forgotten() {
        let t0 = Instant::now();
        let mut b = Backoff::new(2);
        b.failure(t0);
        b.failure(t0);
        assert!(b.check(t0).is_ok(), "free attempts cost nothing");
        b.failure(t0);
        assert_eq!(b.check(t0), Err(Duration::from_secs(1)));
        b.failure(t0 + Duration::from_secs(1));
        assert_eq!(
            b.check(t0 + Duration::from_secs(1)),
            Err(Duration::from_secs(2))
        );
        for i in 0..40 {
            b.failure(t0 + Duration::from_secs(2 + i));
        }
        let w = b.check(t0 + Duration::from_secs(42)).unwrap_err();
        assert!(w <= MAX_BACKOFF && w > Duration::from_secs(200), "{w:?}");
        assert!(
            b.check(t0 + Duration::from_secs(42) + FAILURE_MEMORY)
                .is_ok()
        );
    }

    #[test]
    fn address_limiter_is_bounded() {
        let t0 = Instant::now();
        let mut l = AddressLimiter::new(0, 100);
        for i in 0..10_000u32 {
            l.failure(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(l.len() <= 100);
        let last = IpAddr::from(9_999u32.to_be_bytes());
        assert!(l.check(last, t0).is_err());
    }

    #[test]
    fn ipv6_groups_by_prefix() {
        let t0 = Instant::now();
        let mut l = AddressLimiter::new(0, 10);
        l.failure("2001:db8::1".parse().unwrap(), t0);
        assert!(l.check("2001:db8::ffff:1".parse().unwrap(), t0).is_err());
        assert!(l.check("2001:db9::1".parse().unwrap(), t0).is_ok());
    }

    #[test]
    fn bucket_refills_at_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5, t0);
        assert!((0..5).all(|_| b.take(t0)));
        assert!(!b.take(t0));
        assert!(b.take(t0 + Duration::from_millis(100)));
        assert!(!b.take(t0 + Duration::from_millis(100)));
    }

    #[test]
    fn one_address_cannot_take_every_slot() {
        let mut s = Slots::new(10, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!((0..3).all(|_| s.acquire(a)));
        assert!(!s.acquire(a), "a's share is used up");
        // The same /64 is the same address; another /64 is not.
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::ffff".parse().unwrap();
        let v6c: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert!(s.acquire(v6a) && s.acquire(v6b) && s.acquire(v6a));
        assert!(!s.acquire(v6b));
        assert!(s.acquire(v6c));
        assert!(s.acquire(b) && s.acquire(b) && s.acquire(b));
        assert_eq!(s.used(), 10);
        assert!(!s.acquire("192.0.2.3".parse().unwrap()), "the total holds");
        s.release(a);
        assert!(s.acquire("192.0.2.3".parse().unwrap()));
        for addr in [a, a, v6a, v6b, v6a, v6c, b, b, b] {
            s.release(addr);
        }
        s.release("192.0.2.3".parse().unwrap());
        assert_eq!((s.used(), s.addresses()), (0, 0), "memory comes back");
    }
}

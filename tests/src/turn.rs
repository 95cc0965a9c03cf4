//! A TURN server for tests: Debian's coturn (`turnserver`) on loopback, long-term credentials
//! in the realm `parley.test`, its log kept so a test can see which user's allocation relayed
//! what. Allocations live 10 s unless refreshed (a client refreshes at half that), so coturn
//! logs what an allocation relayed (`peer usage`) within seconds of its client hanging up.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running coturn.
pub struct Turn {
    child: Child,
    /// Its UDP port on 127.0.0.1.
    pub port: u16,
    /// Its log (verbose).
    pub log: PathBuf,
}

/// A UDP port on 127.0.0.1 that nothing listens on (for a relay that is not there).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Turn {
    /// Start coturn on a free port with these users (name, password); returns once it listens.
    pub fn start(dir: &Path, users: &[(&str, &str)]) -> Turn {
        let port = free_udp_port();
        let log = dir.join("turn.log");
        let relay = 50_000 + (port % 100) * 100;
        let child = Command::new("turnserver")
            .args([
                "-n",
                "-v",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--simple-log",
            ])
            .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .arg(format!("--listening-port={port}"))
            .arg(format!("--min-port={relay}"))
            .arg(format!("--max-port={}", relay + 99))
            .args(["--lt-cred-mech", "--realm=parley.test"])
            .arg("--max-allocate-lifetime=10")
            .args(users.iter().map(|(u, p)| format!("--user={u}:{p}")))
            .args(["--allow-loopback-peers", "--log-file=stdout"])
            .arg(format!("--userdb={}", dir.join("turndb").display()))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("start turnserver (coturn); `make test` installs it");
        let turn = Turn { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !turn.log_text().contains("UDP listener opened on") {
            assert!(
                Instant::now() < deadline,
                "coturn did not open its UDP listener:\n{}",
                turn.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        turn
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The sessions (allocations) coturn opened for `user`.
    pub fn sessions_of(&self, user: &str) -> Vec<String> {
        let new = format!(": new, realm=<parley.test>, username=<{user}>,");
        self.log_text()
            .lines()
            .filter(|l| l.contains(&new))
            .filter_map(|l| session_of(l).map(str::to_string))
            .collect()
    }

    /// The lines coturn logged for `session`, its id and the colon after it left off.
    pub fn lines_of(&self, session: &str) -> Vec<String> {
        let tag = format!("session {session}: ");
        self.log_text()
            .lines()
            .filter_map(|l| l.split_once(&tag).map(|(_, rest)| rest.to_string()))
            .collect()
    }
}

/// The session id a coturn log line is about (`… session 000000000000000001: …`).
fn session_of(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("session ")?;
    let (id, _) = rest.split_once(':')?;
    id.chars().all(|c| c.is_ascii_digit()).then_some(id)
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::session_of;

    #[test]
    fn session_ids_are_read_from_coturn_lines() {
        assert_eq!(
            session_of(
                "0: : session 001000000000000002: new, realm=<parley.test>, username=<ann>, lifetime=777"
            ),
            Some("001000000000000002")
        );
        assert_eq!(
            session_of("0: : IPv4. Local relay addr: 127.0.0.1:51068"),
            None
        );
    }
}

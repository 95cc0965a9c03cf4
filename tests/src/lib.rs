//! Helpers for cross-process tests: start the real `parley-server` binary and real
//! `parley-cli` processes on loopback, talk to them over pipes, and read what they print.
//!
//! The binaries must be built first (`make test` does: `cargo build --bins`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod alsa;
pub mod bots;
pub mod browser;
pub mod cut;
pub mod desktop;
pub mod measure;
pub mod netns;
pub mod notifications;
pub mod privacy;
pub mod relay;
pub mod turn;

use futures_util::SinkExt;
use parley_proto::{Challenge, ClientMessage, DisplayName, Identity, RoomToken};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// How long to wait for an expected line.
pub const WAIT: Duration = Duration::from_secs(15);

/// Path of a workspace binary in the shared target directory.
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let p = target.join(profile).join(name);
    assert!(
        p.exists(),
        "{} is missing: build the binaries first with `cargo build --bins` (make test does)",
        p.display()
    );
    p
}

/// A fresh private directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("parley-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running `parley-server`.
pub struct ServerProc {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Where its log (stderr) goes.
    pub log: PathBuf,
    /// Where its standard output goes (from its first line, which says where it listens).
    pub out: PathBuf,
    /// `http://127.0.0.1:PORT` (`http://[::1]:PORT` when listening there) or
    /// `https://localhost:PORT`.
    pub url: String,
}

impl ServerProc {
    /// Start with these extra arguments (e.g. `--config FILE`), logging at `log_level`.
    pub fn start_with(dir: &Path, args: &[&str], log_level: &str) -> Self {
        Self::start_at(dir, "127.0.0.1:0", args, log_level)
    }

    /// [`ServerProc::start_with`] listening on `listen` (e.g. `[::1]:0`).
    pub fn start_at(dir: &Path, listen: &str, args: &[&str], log_level: &str) -> Self {
        let log = dir.join("server.log");
        let out = dir.join("server.out");
        let mut child = Command::new(bin("parley-server"))
            .args(["--listen", listen])
            .args(args)
            .env("PARLEY_LOG", log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start parley-server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        // The rest of its output is kept too (and its pipe stays open while it runs).
        let mut file = std::fs::File::create(&out).unwrap();
        file.write_all(first.as_bytes()).unwrap();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut file));
        let addr = first
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or_else(|| {
                panic!(
                    "server did not start: {first:?}; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
        let url = if addr.starts_with("https") {
            format!("https://localhost:{port}")
        } else {
            addr.to_string()
        };
        ServerProc {
            child,
            port,
            log,
            out,
            url,
        }
    }

    /// Start with defaults (local mode, plain WebSocket on loopback).
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[], "debug")
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its standard output so far.
    pub fn out_text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `parley-cli` with `--json`, its stdin open for commands.
pub struct CliProc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    /// Every line seen so far.
    pub seen: Vec<Value>,
    /// A label for failure messages.
    pub label: String,
    /// Where its log (stderr) goes, if not to the test's own stderr.
    pub log: Option<PathBuf>,
}

impl CliProc {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Start `parley-cli --json --identity <dir>/<identity>.key ARGS…`.
    pub fn spawn(dir: &Path, identity: &str, args: &[&str]) -> Self {
        Self::spawn_with_env(dir, identity, args, &[])
    }

    /// [`CliProc::spawn`] with more environment (e.g. `ALSA_CONFIG_PATH` for the test devices).
    pub fn spawn_with_env(
        dir: &Path,
        identity: &str,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Self {
        let mut cmd = Command::new(bin("parley-cli"));
        cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        Self::spawn_command(cmd, dir, identity, args)
    }

    /// [`CliProc::spawn_with_env`] with its log (stderr) kept in `<dir>/<identity>.log`.
    pub fn spawn_logged(dir: &Path, identity: &str, args: &[&str], env: &[(&str, String)]) -> Self {
        let log = dir.join(format!("{identity}.log"));
        let mut cmd = Command::new(bin("parley-cli"));
        cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stderr(std::fs::File::create(&log).unwrap());
        let mut cli = Self::spawn_command(cmd, dir, identity, args);
        cli.log = Some(log);
        cli
    }

    /// Its log so far (empty unless started with [`CliProc::spawn_logged`]).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .map(|l| std::fs::read_to_string(l).unwrap_or_default())
            .unwrap_or_default()
    }

    /// [`CliProc::spawn`] on another computer: inside the network namespace `netns`
    /// ([`crate::netns::Lan`]), which sees only its own test network.
    pub fn spawn_in_netns(netns: &str, dir: &Path, identity: &str, args: &[&str]) -> Self {
        let mut cmd = Command::new("ip");
        // `ip netns exec` enters the namespace and then becomes parley-cli (same process).
        cmd.args(["netns", "exec", netns]).arg(bin("parley-cli"));
        Self::spawn_command(cmd, dir, identity, args)
    }

    fn spawn_command(mut cmd: Command, dir: &Path, identity: &str, args: &[&str]) -> Self {
        cmd.arg("--json")
            .arg("--identity")
            .arg(dir.join(format!("{identity}.key")))
            .args(args);
        Self::spawn_program(cmd, identity)
    }

    /// Any program that reads commands on stdin and prints JSON lines, as parley-cli does
    /// (the browser guest's driver, `web/test/guest-driver.mjs`).
    pub fn spawn_program(mut cmd: Command, label: &str) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {label}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|_| Value::String(format!("(not JSON) {line}")));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        CliProc {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            seen: Vec::new(),
            label: label.to_string(),
            log: None,
        }
    }

    /// Its participant number, from the `joined` line it printed (seen already).
    pub fn participant_id(&self) -> u64 {
        self.seen
            .iter()
            .find(|v| v["type"] == "joined")
            .and_then(|v| v["you"].as_u64())
            .unwrap_or_else(|| panic!("{} printed no joined line", self.label))
    }

    /// Type a command.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Wait for a line of this `type` that satisfies `pred`.
    pub fn expect_where(&mut self, ty: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.expect_within(WAIT, ty, pred)
    }

    /// [`CliProc::expect_where`] with a longer deadline, for steps that move a lot of data
    /// (a deadline for finishing, not a timing assertion).
    pub fn expect_within(
        &mut self,
        wait: Duration,
        ty: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + wait;
        // Lines already seen but not yet consumed are not revisited: tests wait in order.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if v["type"] == ty && pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "{}: no {ty:?} line within {wait:?}; saw:\n{}",
                    self.label,
                    self.seen
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    /// The latest line of this `type` seen so far if it satisfies `pred` (a state reported
    /// as it changes may have been passed by an earlier wait), else wait for one as
    /// [`CliProc::expect_within`] does.
    pub fn latest_or_within(
        &mut self,
        wait: Duration,
        ty: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(v) = self.seen.iter().rev().find(|v| v["type"] == ty)
            && pred(v)
        {
            return v.clone();
        }
        self.expect_within(wait, ty, pred)
    }

    /// Wait for a line of this `type`.
    pub fn expect(&mut self, ty: &str) -> Value {
        self.expect_where(ty, |_| true)
    }

    /// Wait for the process to exit; its exit code.
    pub fn wait_exit(&mut self) -> i32 {
        self.stdin.take();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // Drain remaining output.
                while let Ok(v) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(v);
                }
                return s.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.label);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kill the process (a crash or a dropped network, as the server sees it).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for CliProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Host a meeting: returns the host process and the invite link.
pub fn host(dir: &Path, server: &ServerProc, extra: &[&str]) -> (CliProc, String) {
    let mut args = vec!["host", "--server", server.url.as_str(), "--name", "Hana"];
    args.extend_from_slice(extra);
    let mut h = CliProc::spawn(dir, "host", &args);
    let link = h.expect("invite")["link"].as_str().unwrap().to_string();
    h.expect("joined");
    (h, link)
}

/// A `--synthetic` parley-cli host "Hana" on `server` who allows recording and records the
/// meeting into `<dir>/recorded` (the server has told everyone); the host and the invite link.
pub fn recording_host(dir: &Path, server: &ServerProc) -> (CliProc, String) {
    let rec = dir.join("recorded").display().to_string();
    let args = [
        "--synthetic",
        "--record",
        &rec,
        "host",
        "--server",
        server.url.as_str(),
        "--name",
        "Hana",
    ];
    let mut h = CliProc::spawn(dir, "host", &args);
    let link = h.expect("invite")["link"].as_str().unwrap().to_string();
    h.expect("joined");
    h.send("set recording on");
    h.expect_where("policy_changed", |v| v["policy"]["recording"] == true);
    h.send("record on");
    h.expect_where("recording", |v| v["on"] == true);
    (h, link)
}

/// `len` bytes that do not repeat (xorshift from `seed`), so a part of a file out of place or
/// lost shows when the whole is compared.
pub fn varied_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The participant number in a `waiting_joined` line seen by a host.
pub fn waiting_id(v: &Value) -> u64 {
    v["waiting"]["id"].as_u64().unwrap()
}

/// The raw WebSocket type.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw signaling client that sends whatever a test wants (hostile input included).
pub struct Raw {
    /// The WebSocket.
    pub ws: Ws,
    /// The parts of a long message read so far.
    parts: Vec<u8>,
}

impl Raw {
    /// A raw client over a WebSocket the test opened itself.
    pub fn over(ws: Ws) -> Raw {
        Raw {
            ws,
            parts: Vec::new(),
        }
    }

    /// Connect to `ws://127.0.0.1:PORT/ws`.
    pub async fn connect(port: u16) -> Raw {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
            .await
            .unwrap();
        Raw::over(ws)
    }

    /// Send a text frame.
    pub async fn text(&mut self, t: impl Into<String>) {
        self.ws.send(Message::Text(t.into().into())).await.unwrap();
    }

    /// Next JSON message, or None when the server closed the connection.
    pub async fn next(&mut self) -> Option<Value> {
        // As a client reads: a long message comes in parts (PROTOCOL.md).
        let m = tokio::time::timeout(
            WAIT,
            parley_client::signaling::next_text(&mut self.ws, &mut self.parts),
        )
        .await
        .expect("server answered");
        match m {
            Ok(Some(t)) => Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(None) | Err(_) => None,
        }
    }

    /// Expect an error (or refusal) of `kind`, then, if `closes`, the end of the connection.
    pub async fn expect_error(&mut self, kind: &str, closes: bool) {
        let v = self
            .next()
            .await
            .unwrap_or_else(|| panic!("closed before the {kind} error"));
        assert!(v["type"] == "error" || v["type"] == "refused", "{v}");
        assert_eq!(v["kind"], kind, "{v}");
        assert!(
            v["message"].as_str().unwrap().len() > 10,
            "a sentence for a person: {v}"
        );
        if closes {
            assert!(
                self.next().await.is_none(),
                "the connection is closed after {kind}"
            );
        }
    }

    /// Send `hello`; the challenge from `welcome`.
    pub async fn hello(&mut self) -> Challenge {
        self.text(r#"{"type":"hello","protocol":1}"#).await;
        let v = self.next().await.unwrap();
        assert_eq!(v["type"], "welcome");
        serde_json::from_value(v["challenge"].clone()).unwrap()
    }

    /// Greet, then send a correctly signed join; the first answer.
    pub async fn join(&mut self, room: &RoomToken, name: &str, id: &Identity) -> Value {
        let ch = self.hello().await;
        let name = DisplayName::new(name).unwrap();
        let m = ClientMessage::Join {
            signature: id.sign_join(&ch, room, &name),
            room: room.clone(),
            name,
            identity: id.public(),
            passcode: None,
            host_secret: None,
        };
        self.text(m.encode()).await;
        self.next().await.unwrap()
    }
}

/// A meeting with synthetic media: a server, a host and a guest called Gus who joins directly
/// (waiting room off), both sending the test pattern and their tone. Returns the server, the
/// host, Gus, the invite link and Gus's participant number.
pub fn synthetic_meeting(tag: &str) -> (PathBuf, ServerProc, CliProc, CliProc, String, u64) {
    let dir = temp_dir(tag);
    let server = ServerProc::start_with(&dir, &[], "info");
    let (host, link) = host(&dir, &server, &["--no-waiting-room", "--synthetic"]);
    let mut gus = CliProc::spawn(
        &dir,
        "gus",
        &["--synthetic", "join", &link, "--name", "Gus"],
    );
    let gus_id = gus.expect("joined")["you"].as_u64().unwrap();
    (dir, server, host, gus, link, gus_id)
}

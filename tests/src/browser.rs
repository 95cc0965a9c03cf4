//! Real browsers as browser guests: the meeting server offering the guest (`guest_dir`, built
//! by `make web`), and `web/test/guest-driver.mjs` driving Debian's Chromium or Firefox ESR
//! as a person would, talked to like a `parley-cli` (commands in, JSON lines out).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{CliProc, ServerProc};

/// A browser starting and the engine joining the group take a while on a loaded machine (a
/// deadline for finishing, far above what it needs: seconds).
pub const BROWSER_WAIT: Duration = Duration::from_secs(120);

/// The repository.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The server, offering the browser guest built into `web/dist`, with more `settings` (TOML
/// lines).
pub fn server_with_guest(dir: &Path, settings: &str) -> ServerProc {
    let guest = repo().join("web/dist");
    assert!(
        guest.join("pkg/parley_web_bg.wasm").exists(),
        "the browser guest is not built: run `make web` (make test does)"
    );
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "guest_dir = {:?}\n{settings}\n",
            guest.canonicalize().unwrap()
        ),
    )
    .unwrap();
    ServerProc::start_with(dir, &["--config", config.to_str().unwrap()], "info")
}

/// The driver started on `link` with `extra` flags (`--browser=firefox`, `--lang=de-DE`, …),
/// not waiting for anything.
pub fn driver(link: &str, extra: &[&str], label: &str) -> CliProc {
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("web/test/guest-driver.mjs"))
        .arg(link)
        .args(extra);
    CliProc::spawn_program(cmd, label)
}

/// A browser guest on `link`, once the page is ready to join.
pub fn guest(link: &str, extra: &[&str]) -> CliProc {
    let mut g = driver(link, extra, "browser guest");
    g.expect_within(BROWSER_WAIT, "state", |v| v["state"] == "choose");
    g
}

#!/usr/bin/env bash
# `make run`: until the desktop app lands, start a local Parley server in the foreground and
# show the parley-cli commands that host and join a meeting on it.
set -euo pipefail
port="${1:-7880}"
cargo build --locked --release --bins -p parley-server -p parley-client
bin="$(cd "$(dirname "$0")/.." && pwd)/target/release"
cat <<MSG

Parley — local server on http://127.0.0.1:${port}
(The desktop app is not built yet; the headless parley-cli stands in for it.)

In a second terminal, host a meeting:
  ${bin}/parley-cli host --server http://127.0.0.1:${port} --title "Team meeting"
It prints an invite link. In a third terminal, join with it:
  ${bin}/parley-cli join '<invite link>' --name "Your name"
The host types: admit <number> · lock · remove <number> · mute-all · chat <text> · end · help

Stop the server with Ctrl-C.

MSG
exec "${bin}/parley-server" --listen "127.0.0.1:${port}"

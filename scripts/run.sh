#!/usr/bin/env bash
# `make run`: build and start the Parley desktop app. On a machine without a display, say so and
# point to the headless parley-cli instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/target/release"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  cargo build --locked --release -p parley-client -p parley-server
  cat <<MSG

Parley's desktop app needs a display, and this machine has none (DISPLAY and WAYLAND_DISPLAY
are not set). Use the headless client instead:

  ${bin}/parley-server --listen 127.0.0.1:7880      # a meeting server, in one terminal
  ${bin}/parley-cli host --server http://127.0.0.1:7880 --title "Team meeting"
  ${bin}/parley-cli join '<invite link>' --name "Your name"

The host types: admit <number> · lock · remove <number> · mute-all · chat <text> · end · help
(parley-cli --help lists everything). To try the window without a screen: Xvfb :99 & DISPLAY=:99 make run

MSG
  exit 0
fi
echo "Building the desktop app (release; the first build takes several minutes)…"
cargo build --locked --release -p parley-app -p parley-client -p parley-server
echo "Starting Parley. Paste a meeting link, or start a meeting on this computer."
exec "$bin/parley-app"

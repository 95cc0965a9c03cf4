#!/usr/bin/env bash
# The signaling load benchmark (BENCHMARKS.md): a release parley-server pinned to one core,
# `parley-cli load` pinned to the other. N participants knock and publish MLS key packages, are
# admitted in bulk, the host adds them to the encryption group, then they chat (MLS-sealed).
# SERVER_CONFIG names a server configuration file (e.g. to try other limits); none by default.
# Arguments go to `parley-cli load` (scripts/bench-town-hall.sh passes the town hall's).
set -euo pipefail
n="${PARTICIPANTS:-1000}"
cd "$(dirname "$0")/.."
cargo build --locked --release --bins -p parley-server -p parley-client
bin=target/release
log="$(mktemp)"
pin_server=() pin_client=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0) pin_client=(taskset -c 1)
fi
config=()
[ -n "${SERVER_CONFIG:-}" ] && config=(--config "$SERVER_CONFIG")
"${pin_server[@]}" "$bin/parley-server" --listen 127.0.0.1:0 "${config[@]}" >"$log" 2>"${SERVER_LOG:-/dev/null}" &
pid=$!
# Peer connections in the town hall: one UDP socket each in the bots.
ulimit -n 65536 2>/dev/null || true

trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$log")
echo "server pid $pid at $url; $n participants; $(nproc) cores; $(date -u +%Y-%m-%d)"
"${pin_client[@]}" "$bin/parley-cli" load --server "$url" -n "$n" --server-pid "$pid" \
  --chatters "${CHATTERS:-100}" --chats-each "${CHATS_EACH:-10}" --chat-rate "${CHAT_RATE:-5}" \
  --mls-members "${MLS_MEMBERS:-${CHATTERS:-100}}" "$@"

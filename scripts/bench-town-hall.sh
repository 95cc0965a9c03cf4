#!/usr/bin/env bash
# The town hall (issue 19, BENCHMARKS.md): a release parley-server pinned to one core,
# `parley-cli load --town-hall` pinned to the other. N participants knock, publish MLS key
# packages, are admitted in bulk and added to the encryption group; each connects media with
# the SFU as soon as it is admitted. One presenter and CAMERAS more send simulcast video,
# SPEAKERS of them speak; everyone shows the presenter at the middle layer and the others at
# the small one, and counts what arrives by sequence number for MEASURE seconds.
# Env: PARTICIPANTS (1000), CAMERAS (5), SPEAKERS (3), MEASURE (20), MLS_MEMBERS (20),
#      SERVER_CONFIG (a server configuration file; none by default).
set -euo pipefail
n="${PARTICIPANTS:-1000}"
cd "$(dirname "$0")/.."
cargo build --locked --release --bins -p parley-server -p parley-client
bin=${CARGO_TARGET_DIR:-target}/release
log="$(mktemp)"
pin_server=() pin_client=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0) pin_client=(taskset -c 1)
fi
config=()
[ -n "${SERVER_CONFIG:-}" ] && config=(--config "$SERVER_CONFIG")
# A thousand peer connections: one UDP socket each in the bots, more descriptors than the default.
ulimit -n 65536 2>/dev/null || true
"${pin_server[@]}" "$bin/parley-server" --listen 127.0.0.1:0 "${config[@]}" >"$log" 2>"${SERVER_LOG:-/dev/null}" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$log")
echo "server pid $pid at $url; town hall of $n participants; $(nproc) cores; $(date -u +%Y-%m-%d)"
"${pin_client[@]}" "$bin/parley-cli" load --town-hall --server "$url" -n "$n" --server-pid "$pid" \
  --cameras "${CAMERAS:-5}" --speakers "${SPEAKERS:-3}" --measure "${MEASURE:-20}" \
  --chatters 0 --mls-members "${MLS_MEMBERS:-20}"

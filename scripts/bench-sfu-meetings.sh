#!/usr/bin/env bash
# Several meetings at once on one parley-server (BENCHMARKS.md, "media workers"): MEETINGS
# copies of the shared SFU harness's bots (`../shared/bench/sfu-side-by-side`, 1 publisher +
# N receive-only participants each, every copy its own meeting) against one server started
# with WORKERS media workers. Nothing is pinned: server and bots share the machine's cores,
# so this measures the server's CPU per forwarded packet and how its work spreads over its
# threads, not a saturation point (run-parley.sh measures that, one worker on one core).
# With MEETINGS=1 it is one large meeting, spread over the workers after SPREAD of its
# participants per worker (the server's media_spread_after; default 32).
# Usage: scripts/bench-sfu-meetings.sh N   Env: WORKERS=2 MEETINGS=2 MEASURE=20 SPREAD=32
#        PARLEY_BIN=target/release/parley-server BENCH_BIN=target/release/sfu-bench
# Runs inside a private network namespace with only `lo` up (root), as run-parley.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_IN_NETNS:-}" != 1 ]; then
  exec env BENCH_IN_NETNS=1 unshare -n "$0" "$@"
fi
ip link set lo up
n="${1:?usage: bench-sfu-meetings.sh N}"
workers="${WORKERS:-2}" meetings="${MEETINGS:-2}" measure="${MEASURE:-20}"
bin="${PARLEY_BIN:-target/release/parley-server}"
bench="${BENCH_BIN:-target/release/sfu-bench}"
dir="$(mktemp -d)"
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
printf 'media_workers = %s\nmedia_spread_after = %s\n' "$workers" "${SPREAD:-32}" >"$dir/server.toml"
"$bin" --listen 127.0.0.1:7880 --config "$dir/server.toml" >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:7880/healthz && break; sleep 0.1; done
echo "parley-server pid $pid, $workers media workers; $meetings meetings of 1 + $n; $(nproc) cores; $(date -u +%Y-%m-%d)"
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
threads() {
  for t in /proc/"$pid"/task/*; do
    printf '%s %s\n' "$(awk '{print $14 + $15}' "$t/stat")" "$(cat "$t/comm")"
  done | sort -rn | head -4
}
bots=()
for i in $(seq "$meetings"); do
  "$bench" --subs "$n" --sfu parley --server http://127.0.0.1:7880 --measure "$measure" \
    --sfu-core 0 --bot-core 1 >"$dir/bots$i.log" 2>&1 &
  bots+=($!)
done
# The bots' own window: 5 s warm-up after every subscriber receives; sample the server's
# CPU over the middle of the window.
while ! grep -q "receiving video" "$dir"/bots*.log 2>/dev/null || [ "$(grep -l 'receiving video' "$dir"/bots*.log | wc -l)" -lt "$meetings" ]; do
  sleep 0.5
  kill -0 "${bots[0]}" 2>/dev/null || break
done
sleep 7
t0=$(cpu) c0=$(date +%s.%N) th0="$(threads)"
sleep $((measure - 6))
t1=$(cpu) c1=$(date +%s.%N) th1="$(threads)"
for b in "${bots[@]}"; do wait "$b" || true; done
hz=$(getconf CLK_TCK)
pps=0
for i in $(seq "$meetings"); do
  line=$(grep RESULT "$dir/bots$i.log" || { cat "$dir/bots$i.log" >&2; exit 1; })
  echo "meeting $i: $line"
  p=$(sed -n 's/.*fwd_pps=\([0-9]*\).*/\1/p' <<<"$line")
  pps=$((pps + p))
done
python3 - "$t0" "$t1" "$c0" "$c1" "$hz" "$pps" <<'EOF'
import sys
t0, t1, c0, c1, hz, pps = map(float, sys.argv[1:])
share = (t1 - t0) / hz / (c1 - c0)
print(f"SERVER cpu={share*100:.1f}% of a core, forwarded {pps:.0f} pkt/s in all, "
      f"{share*1e6/pps:.2f} µs of CPU per forwarded packet")
EOF
echo "busiest server threads (CPU ticks at start / end of the window):"
paste <(echo "$th0") <(echo "$th1")

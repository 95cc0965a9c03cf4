#!/usr/bin/env bash
# The soak (issue 21, BENCHMARKS.md): the town hall (scripts/bench-town-hall.sh) with few
# participants for a long window. Every SAMPLE s it prints the server's and the bots' memory
# and open files and the packets received; at the end, how much memory and open files grew
# after the first sixth of the window (the bar: memory under 5 %).
# Env: PARTICIPANTS (20), MEASURE (3600 s), SAMPLE (60 s), CAMERAS (5), SPEAKERS (3).
set -euo pipefail
export PARTICIPANTS="${PARTICIPANTS:-20}" CHATTERS=0 MLS_MEMBERS="${MLS_MEMBERS:-${PARTICIPANTS:-20}}"
exec bash "$(dirname "$0")/bench-signaling.sh" --town-hall \
  --cameras "${CAMERAS:-5}" --speakers "${SPEAKERS:-3}" --measure "${MEASURE:-3600}" \
  --sample-every "${SAMPLE:-60}"

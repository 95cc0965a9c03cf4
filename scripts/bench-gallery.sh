#!/usr/bin/env bash
# The big gallery (issue 19, BENCHMARKS.md): the town hall's load run (scripts/bench-town-hall.sh)
# where everyone has a camera and shows TILES others in small tiles (the participants after
# it in join order, so that everyone is on as many pages); SPEAKERS speak. Counts what each
# receives for MEASURE s.
# Env: PARTICIPANTS (100), TILES (25), SPEAKERS (3), MEASURE (20), MLS_MEMBERS (20).
set -euo pipefail
export PARTICIPANTS="${PARTICIPANTS:-100}" CHATTERS=0 MLS_MEMBERS="${MLS_MEMBERS:-20}"
exec bash "$(dirname "$0")/bench-signaling.sh" --town-hall --gallery "${TILES:-25}" \
  --speakers "${SPEAKERS:-3}" --measure "${MEASURE:-20}"

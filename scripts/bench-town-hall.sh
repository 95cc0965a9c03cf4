#!/usr/bin/env bash
# The town hall (issue 19, BENCHMARKS.md): the signaling load run (scripts/bench-signaling.sh:
# a release parley-server pinned to one core, `parley-cli load` pinned to the other; everyone
# knocks with an MLS key package, is admitted in bulk and added to the encryption group), and
# each participant connects media with the SFU as soon as it is admitted. One presenter and
# CAMERAS more send simulcast video, SPEAKERS of them speak; everyone shows the presenter at
# the middle layer and the others at the small one, and counts what arrives for MEASURE s.
# Env: PARTICIPANTS (1000), CAMERAS (5), SPEAKERS (3), MEASURE (20), MLS_MEMBERS (20),
#      SERVER_CONFIG (a server configuration file; none by default).
set -euo pipefail
export CHATTERS=0 MLS_MEMBERS="${MLS_MEMBERS:-20}"
exec bash "$(dirname "$0")/bench-signaling.sh" --town-hall \
  --cameras "${CAMERAS:-5}" --speakers "${SPEAKERS:-3}" --measure "${MEASURE:-20}"

#!/usr/bin/env bash
# Licence, ban and source checks with cargo-deny (installed from crates.io if missing).
# The advisory database is fetched from the network, which this build environment cannot
# reach; `cargo deny check advisories` runs where it can (see deny.toml).
set -euo pipefail
if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "deny: installing cargo-deny (once; a few minutes)…"
  cargo install --locked cargo-deny --version '^0.20' >/dev/null
fi
cargo deny --locked check licenses bans sources

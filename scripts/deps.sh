#!/usr/bin/env bash
# Install what building and testing Parley needs, on Debian, without prompting.
# Safe to run again: it only installs what is missing.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)        # libopus, built by the opus crate
[ -e /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
pkg-config --exists vpx 2>/dev/null || need_apt+=(libvpx-dev) # VP8 (Debian's libvpx 1.12)
command -v turnserver >/dev/null 2>&1 || need_apt+=(coturn)        # the TURN relay the media tests connect through

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing Debian packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "deps: missing ${need_apt[*]}; install them (as root: apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: cargo is missing. Install Rust from your distribution or rustup, then run make again." >&2
  exit 1
fi
for c in rustfmt clippy; do
  if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
      echo "deps: adding the Rust component $c"
      rustup component add "$c"
    else
      echo "deps: the Rust component $c is missing" >&2
      exit 1
    fi
  fi
done

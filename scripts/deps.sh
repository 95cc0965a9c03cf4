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
pkg-config --exists webkit2gtk-4.1 2>/dev/null || need_apt+=(libwebkit2gtk-4.1-dev) # the desktop app's window (Tauri 2)
command -v Xvfb >/dev/null 2>&1 || need_apt+=(xvfb)                  # a display for the window tests
command -v WebKitWebDriver >/dev/null 2>&1 || need_apt+=(webkit2gtk-driver) # WebDriver for the real window
dpkg -s libasound2 >/dev/null 2>&1 || need_apt+=(libasound2)          # a dependency of the .deb (and of audio devices)
pkg-config --exists alsa 2>/dev/null || need_apt+=(libasound2-dev)   # microphones and speakers (cpal on ALSA)
pkg-config --exists webrtc-audio-processing 2>/dev/null || need_apt+=(libwebrtc-audio-processing-dev) # echo cancellation, noise suppression
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || need_apt+=(libclang-dev) # bindgen: V4L2 camera and audio-processing bindings
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)       # speech for the echo-cancellation test
command -v dbus-daemon >/dev/null 2>&1 || need_apt+=(dbus)                # a session bus: single-instance hand-over in the window tests
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)              # network namespaces: a second computer on a test network
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)             # random loss on a test network (benchmarks)
command -v strace >/dev/null 2>&1 || need_apt+=(strace)             # the no-telemetry test traces the app's sockets
[ -x /usr/bin/import ] || need_apt+=(imagemagick)                  # screenshots of the window under test
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)            # the web UI's build and tests
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)          # a real browser for the browser guest's tests
command -v firefox-esr >/dev/null 2>&1 || need_apt+=(firefox-esr)    # the other browser the guest must work in (WebDriver BiDi)

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

# The browser guest's engine is built for WebAssembly: `make test` checks that it still is.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "deps: adding the Rust target wasm32-unknown-unknown (the browser guest's engine)"
  rustup target add wasm32-unknown-unknown
fi

# cargo-nextest: runs the tests with a time limit per test (.config/nextest.toml; a few minutes).
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "deps: installing cargo-nextest (cargo install, a few minutes)"
  cargo install --locked cargo-nextest --version 0.9.151
fi

# wasm-bindgen: the browser guest's JavaScript glue. Its version must be the wasm-bindgen
# crate's in Cargo.lock. Not --locked: its own lock names a webpki-roots this registry lacks.
WASM_BINDGEN_VERSION=0.2.130
wasm_bindgen="$(command -v wasm-bindgen || echo "$HOME/.cargo/bin/wasm-bindgen")"
if [ "$("$wasm_bindgen" --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  echo "deps: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, about three minutes)"
  cargo install --force wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# tauri-driver: the WebDriver front for the app window (window tests only; about a minute).
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "deps: installing tauri-driver (cargo install, about a minute)"
  cargo install --locked tauri-driver --version 2.1.0
fi

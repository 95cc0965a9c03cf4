#!/usr/bin/env bash
# The browser guest: the meeting engine built for WebAssembly (crates/web) with its JavaScript
# glue (a classic script: the page starts the engine's worker from it and guest-worker.js), and
# the page's script and style, into web/dist (the server's `guest_dir`).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
echo "web: building the meeting engine for WebAssembly (profile web: small; a few minutes the first time)"
cargo build --locked --profile web --target wasm32-unknown-unknown -p parley-web
rm -rf web/dist
mkdir -p web/dist/pkg
wasm_bindgen="$(command -v wasm-bindgen || echo "$HOME/.cargo/bin/wasm-bindgen")"
"$wasm_bindgen" --target no-modules --no-typescript --out-dir web/dist/pkg \
  "$TARGET_DIR/wasm32-unknown-unknown/web/parley_web.wasm"
cp web/static/guest.js web/static/guest-worker.js web/static/guest.css web/dist/
echo "web: the browser guest is in web/dist ($(du -k web/dist/pkg/parley_web_bg.wasm | cut -f1) KiB of WebAssembly, $(gzip -9 -c web/dist/pkg/parley_web_bg.wasm | wc -c | awk '{print int($1/1024)}') KiB gzipped)"

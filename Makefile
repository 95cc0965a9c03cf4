# Parley — the two commands a fresh machine needs: `make run` and `make test`.
# Each installs what it needs first (scripts/deps.sh).

CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
SERVER_PORT ?= 7880

.PHONY: run test deps build lint unit bins web deny bench bench-town-hall bench-soak bench-gallery bench-media bench-e2ee bench-devices fuzz-check fuzz ui ui-test bindings-check package package-debug bench-app help

help:
	@echo "make run    – build and start the desktop app (without a display: how to use parley-cli)"
	@echo "make test   – install what is needed, then lint and run every test"
	@echo "make bench  – the signaling load benchmark (BENCHMARKS.md)"
	@echo "make bench-town-hall – 1,000 participants with media in one meeting (BENCHMARKS.md)"
	@echo "make bench-gallery – 100 participants with cameras, each showing 25 (BENCHMARKS.md)"
	@echo "make bench-soak – 20 participants with media for an hour: memory and open files (BENCHMARKS.md)"
	@echo "make bench-media – media latency, client cost and SFU capacity (BENCHMARKS.md)"
	@echo "make bench-app – the desktop app: cold start, idle memory, a 4-person call, 10 tiles (BENCHMARKS.md)"
	@echo "make bench-e2ee – end-to-end encryption: frames, group changes, rekey (BENCHMARKS.md)"
	@echo "make bench-devices – camera path, resampling, audio processing, buffering delay, echo cancellation (BENCHMARKS.md)"
	@echo "make web    – the browser guest into web/dist (a server offers it with guest_dir)"
	@echo "make fuzz   – run every fuzz target (FUZZ_SECONDS each, default 120)"
	@echo "make package – the .deb"

deps:
	@bash scripts/deps.sh

# The web UI: the app embeds ui/dist, so it is built before any cargo step that compiles the app.
ui: deps
	cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build

ui-test: ui
	cd ui && npm test

bins: deps ui
	$(CARGO) build --locked --workspace --bins

# The browser guest into web/dist (the meeting engine for WebAssembly and its page's files; a
# server offers it with `guest_dir`), and the npm package that drives a real browser in tests.
web: deps
	cd web && npm ci --no-audit --no-fund --loglevel=error
	bash scripts/web.sh

# The UI's TypeScript bindings are generated from the Rust commands and committed: check they
# are up to date (regenerate with target/debug/parley-app --export-bindings ui/src/bindings.ts).
bindings-check: bins
	$(TARGET_DIR)/debug/parley-app --export-bindings $(TARGET_DIR)/bindings.ts
	diff -u ui/src/bindings.ts $(TARGET_DIR)/bindings.ts || { echo "ui/src/bindings.ts is stale: run target/debug/parley-app --export-bindings ui/src/bindings.ts"; exit 1; }

run: deps ui
	@bash scripts/run.sh

lint: deps ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	# The meeting engine as the browser guest will run it: built for WebAssembly.
	$(CARGO) clippy --locked -p parley-engine -p parley-web --target wasm32-unknown-unknown -- -D warnings

deny: deps
	@bash scripts/deny.sh

fuzz-check: deps
	$(CARGO) build --locked --manifest-path fuzz/Cargo.toml --target-dir target --bins

# Every fuzz target for FUZZ_SECONDS each (default 120), guided by coverage on stable Rust;
# `make test` runs each for 30 s (scripts/fuzz.sh).
FUZZ_SECONDS ?= 120
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

# The .deb (release build, tauri's bundler from npm): $(TARGET_DIR)/release/bundle/deb/.
package: deps ui
	$(CARGO) build --locked --release -p parley-app
	# The release profile keeps line tables for profiling; the package does not need them.
	strip $(TARGET_DIR)/release/parley-app
	ui/node_modules/.bin/tauri build --ci --bundles deb
	@ls -l $(TARGET_DIR)/release/bundle/deb/*.deb

# The same package from the debug build the tests use; the window tests install it with dpkg
# and start the installed app.
package-debug: deps bins
	ui/node_modules/.bin/tauri build --ci --debug --bundles deb

# Cross-process tests start the real binaries, so they are built first. The doc examples run
# under cargo test; every other test runs under cargo-nextest (.config/nextest.toml): each in a
# process of its own with a time limit, so a hang fails with the test's name, and no failure
# hides the tests after it.
test: deps lint deny bins web bindings-check fuzz-check ui-test package-debug
	FUZZ_SECONDS=30 bash scripts/fuzz.sh
	$(CARGO) test --locked --workspace --doc
	$(CARGO) nextest run --locked --workspace --no-fail-fast

bench: deps
	@bash scripts/bench-signaling.sh

# Issue 19's town hall: 1,000 participants with media through the SFU.
bench-town-hall: deps
	@bash scripts/bench-town-hall.sh

bench-soak: deps
	@bash scripts/bench-soak.sh

bench-gallery: deps
	@bash scripts/bench-gallery.sh

# The desktop app in release under Xvfb (BENCHMARKS.md).
# End-to-end encryption: SFrame per frame, MLS changes at 10/100/1,000; rekey over the server.
bench-e2ee: deps
	$(CARGO) bench --locked -p parley-e2ee --bench e2ee
	$(CARGO) build --locked --release -p parley-tests --bin bench-e2ee
	$(TARGET_DIR)/release/bench-e2ee 100 5
	$(TARGET_DIR)/release/bench-e2ee 10 5

# Devices: the camera's 720p MJPEG path, resampling, audio processing and mixing on one core,
# the delay of the audio buffers (virtual time), and echo cancellation on speech.
bench-devices: deps
	$(CARGO) bench --locked -p parley-media --bench devices
	$(CARGO) test --locked -p parley-media --test echo_cancellation -- --nocapture

bench-app: deps ui
	$(CARGO) build --locked --release --bins
	$(TARGET_DIR)/release/bench-app start 5
	$(TARGET_DIR)/release/bench-app idle 20
	$(TARGET_DIR)/release/bench-app call 20
	$(TARGET_DIR)/release/bench-app tiles 20

# Media: latency on loopback, one client's CPU and memory, SFU forwarding capacity.
bench-media: deps
	$(CARGO) build --locked --release --bins
	target/release/bench-media latency 30
	target/release/bench-media client 30
	target/release/bench-media sfu 10 20 20
	target/release/bench-media sfu 10 20 20 video-only

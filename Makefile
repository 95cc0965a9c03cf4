# Parley — the two commands a fresh machine needs: `make run` and `make test`.
# Each installs what it needs first (scripts/deps.sh).

CARGO ?= cargo
SERVER_PORT ?= 7880

.PHONY: run test deps build lint unit bins deny bench bench-media fuzz-check help

help:
	@echo "make run    – start a local Parley server and show how to host and join a meeting"
	@echo "make test   – install what is needed, then lint and run every test"
	@echo "make bench  – the signaling load benchmark (BENCHMARKS.md)"
	@echo "make bench-media – media latency, client cost and SFU capacity (BENCHMARKS.md)"

deps:
	@bash scripts/deps.sh

bins: deps
	$(CARGO) build --locked --workspace --bins

run: deps
	@bash scripts/run.sh $(SERVER_PORT)

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

deny: deps
	@bash scripts/deny.sh

fuzz-check: deps
	$(CARGO) build --locked --manifest-path fuzz/Cargo.toml --target-dir target --bins

# Cross-process tests start the real binaries, so they are built first.
test: deps lint deny bins fuzz-check
	$(CARGO) test --locked --workspace

bench: deps
	@bash scripts/bench-signaling.sh

# Media: latency on loopback, one client's CPU and memory, SFU forwarding capacity.
bench-media: deps
	$(CARGO) build --locked --release --bins
	target/release/bench-media latency 30
	target/release/bench-media client 30
	target/release/bench-media sfu 10 20 20
	target/release/bench-media sfu 10 20 20 video-only

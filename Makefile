# Parley — the two commands a fresh machine needs: `make run` and `make test`.
# Each installs what it needs first (scripts/deps.sh).

CARGO ?= cargo
SERVER_PORT ?= 7880

.PHONY: run test deps build lint unit bins deny bench fuzz-check help

help:
	@echo "make run    – start a local Parley server and show how to host and join a meeting"
	@echo "make test   – install what is needed, then lint and run every test"
	@echo "make bench  – the signaling load benchmark (BENCHMARKS.md)"

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

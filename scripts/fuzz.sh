#!/usr/bin/env bash
# Run every fuzz target (fuzz/Cargo.toml) for FUZZ_SECONDS each (default 120; `make test` runs
# them for 30). Stable Rust: libFuzzer is guided by SanitizerCoverage (the same LLVM passes
# cargo-fuzz turns on; AddressSanitizer needs a nightly compiler and is not used), with debug
# assertions and overflow checks on. The instrumented build has its own target directory; the
# corpus grows there from run to run. A crash, a panic, a timeout or running out of memory
# fails the run, and the input that did it is kept (its path is printed) to replay with
# `<target binary> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${FUZZ_SECONDS:-120}"
OUT="${CARGO_TARGET_DIR:-$PWD/target}/fuzz-coverage"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the instrumentation off build scripts and proc macros (they are
# not linked with libFuzzer), as cargo-fuzz does.
HOST=$(rustc -vV | sed -n 's/^host: //p')
echo "fuzz: building the targets with coverage instrumentation (into $OUT)…"
cargo build --locked --release --manifest-path fuzz/Cargo.toml --target-dir "$OUT" \
  --target "$HOST" --bins
BIN="$OUT/$HOST/release"
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^parley-fuzz$')
failed=()
for t in $targets; do
  mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
  log="$OUT/$t.log"
  echo "fuzz: $t for ${SECS} s…"
  if "$BIN/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$OUT/artifacts/$t/" -print_final_stats=1 "$OUT/corpus/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corpus=$(find "$OUT/corpus/$t" -type f | wc -l)
    echo "fuzz: $t ok: ${runs:-?} inputs, ${cov:-?} coverage points, corpus ${corpus} inputs"
  else
    echo "fuzz: $t FAILED; the end of its log ($log):"
    tail -n 40 "$log"
    ls "$OUT/artifacts/$t/" | sed "s|^|fuzz: kept input $OUT/artifacts/$t/|"
    failed+=("$t")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: every target ran ${SECS} s without a failure"

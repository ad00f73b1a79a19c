#!/usr/bin/env bash
# Fuzzes every input HostGuard takes from hosts or the network (the `fuzz` crate; README,
# "Fuzzing"), each target for SECONDS (default 600) from its corpus in fuzz/corpus/, and prints
# executions, crashes and hangs per target. Exits non-zero on any crash or hang; the inputs are
# saved in fuzz/artifacts/<target>/ (replay one: `hostguard-fuzz --replay FILE TARGET`).
#   ./scripts/fuzz.sh                  # 10 minutes per target
#   ./scripts/fuzz.sh 120              # 2 minutes per target
#   ./scripts/fuzz.sh 120 pam_stack    # one target
# Env: FUZZ_SEED (default: the clock, printed), FUZZ_TIMEOUT_MS (one input's limit, default 5000).
# Stable Rust, debug build (overflow checks and debug assertions on); `cargo test -p fuzz`
# replays the kept corpus in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
source scripts/cargo-env.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q -p fuzz --bin hostguard-fuzz
args=(--seconds "$seconds" --timeout-ms "${FUZZ_TIMEOUT_MS:-5000}")
if [ -n "${FUZZ_SEED:-}" ]; then args+=(--seed "$FUZZ_SEED"); fi
exec "$CARGO_TARGET_DIR/debug/hostguard-fuzz" "${args[@]}" "$@"

#!/usr/bin/env bash
# The soak of issue 18 (bench/src/soak.rs): SECONDS (1800 by default) of 1,000 agents
# long-polling and heartbeating, logins at a steady rate through the real agent daemon, console
# users listing and saving, and the SMTP server stopped and restarted twice; then each figure
# beside its target, exiting non-zero if one is missed. On SQLite, and on a throwaway
# PostgreSQL 15 cluster when PostgreSQL is installed (or the cluster in
# HOSTGUARD_BENCH_POSTGRES_URL), as scripts/bench.sh does. Not part of scripts/test.sh.
#   ./scripts/soak.sh                 # release build, 30 minutes on each database
#   ./scripts/soak.sh 300             # 5 minutes on each
#   ./scripts/soak.sh --debug 120     # unoptimised, for trying the soak itself
#   HOSTGUARD_BENCH_ONLY=SQLite ./scripts/soak.sh 300
# Knobs: HOSTGUARD_SOAK_LOGINS_PER_SEC (5), HOSTGUARD_SOAK_CONSOLE_PER_SEC (4), HOSTGUARD_BENCH_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=(--release)
dir=release
if [ "${1:-}" = "--debug" ]; then profile=(); dir=debug; shift; fi
secs=${1:-1800}
case "$secs" in
  ''|*[!0-9]*) echo "usage: $0 [--debug] [SECONDS]" >&2; exit 2 ;;
esac

# The build environment cargo-leptos uses, so the server crate builds outside cargo-leptos.
export LEPTOS_OUTPUT_NAME=hostguard LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend LEPTOS_BIN_DIR=server \
  LEPTOS_JS_MINIFY=false LEPTOS_HASH_FILES=false RUSTFLAGS="--cfg erase_components"
# The bench's target directory: the soak is a mode of the bench binary.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/bench}

echo "== build (${dir})"
cargo build "${profile[@]}" -p server --bin server -p bench --bin bench -p agent --bin hostguard-agent

if [ -z "${HOSTGUARD_BENCH_POSTGRES_URL:-}" ] && [ "${HOSTGUARD_BENCH_ONLY:-}" != "SQLite" ]; then
  if [ -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ]; then
    source scripts/throwaway-postgres.sh
  else
    echo "PostgreSQL 15 is not installed (scripts/setup.sh installs it): SQLite only"
    unset HOSTGUARD_TEST_POSTGRES_URL
  fi
fi

# 1,000 agents' connections in the soak and as many in the console it starts.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "== soak (${secs} s on each database)"
start=$(date +%s)
"$CARGO_TARGET_DIR/$dir/bench" --soak "$secs"
echo "end to end (without the build): $(($(date +%s) - start)) s"

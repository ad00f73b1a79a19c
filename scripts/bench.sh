#!/usr/bin/env bash
# The numbers of issue 4: the 2FA tab's list with 100,000 servers, enabling 10,000 servers in one
# call and the rollout worker's rate, and 10,000 agents long-polling one console (its RSS and
# CPU); the login numbers; and push (issue 17): from the phone's signed approval to the PAM
# module's verdict, and 1,000 logins waiting on a push (the console's RSS, threads and database
# connections). On SQLite, and on a throwaway PostgreSQL 15 cluster when PostgreSQL is installed
# (`scripts/setup.sh` installs it), or on the cluster in HOSTGUARD_BENCH_POSTGRES_URL (an admin
# URL; the bench creates and drops its own database there).
#   ./scripts/bench.sh             # release build (the numbers to quote)
#   ./scripts/bench.sh --debug     # unoptimised, for trying the bench itself
#   ./scripts/bench.sh --logins    # only the login numbers (code verification, the login path)
#   ./scripts/bench.sh --push      # only push: approve → PAM p50/p99 (one replica, two), 1,000 waiting logins
#   (--debug combines with --logins or --push: ./scripts/bench.sh --debug --push)
#   ./scripts/bench.sh --web       # the first load: sizes and Lighthouse scores (scripts/bench-web.sh)
#   ./scripts/bench.sh --soak 300  # the soak (scripts/soak.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--web" ]; then exec ./scripts/bench-web.sh; fi

profile=(--release)
dir=release
if [ "${1:-}" = "--debug" ]; then profile=(); dir=debug; shift; fi

# The build environment cargo-leptos uses, so the server crate builds outside cargo-leptos.
export LEPTOS_OUTPUT_NAME=hostguard LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=frontend LEPTOS_BIN_DIR=server \
  LEPTOS_JS_MINIFY=false LEPTOS_HASH_FILES=false RUSTFLAGS="--cfg erase_components"
# Its own target directory: a build here never waits on (or invalidates) cargo-leptos's.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/bench}

echo "== build (${dir})"
cargo build "${profile[@]}" -p server --bin server -p bench --bin bench -p agent --bin hostguard-agent

if [ -z "${HOSTGUARD_BENCH_POSTGRES_URL:-}" ] && [ "${HOSTGUARD_BENCH_ONLY:-}" != "SQLite" ]; then
  if [ -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ]; then
    # With PostgreSQL's own durability (the tests' cluster turns fsync off): a verify's commit
    # waits for its WAL to reach the disk, as on a real server.
    HOSTGUARD_PG_DURABLE=1 source scripts/throwaway-postgres.sh
  else
    echo "PostgreSQL 15 is not installed (scripts/setup.sh installs it): SQLite only"
    unset HOSTGUARD_TEST_POSTGRES_URL
  fi
fi

# 10,000 long polls (or the soak's agents) need as many sockets in the bench and in the server it starts.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "== bench"
start=$(date +%s)
"$CARGO_TARGET_DIR/$dir/bench" "$@"
echo "end to end (without the build): $(($(date +%s) - start)) s"

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

debug=()
if [ "${1:-}" = "--debug" ]; then debug=(--debug); shift; fi
secs=${1:-1800}
case "$secs" in
  ''|*[!0-9]*) echo "usage: $0 [--debug] [SECONDS]" >&2; exit 2 ;;
esac
# The soak is a mode of the bench binary: the bench's build, PostgreSQL and open-file limit.
exec ./scripts/bench.sh "${debug[@]}" --soak "$secs"

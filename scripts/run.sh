#!/usr/bin/env bash
# Sets up what is missing, then starts the console on http://127.0.0.1:3000 with its embedded
# SQLite database (./data/hostguard.db) and demo data. Pass --release for an optimised build.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.tools/node_modules/.bin:$PATH"   # wasm-opt, for --release

export HOSTGUARD_DEMO=${HOSTGUARD_DEMO:-true}
# In development a saved 2FA change applies after seconds, not the production 5 minutes.
export HOSTGUARD_APPLY_DELAY_SECS=${HOSTGUARD_APPLY_DELAY_SECS:-15}
export HOSTGUARD_LISTEN=${HOSTGUARD_LISTEN:-127.0.0.1:3000}

profile=debug
args=()
if [ "${1:-}" = "--release" ]; then profile=release; args=(--release); fi
cargo leptos build "${args[@]}"
exec "./target/$profile/server" serve

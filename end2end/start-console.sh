#!/bin/sh
# Starts the console for the browser tests: a fresh database with demo data, on $E2E_PORT.
set -eu
dir=target/e2e
rm -rf "$dir" && mkdir -p "$dir"
export HOSTGUARD_DATABASE_URL="sqlite://$dir/hostguard.db?mode=rwc"
export HOSTGUARD_LISTEN="127.0.0.1:${E2E_PORT:-3100}"
export HOSTGUARD_DEMO=true
exec ./target/debug/server

#!/usr/bin/env bash
# Sets up what is missing, then runs every test: unit tests, integration tests against the real
# server on SQLite and on a throwaway PostgreSQL 15 cluster, and the Playwright tests in
# Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build the console (server and wasm)"
cargo leptos build

step "start a throwaway PostgreSQL 15"
source scripts/throwaway-postgres.sh

step "unit and integration tests (SQLite and PostgreSQL)"
cargo test --locked -p domain -p migrations -p server
cargo test --locked -p app --features ssr

step "browser tests (Playwright, Debian's Chromium)"
(cd end2end && npx playwright test)

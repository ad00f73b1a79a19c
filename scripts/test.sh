#!/usr/bin/env bash
# Sets up what is missing, then runs every test: unit tests, integration tests against the real
# server on SQLite and on a throwaway PostgreSQL 15 cluster, and the Playwright tests in
# Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# A one-off build gains nothing from incremental compilation, which would double the disk it uses.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

mkdir -p target && log=target/test-output.log && : >"$log"

step "build the console (server and wasm)"
./scripts/build-console.sh

step "start a throwaway PostgreSQL 15"
source scripts/throwaway-postgres.sh

step "unit and integration tests (SQLite and PostgreSQL)"
(
  source scripts/cargo-env.sh
  # The end-to-end tests run the real agent binary.
  cargo build --locked -p agent -p pam_hostguard
  # A failure ends with its panic messages: a CI excerpt shows only the output's tail.
  export RUST_BACKTRACE=0
  cargo test --locked -p proto -p domain -p migrations -p agent -p pam_hostguard -p server -p fuzz 2>&1 | tee -a "$log" \
    || { echo; echo "== the failures' messages"; grep -A12 "panicked at" "$log" | head -n 120; exit 1; }
  cargo test --locked -p app --features ssr 2>&1 | tee -a "$log" \
    || { echo; echo "== the failures' messages"; grep -A12 "panicked at" "$log" | head -n 120; exit 1; }
)

step "the agent's .deb (from the debug binaries above): installing it changes no PAM file; lintian"
scripts/test-deb.sh 2>&1 | tee -a "$log"

step "lints (clippy: no unwrap or expect outside tests)"
# Only the workspace's deny-level lints fail the run; other clippy advice stays advice. `app` is
# linted through `server` (ssr) here, and as the browser build by cargo-leptos above.
# clippy comes with the machine's toolchain (rustup's default profile); it cannot be fetched here.
if cargo clippy --version >/dev/null 2>&1; then
  (source scripts/cargo-env.sh && cargo clippy --locked -p domain -p proto -p migrations -p server -p agent -p pam_hostguard -p testkit -p bench -p fuzz --all-targets)
else
  echo "clippy is not installed with this toolchain: lints skipped"
fi

step "browser tests (Playwright, Debian's Chromium)"
(cd end2end && npx playwright test) 2>&1 | tee -a "$log"

rust=$(grep -oE 'test result: ok\. [0-9]+ passed' "$log" | awk '{n += $4} END {print n + 0}')
browser=$(grep -oE '^ *[0-9]+ passed \(' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
echo
echo "all tests: $((rust + browser)) passed, 0 failed"

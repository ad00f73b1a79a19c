#!/usr/bin/env bash
# Builds the console (server and wasm) with cargo-leptos. `--release`: optimised (opt-level z,
# whole-program LTO, wasm-opt), with the wasm, JS and CSS precompressed (brotli and gzip) for the server to send
# as they are. Used by run.sh, test.sh and the web bench, so all of them build the same thing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/node_modules/.bin:$PATH"   # wasm-opt (npm's binaryen, scripts/setup.sh)
if [ "${1:-}" = "--release" ]; then
  # Its own site directory, so a release build never overwrites the debug one the tests use.
  # The server finds it through the same variable (run.sh, bench-web.sh).
  LEPTOS_SITE_ROOT=target/site-release cargo leptos build --release --precompress
else
  cargo leptos build
fi

#!/usr/bin/env bash
# The console's first load as browsers see it: builds the release console exactly as
# `./scripts/run.sh --release` does, starts it on a fresh demo database, and runs Lighthouse
# (npm, driving Debian's Chromium, offline) on the sign-in page, the 2FA tab and a topic page.
# Prints the scores, the bytes each first load transfers, and the release bundle's sizes.
#   ./scripts/bench.sh --web
#   ./scripts/bench-web.sh --no-build   # measure the release build already in target/
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

if [ "${1:-}" != "--no-build" ]; then
  echo "== build (release, precompressed)"
  ./scripts/build-console.sh --release
fi

dir=target/bench-web
rm -rf "$dir" && mkdir -p "$dir"
port=${HOSTGUARD_BENCH_WEB_PORT:-3200}
export HOSTGUARD_DATABASE_URL="sqlite://$dir/hostguard.db?mode=rwc" HOSTGUARD_LISTEN="127.0.0.1:$port"
export HOSTGUARD_PUBLIC_URL="http://127.0.0.1:$port" HOSTGUARD_DEMO=true LEPTOS_SITE_ROOT=target/site-release
HOSTGUARD_SECRET_KEY=$(python3 -c "import secrets; print(secrets.token_hex(32))")
export HOSTGUARD_SECRET_KEY
smtp_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.tools/venv/bin/python scripts/smtp_sink.py --port "$smtp_port" --dir "$dir/mail" &
sink=$!
export HOSTGUARD_SMTP_HOST=127.0.0.1 HOSTGUARD_SMTP_PORT="$smtp_port"
./target/release/server serve >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server $sink 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

echo "== release bundle (target/site-release/pkg)"
for f in target/site-release/pkg/*; do
  case "$f" in *.br | *.gz | *.ts) continue ;; esac
  printf '  %-48s %9d bytes  %8d brotli\n' "${f##*/}" "$(stat -c %s "$f")" "$(stat -c %s "$f.br" 2>/dev/null || echo 0)"
done

echo "== the release build in a browser"
node bench/web/hydrates.mjs "http://127.0.0.1:$port"

node bench/web/lighthouse.mjs "http://127.0.0.1:$port" --json "$dir/lighthouse.json"

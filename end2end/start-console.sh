#!/bin/sh
# Starts the console for the browser tests: a fresh database with demo data, on $E2E_PORT.
set -eu
dir=target/e2e
rm -rf "$dir" && mkdir -p "$dir"
export HOSTGUARD_DATABASE_URL="sqlite://$dir/hostguard.db?mode=rwc"
export HOSTGUARD_LISTEN="127.0.0.1:${E2E_PORT:-3100}"
export HOSTGUARD_DEMO=true
export HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK=true
export LEPTOS_OUTPUT_NAME=hostguard LEPTOS_SITE_ROOT=target/site
export HOSTGUARD_PUBLIC_URL="http://127.0.0.1:${E2E_PORT:-3100}"
# A real SMTP server receives the mail; the tests read it from $dir/mail.
smtp_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.tools/venv/bin/python scripts/smtp_sink.py --port "$smtp_port" --dir "$dir/mail" &
sink=$!
export HOSTGUARD_SMTP_HOST=127.0.0.1 HOSTGUARD_SMTP_PORT="$smtp_port"
# Saved 2FA changes apply after 3 s, so the tests can watch a rollout finish.
export HOSTGUARD_APPLY_DELAY_SECS=3
export HOSTGUARD_SECRET_KEY=$(python3 -c "import secrets; print(secrets.token_hex(32))")
./target/debug/server &
server=$!
# Real agents under sandbox roots (scripts/demo-agents.sh), for the 2FA rollout tests.
./scripts/demo-agents.sh "$HOSTGUARD_PUBLIC_URL" admin@acme.example acme-admin-demo-2026 "$dir/agents" \
  e2e-lab-01 e2e-lab-02 e2e-lab-03 e2e-lab-04-broken &
agents=$!
trap 'kill $sink $agents $server 2>/dev/null' EXIT INT TERM
wait $server

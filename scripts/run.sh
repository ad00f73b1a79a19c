#!/usr/bin/env bash
# Sets up what is missing, then starts the console on http://127.0.0.1:3000 with its embedded
# SQLite database (./data/hostguard.db) and demo data.
# It serves the debug build by default, because that builds in minutes where the optimised one
# takes about half an hour from scratch here (whole-program LTO, ~150 wasm chunks). The debug
# build is slower for the browser: the 2FA tab's first load is about 2.1 MB compressed (15 MB
# of wasm), against 471 KB for the release build (README, "First load"). Pass --release
# for the optimised build, as deployed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export HOSTGUARD_DEMO=${HOSTGUARD_DEMO:-true}
# In development a saved 2FA change applies after seconds, not the production 5 minutes.
export HOSTGUARD_APPLY_DELAY_SECS=${HOSTGUARD_APPLY_DELAY_SECS:-15}
export HOSTGUARD_LISTEN=${HOSTGUARD_LISTEN:-127.0.0.1:3000}
# A local ntfy or test push service may take Web Push; never set this in production.
export HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK=${HOSTGUARD_WEBPUSH_ALLOW_LOOPBACK:-true}

# The key that encrypts secrets at rest (access keys' secret halves). Made once, kept in
# ./data/secret.key (readable by this user only); losing it makes stored secrets unreadable.
if [ -z "${HOSTGUARD_SECRET_KEY:-}" ]; then
  mkdir -p data
  if [ ! -s data/secret.key ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > data/secret.key)
  fi
  chmod 600 data/secret.key
  HOSTGUARD_SECRET_KEY=$(tr -d '[:space:]' < data/secret.key)
  export HOSTGUARD_SECRET_KEY
fi

# The console's VAPID key, which signs its Web Push notifications: made once like the secret
# key, in ./data/vapid.key. Browsers' subscriptions are bound to it, so keep it.
if [ -z "${HOSTGUARD_VAPID_PRIVATE_KEY:-}" ]; then
  mkdir -p data
  if [ ! -s data/vapid.key ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > data/vapid.key)
  fi
  chmod 600 data/vapid.key
  HOSTGUARD_VAPID_PRIVATE_KEY=$(tr -d '[:space:]' < data/vapid.key)
  export HOSTGUARD_VAPID_PRIVATE_KEY
fi

# Mail goes to a local SMTP sink that keeps each message in ./data/mail/*.eml; operators also
# see every message on the Outbox page. Point HOSTGUARD_SMTP_* at a real server to send mail.
if [ -z "${HOSTGUARD_SMTP_HOST:-}" ]; then
  export HOSTGUARD_SMTP_HOST=127.0.0.1 HOSTGUARD_SMTP_PORT=${HOSTGUARD_SMTP_PORT:-2525}
  mkdir -p data/mail
  .tools/venv/bin/python scripts/smtp_sink.py --port "$HOSTGUARD_SMTP_PORT" --dir data/mail &
  sink=$!
  trap 'kill $sink 2>/dev/null || true' EXIT
fi

profile=debug
args=()
if [ "${1:-}" = "--release" ]; then
  profile=release; args=(--release)
  export LEPTOS_SITE_ROOT=target/site-release   # where scripts/build-console.sh puts it
fi
./scripts/build-console.sh "${args[@]}"
cargo build "${args[@]}" -p agent

"./target/$profile/server" serve &
server=$!
trap 'kill $server ${sink:-} ${agents:-} 2>/dev/null || true' EXIT INT TERM

# Real agents for Acme, each under its own sandbox root in ./data/agents, so a rollout can be
# watched end to end: acme-lab-04-broken has an sshd_config that refuses the change (rolled back).
if [ "${HOSTGUARD_DEMO}" = true ] && [ "${HOSTGUARD_DEMO_AGENTS:-true}" = true ]; then
  HOSTGUARD_AGENT_BIN="./target/$profile/hostguard-agent" ./scripts/demo-agents.sh \
    "http://${HOSTGUARD_LISTEN}" admin@acme.example acme-admin-demo-2026 data/agents \
    acme-lab-01 acme-lab-02 acme-lab-03 acme-lab-04-broken &
  agents=$!
fi
wait $server

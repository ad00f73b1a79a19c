#!/usr/bin/env bash
# The agent API's contract (issue 18): schemathesis, every check, against the OpenAPI document
# the console serves at /agent/v1/openapi.json, called as enrolled agents. Builds the debug
# console, starts it on a throwaway SQLite database with demo data, enrols agents with install
# tokens (as the install command does), runs schemathesis with a bounded number of examples,
# then stops the console. Exits non-zero on any failure, server error or panic.
#   ./scripts/contract.sh                      # about 5 minutes
#   CONTRACT_EXAMPLES=20 CONTRACT_LONG_POLL_EXAMPLES=3 ./scripts/contract.sh   # quicker
#   CONTRACT_SEED=42 ./scripts/contract.sh     # repeat a run
set -euo pipefail
cd "$(dirname "$0")/.."

# Examples per operation. The long poll waits up to `wait` seconds (at most 30) for each of its
# own, so it gets fewer (and runs beside the others).
examples=${CONTRACT_EXAMPLES:-200}
long_poll_examples=${CONTRACT_LONG_POLL_EXAMPLES:-10}
seed=${CONTRACT_SEED:-$RANDOM}
st=$PWD/.tools/venv/bin/schemathesis
[ -x "$st" ] || ./scripts/setup.sh

echo "== build (debug)"
(source scripts/cargo-env.sh && cargo build -q -p server --bin server)
server_bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/server

tmp=$(mktemp -d -t hostguard-contract.XXXXXX)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
console=http://127.0.0.1:$port
echo "== console on $console"
HOSTGUARD_DATABASE_URL="sqlite://$tmp/hostguard.db?mode=rwc" HOSTGUARD_LISTEN=127.0.0.1:$port \
  HOSTGUARD_DEMO=true HOSTGUARD_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))') \
  HOSTGUARD_SMTP_HOST=127.0.0.1 HOSTGUARD_SMTP_PORT=9 RUST_LOG=warn \
  LEPTOS_OUTPUT_NAME=hostguard LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg LEPTOS_SITE_ADDR=127.0.0.1:$port \
  "$server_bin" serve >"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do curl -fsS "$console/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$console/readyz" >/dev/null || { echo "the console did not start:" >&2; tail -20 "$tmp/server.log" >&2; exit 1; }

# Acme's demo admin signs in (password, then a code from the authenticator whose secret the
# demo publishes) and asks for install tokens; "agents" register with them as the installer does.
jar=$tmp/cookies
curl -fsS -c "$jar" -o /dev/null -d email=admin@acme.example -d password=acme-admin-demo-2026 "$console/api/auth/sign_in"
code=$(python3 -c 'import base64,hmac,struct,time
k=base64.b32decode("HOSTGUARDDEMOACMEADMINSEEDAAAAAA"); m=hmac.new(k,struct.pack(">Q",int(time.time())//30),"sha1").digest(); o=m[-1]&15
print("%06d"%((struct.unpack(">I",m[o:o+4])[0]&0x7fffffff)%1000000))')
curl -fsS -b "$jar" -c "$jar" -o /dev/null -d "code=$code" "$console/api/auth/sign_in_code"
enrol() {
  local token
  token=$(curl -fsS -b "$jar" -X POST "$console/api/agents/install-token" \
    | python3 -c 'import json,sys; print(next(w.strip("\x27") for w in json.load(sys.stdin)["command"].split() if w.startswith("\x27hgi_")))')
  curl -fsS -H 'Content-Type: application/json' --data-binary @- "$console/agent/v1/register" <<JSON \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"])'
{"install_token": "$token", "facts": {"hostname": "$1", "ips": ["192.0.2.10"], "os_type": "linux",
 "os_name": "Debian GNU/Linux 12", "openssh_version": "OpenSSH_9.2p1", "sshd_use_pam": true,
 "sshd_kbd_interactive": true, "sshd_permit_empty_passwords": false, "selinux": null, "agent_version": "0.1.0"}}
JSON
}
# Each kind of report has an agent of its own: one agent's budget (60 reports, then one every
# 2 s) would answer most of a run with 429, which passes every check and tests nothing.
HG_AGENT=$(enrol contract-main)
HG_FACTS=$(enrol contract-facts)
HG_HEARTBEAT=$(enrol contract-heartbeat)
HG_ACK=$(enrol contract-ack)
HG_OFFLINE=$(enrol contract-offline)
export HG_AGENT HG_FACTS HG_HEARTBEAT HG_ACK HG_OFFLINE

cat >"$tmp/schemathesis.toml" <<'TOML'
headers = { Authorization = "Bearer ${HG_AGENT}" }
# schemathesis' defaults and 413: a body over the API's 64 KiB is refused before it is read,
# which the document lists on every call with a body. No schema can bound a body's size (500
# offline logins with long texts are valid and too large), so 413 answers valid data too.
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "413", "429", "5xx"]

[[operations]]
include-name = "GET /agent/v1/config"
# The long poll holds its answer up to `wait` seconds (at most 30) by design.
checks.max_response_time = 32.0

[[operations]]
include-name = "PUT /agent/v1/facts"
headers = { Authorization = "Bearer ${HG_FACTS}" }

[[operations]]
include-name = "POST /agent/v1/heartbeat"
headers = { Authorization = "Bearer ${HG_HEARTBEAT}" }

[[operations]]
include-name = "POST /agent/v1/ack"
headers = { Authorization = "Bearer ${HG_ACK}" }

[[operations]]
include-name = "POST /agent/v1/logins/offline"
headers = { Authorization = "Bearer ${HG_OFFLINE}" }
# Two rules no schema can state refuse a schema-valid report with 422, naming the login and
# the field: `at` within the last 30 days (of the console's clock), and `result` going with
# `reason`. The document says both in words.
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "413", "422", "429", "5xx"]
TOML

echo "== agents enrolled; schemathesis $("$st" --version | awk '{print $NF}'), seed $seed, up to $examples examples per operation ($long_poll_examples for the long poll)"
# The long poll runs in a process of its own beside the other calls, so its waits overlap them.
# Processes rather than --workers: hypothesis parses source while it generates, and Python
# 3.11's parser is not safe in threads.
run() {
  local name=$1 n=$2; shift 2
  (cd "$tmp" && "$st" --config-file "$tmp/schemathesis.toml" run "$console/agent/v1/openapi.json" \
    --checks all --max-examples "$n" --seed "$seed" --request-timeout 40 --no-color \
    --report junit --report-dir "$tmp/report-$name" "$@") >"$tmp/$name.log" 2>&1
}
start=$(date +%s)
run long-poll "$long_poll_examples" --include-path /agent/v1/config &
long_poll=$!
# The config stream is a WebSocket (RFC 6455): schemathesis speaks HTTP requests and answers, so
# it cannot hold one (its handshake without the upgrade headers is refused with 400, as
# documented); the API tests drive it with a WebSocket client
# (rollout::the_config_stream_answers_waits_as_the_long_poll).
run calls "$examples" --exclude-path /agent/v1/config --exclude-path /agent/v1/config/stream &
calls=$!
status=0
wait "$calls" || status=$?
wait "$long_poll" || status=$?
for name in calls long-poll; do
  echo "== schemathesis: $name"
  cat "$tmp/$name.log"
done
echo "== schemathesis took $(($(date +%s) - start)) s"
if grep -q 'panicked\|AGENT.0500' "$tmp/server.log"; then
  echo "the console logged a panic or an internal error:" >&2
  grep -m 20 'panicked\|ERROR' "$tmp/server.log" >&2
  status=1
fi
if [ "$status" != 0 ]; then
  keep=$(mktemp -d -t hostguard-contract-failed.XXXXXX)
  cp -r "$tmp/." "$keep/"
  echo "contract: FAILED (seed $seed); the console's log, database and reports are in $keep" >&2
else
  echo "contract: passed (seed $seed)"
fi
exit "$status"

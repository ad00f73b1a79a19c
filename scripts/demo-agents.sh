#!/usr/bin/env bash
# Starts real HostGuard agents for a tenant, each under its own --root sandbox (see
# agent-sandbox.sh), registered with install tokens the tenant admin creates in the console.
#   scripts/demo-agents.sh CONSOLE_URL ADMIN_EMAIL ADMIN_PASSWORD DIR NAME...
# Runs until killed; the agents stop with it. A name ending in "-broken" gets an sshd_config
# that rejects the agent's change, so its rollout fails and is rolled back. Tokens reach the
# agents on standard input (never in an argument list, which `ps` shows); a plain-http
# console gets --insecure-http, which the agent otherwise refuses.
set -euo pipefail
console=${1:?console URL}; email=${2:?admin email}; password=${3:?admin password}; dir=${4:?sandbox dir}
shift 4
here=$(cd "$(dirname "$0")" && pwd)
agent=${HOSTGUARD_AGENT_BIN:-$here/../target/debug/hostguard-agent}
mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
jar="$dir/cookies"
for _ in $(seq 1 100); do curl -fsS "$console/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS -c "$jar" -o /dev/null -d "email=$email" --data-urlencode "password=$password" "$console/api/auth/sign_in" \
  || { echo "demo-agents: cannot sign in as $email" >&2; exit 1; }
insecure=(); case "$console" in http://*) insecure=(--insecure-http) ;; esac
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
for name in "$@"; do
  root="$dir/$name"
  if [ ! -f "$root/var/lib/hostguard/agent.json" ]; then
    broken=""; case "$name" in *-broken) broken=--broken ;; esac
    "$here/agent-sandbox.sh" "$root" "$name" $broken
    token=$(curl -fsS -b "$jar" -X POST "$console/api/agents/install-token" \
      | python3 -c 'import json,sys; print(next(w.strip("\x27") for w in json.load(sys.stdin)["command"].split() if w.startswith("\x27hgi_")))')
    set -- --token-file -
  else
    token=""
    set --
    # Sandboxes made before the agent checked for its PAM module get the stand-in too.
    mkdir -p "$root/lib/x86_64-linux-gnu/security" && touch "$root/lib/x86_64-linux-gnu/security/pam_hostguard.so"
  fi
  printf '%s\n' "$token" | "$agent" --console "$console" "${insecure[@]}" --root "$root" --name "$name" \
    --poll-wait 20 --heartbeat-secs 10 "$@" >"$dir/$name.log" 2>&1 &
  pids+=($!)
done
echo "demo-agents: ${#pids[@]} agents running (logs in $dir)"
wait

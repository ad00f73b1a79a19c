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
headers=$(curl -fsS -c "$jar" -D - -o /dev/null -d "email=$email" --data-urlencode "password=$password" "$console/api/auth/sign_in") \
  || { echo "demo-agents: cannot sign in as $email" >&2; exit 1; }
# The demo's tenant admins also give a code from their console authenticator, whose secret
# key the demo publishes (domain::demo::CONSOLE_SEEDS; HOSTGUARD_CONSOLE_SECRET for others).
if printf '%s' "$headers" | grep -qi '^location: /signin/code'; then
  case "$email" in
    admin@acme.example) secret=${HOSTGUARD_CONSOLE_SECRET:-HOSTGUARDDEMOACMEADMINSEEDAAAAAA} ;;
    admin@globex.example) secret=${HOSTGUARD_CONSOLE_SECRET:-HOSTGUARDDEMOGLOBEXADMINSEEDAAAA} ;;
    *) secret=${HOSTGUARD_CONSOLE_SECRET:?demo-agents: $email needs HOSTGUARD_CONSOLE_SECRET} ;;
  esac
  code=$(python3 -c 'import base64,hmac,struct,sys,time
k=base64.b32decode(sys.argv[1]); m=hmac.new(k,struct.pack(">Q",int(time.time())//30),"sha1").digest(); o=m[-1]&15
print("%06d"%((struct.unpack(">I",m[o:o+4])[0]&0x7fffffff)%1000000))' "$secret")
  curl -fsS -b "$jar" -c "$jar" -o /dev/null -d "code=$code" "$console/api/auth/sign_in_code" \
    || { echo "demo-agents: $email's authenticator code was refused" >&2; exit 1; }
fi
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

#!/usr/bin/env bash
# A real sshd protected by HostGuard, without touching this machine's own configuration: in a
# private mount namespace (`unshare -m`, needs root) it gives itself a copy of /etc with a test
# user, a private /run, and PAM's module directory with pam_hostguard.so added; then it starts
# the stock sshd on a loopback port and runs `hostguard-agent --root /` for that namespace.
#
#   sudo scripts/ssh-sandbox.sh DIR PORT CONSOLE_URL [AGENT OPTIONS...]
#
# DIR keeps the namespace's files, the agent's state and sshd's log (DIR/sshd.log). The agent
# registers with an install token on standard input (or reuses DIR/state/agent.json), so:
#   echo 'hgi_…' | sudo scripts/ssh-sandbox.sh /tmp/hg-ssh 2222 http://127.0.0.1:3000 --name ssh-sandbox
# then enable 2FA for `ssh-sandbox` in the console and log in: `ssh -p 2222 hgtest@127.0.0.1`.
# Environment: HG_PASSWORD (hgtest's password; default: a random one, printed), HG_AGENT and HG_MODULE
# (default: the debug builds in target/), DIR/client_key.pub (authorized for hgtest if present).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != "--inside" ]; then
  [ "$(id -u)" = 0 ] || { echo "ssh-sandbox.sh needs root (for unshare -m and bind mounts)" >&2; exit 2; }
  dir=${1:?usage: ssh-sandbox.sh DIR PORT CONSOLE_URL [AGENT OPTIONS...]}
  port=${2:?port}; console=${3:?console URL}; shift 3
  mkdir -p "$dir/state" && dir=$(cd "$dir" && pwd)
  # Root copies PAM modules and /etc through DIR: nobody else may be able to swap them meanwhile.
  for d in "$dir" "$dir/state"; do
    read -r owner mode < <(stat -c '%u %a' "$d")
    if [ "$owner" != 0 ] || [ $((8#$mode & 8#022)) != 0 ] || [ -L "$d" ]; then
      echo "$d must be a directory owned by root and writable by root only" >&2; exit 2
    fi
  done
  agent=${HG_AGENT:-$repo/target/debug/hostguard-agent}
  module=${HG_MODULE:-$repo/target/debug/libpam_hostguard.so}
  for f in "$agent" "$module"; do
    [ -f "$f" ] || { echo "$f is missing: cargo build -p agent -p pam_hostguard" >&2; exit 2; }
  done
  password=${HG_PASSWORD:-}
  if [ -z "$password" ]; then
    password=$(openssl rand -hex 8)
    echo "hgtest's password: $password (sshd listens on 127.0.0.1:$port)"
  fi
  hash=$(openssl passwd -6 "$password")
  exec unshare -m --propagation private "$0" --inside "$dir" "$port" "$console" "$agent" "$module" "$hash" "$@"
fi

shift
T=$1 PORT=$2 CONSOLE=$3 AGENT=$4 MODULE=$5 HASH=$6; shift 6
rm -rf "$T/etc" "$T/security"
cp -a /etc "$T/etc" && mount --bind "$T/etc" /etc
mkdir -p "$T/security" && cp -a /usr/lib/x86_64-linux-gnu/security/. "$T/security/"
cp "$MODULE" "$T/security/pam_hostguard.so" && mount --bind "$T/security" /usr/lib/x86_64-linux-gnu/security
mount -t tmpfs tmpfs /run && mkdir -p /run/sshd && chmod 755 /run/sshd
echo "hgtest:x:4242:4242:HostGuard test:$T/home:/bin/sh" >>/etc/passwd
echo "hgtest:x:4242:" >>/etc/group
echo "hgtest:$HASH:19000:0:99999:7:::" >>/etc/shadow
mkdir -p "$T/home/.ssh"
[ -f "$T/client_key.pub" ] && cp "$T/client_key.pub" "$T/home/.ssh/authorized_keys"
chown -R 4242:4242 "$T/home" && chmod 755 "$T/home" && chmod 700 "$T/home/.ssh"
# A container cannot set the audit login uid; that session module is not HostGuard's concern.
sed -i '/pam_loginuid/d' /etc/pam.d/sshd
ssh-keygen -A >/dev/null
printf '#!/bin/sh\nkill -HUP "$(cat /run/sshd-hg.pid)"\n' >"$T/reload.sh" && chmod 755 "$T/reload.sh"
/usr/sbin/sshd -D -e -p "$PORT" -o ListenAddress=127.0.0.1 -o PidFile=/run/sshd-hg.pid 2>"$T/sshd.log" &
sshd_pid=$! agent_pid=
# sshd goes with the agent, however this script ends (a SIGKILL skips traps: tests kill the
# whole process group instead).
trap 'kill "$sshd_pid" ${agent_pid:+"$agent_pid"} 2>/dev/null || true' EXIT
trap 'exit 143' TERM INT HUP
insecure=(); case "$CONSOLE" in http://*) insecure=(--insecure-http) ;; esac
token=(); [ -f "$T/state/agent.json" ] || token=(--token-file -)
# <&0: a background job's standard input would otherwise be /dev/null (the token comes on it).
"$AGENT" --console "$CONSOLE" "${insecure[@]}" "${token[@]}" --root / --state-dir "$T/state" \
  --reload-command "$T/reload.sh" "$@" <&0 &
agent_pid=$!
status=0
wait "$agent_pid" || status=$?
exit "$status"

#!/usr/bin/env bash
# Makes DIR a root like a Debian 12 server prepared for 2FA, for `hostguard-agent --root DIR`
# (against a development console on plain http, with `--insecure-http`):
# os-release, Debian's /etc/pam.d/sshd, and an sshd_config whose Include, host key and paths
# point into DIR, so the real `sshd -t` checks what the agent writes there. Stock Debian has
# `KbdInteractiveAuthentication no` after the Include, which the agent's drop-in overrides (the
# console only warns); this root sets it to yes anyway. Used by the demo and the tests.
#   scripts/agent-sandbox.sh DIR [HOSTNAME] [--broken]
# --broken puts the Include after a Match block, where sshd refuses the agent's settings: the
# agent's change fails `sshd -t` and is rolled back.
set -euo pipefail
root=${1:?usage: agent-sandbox.sh DIR [HOSTNAME] [--broken]}
name=${2:-sandbox-host}
broken=${3:-}
mkdir -p "$root"/etc/pam.d "$root"/etc/ssh/sshd_config.d "$root"/var/lib/hostguard
root=$(cd "$root" && pwd)
# sshd -t refuses to run without its privilege separation directory (systemd normally makes it).
[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd; }

cat >"$root/etc/os-release" <<'OS'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
OS
echo "$name" >"$root/etc/hostname"
# Where HostGuard's PAM module is installed; the agent refuses to enable 2FA without it, since a
# PAM line naming a missing module refuses every login. No sshd runs in this sandbox, so an empty
# file stands in for it (scripts/ssh-sandbox.sh runs a real sshd with the real module).
mkdir -p "$root/lib/x86_64-linux-gnu/security"
[ -f "$root/lib/x86_64-linux-gnu/security/pam_hostguard.so" ] || : >"$root/lib/x86_64-linux-gnu/security/pam_hostguard.so"
cat >"$root/etc/pam.d/common-auth" <<'PAM'
auth	[success=1 default=ignore]	pam_unix.so nullok
auth	requisite			pam_deny.so
auth	required			pam_permit.so
PAM
cat >"$root/etc/pam.d/sshd" <<'PAM'
# PAM configuration for the Secure Shell service

# Standard Un*x authentication.
@include common-auth

# Disallow non-root logins when /etc/nologin exists.
account    required     pam_nologin.so

# Standard Un*x authorization.
@include common-account

session    required     pam_loginuid.so
session    optional     pam_keyinit.so force revoke
@include common-session
session    optional     pam_motd.so  motd=/run/motd.dynamic
session    required     pam_limits.so
session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale

# Standard Un*x password updating.
@include common-password
PAM
key="$root/etc/ssh/ssh_host_ed25519_key"
[ -f "$key" ] || ssh-keygen -q -t ed25519 -N '' -f "$key"
settings="HostKey $key
PidFile none
KbdInteractiveAuthentication yes
UsePAM yes
PermitEmptyPasswords no
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server"
if [ "$broken" = "--broken" ]; then
  printf '%s\nMatch User nobody\n  X11Forwarding no\nInclude %s/etc/ssh/sshd_config.d/*.conf\n' "$settings" "$root" >"$root/etc/ssh/sshd_config"
else
  printf 'Include %s/etc/ssh/sshd_config.d/*.conf\n%s\n' "$root" "$settings" >"$root/etc/ssh/sshd_config"
fi

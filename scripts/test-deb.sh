#!/usr/bin/env bash
# Tests the .deb: its files, and that installing, upgrading and removing it change no PAM or sshd
# file and start nothing. It installs with the real dpkg into a throwaway root, and runs the
# postinst as on a live system inside a private mount namespace with a fake `systemctl`.
#
#   scripts/test-deb.sh [options of build-deb.sh]   (default: --profile debug --no-build, i.e. the
#                                                    binaries scripts/test.sh has just built)
# Prints `test result: ok. N passed; 0 failed` like cargo, which scripts/test.sh counts.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ $# -gt 0 ] || set -- --profile debug --no-build
deb=$(scripts/build-deb.sh "$@" --out-dir "$tmp" | tail -n 1)
passed=0
# Runs one test in a subshell with errexit on: not inside `if`, where bash would ignore errexit.
run() {
  printf 'test deb::%s ... ' "$1"
  set +e
  (set -e; "$1") >"$tmp/out" 2>&1
  local rc=$?
  set -e
  if [ $rc = 0 ]; then
    echo ok
    passed=$((passed + 1))
  else
    echo FAILED
    cat "$tmp/out"
    echo "test result: FAILED. $passed passed; 1 failed"
    exit 1
  fi
}
fail() { echo "$*" >&2; exit 1; }
assert() { "$@" || fail "assertion failed: $*"; }
# Every file under /etc/pam.d, /etc/ssh and /etc/hostguard (the module's settings) of a root, with
# its hash, permissions and owner.
pam_and_sshd_files() {
  (cd "$1" && find etc/pam.d etc/ssh etc/hostguard -type f -printf '%p %m %u\n' -exec sha256sum {} \; 2>/dev/null | sort || true)
}

package_holds_exactly_the_agent_module_unit_and_docs() {
  dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ { print $1, $2, $6 }' | sort -k3 >"$tmp/contents"
  cat "$tmp/contents"
  diff <(awk '{ print $3 }' "$tmp/contents") - <<'EOF'
./etc/default/hostguard-agent
./lib/systemd/system/hostguard-agent.service
./usr/lib/x86_64-linux-gnu/security/pam_hostguard.so
./usr/sbin/hostguard-agent
./usr/share/doc/hostguard-agent/changelog.gz
./usr/share/doc/hostguard-agent/copyright
./usr/share/man/man8/hostguard-agent.8.gz
EOF
  assert grep -qx -- '-rw-r--r-- root/root ./usr/lib/x86_64-linux-gnu/security/pam_hostguard.so' "$tmp/contents"
  assert grep -qx -- '-rwxr-xr-x root/root ./usr/sbin/hostguard-agent' "$tmp/contents"
  dpkg-deb -x "$deb" "$tmp/x"
  for f in "$tmp/x/usr/sbin/hostguard-agent" "$tmp/x/usr/lib/x86_64-linux-gnu/security/pam_hostguard.so"; do
    readelf -SW "$f" >"$tmp/sections"
    if grep -qE ' \.(symtab|debug_info|debug_line) ' "$tmp/sections"; then fail "$f is not stripped"; fi
  done
  # The module PAM loads exports PAM's entry points.
  # (grep reads a process substitution: `cmd | grep -q` can fail on SIGPIPE under pipefail.)
  assert grep -qw pam_sm_authenticate <(nm -D --defined-only "$tmp/x/usr/lib/x86_64-linux-gnu/security/pam_hostguard.so")
}

control_names_the_workspace_version_and_one_conffile() {
  version=$(awk '/^\[workspace.package\]/ { p = 1 } p && /^version *=/ { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)
  assert [ "$(dpkg-deb -f "$deb" Package Version Architecture)" = "Package: hostguard-agent
Version: $version
Architecture: amd64" ]
  dpkg-deb -e "$deb" "$tmp/control"
  assert [ "$(cat "$tmp/control/conffiles")" = /etc/default/hostguard-agent ]
  assert [ ! -e "$tmp/control/preinst" ]
  for script in postinst prerm postrm; do assert [ -x "$tmp/control/$script" ]; done
}

unit_runs_the_registered_agent_with_a_private_socket_dir() {
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/hostguard-agent.service >"$tmp/unit"
  for line in Type=simple Restart=on-failure EnvironmentFile=/etc/default/hostguard-agent \
    'ExecStart=/usr/sbin/hostguard-agent $HOSTGUARD_AGENT_ARGS' RuntimeDirectory=hostguard RuntimeDirectoryMode=0700 \
    StateDirectory=hostguard ConditionPathExists=/var/lib/hostguard/agent.json WantedBy=multi-user.target; do
    grep -qxF "$line" "$tmp/unit" || fail "the unit lacks $line"
  done
  # The agent edits /etc/pam.d and /etc/ssh: nothing may make /etc read-only.
  if grep -Eq '^(ProtectSystem|ReadOnlyPaths|DynamicUser|User)=' "$tmp/unit"; then fail "the unit would stop the agent's edits"; fi
}

# A throwaway root with a Debian-like PAM and sshd configuration and an empty dpkg database.
make_root() {
  root=$tmp/root
  mkdir -p "$root/etc/pam.d" "$root/etc/ssh/sshd_config.d" "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
  : >"$root/var/lib/dpkg/status"
  printf '@include common-auth\naccount required pam_nologin.so\n@include common-account\n' >"$root/etc/pam.d/sshd"
  printf 'auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n' >"$root/etc/pam.d/common-auth"
  printf 'Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n' >"$root/etc/ssh/sshd_config"
  # A `systemctl` that only records how it was called.
  mkdir -p "$tmp/bin"
  printf '#!/bin/sh\necho "$*" >>%q\n' "$tmp/systemctl.log" >"$tmp/bin/systemctl"
  chmod +x "$tmp/bin/systemctl"
  : >"$tmp/systemctl.log"
}
# The real dpkg on the throwaway root; the maintainer scripts run with DPKG_ROOT set.
dpkg_root() {
  PATH="$tmp/bin:$PATH" dpkg --root="$root" --log="$tmp/dpkg.log" --force-script-chrootless --force-depends \
    --force-not-root "$@"
}

installing_upgrading_and_purging_change_no_pam_or_sshd_file() {
  make_root
  pam_and_sshd_files "$root" >"$tmp/before"
  pam_and_sshd_files / >"$tmp/host-before"
  dpkg_root -i "$deb"
  assert grep -qx 'Status: install ok installed' <(dpkg_root -s hostguard-agent)
  assert [ -f "$root/usr/lib/x86_64-linux-gnu/security/pam_hostguard.so" ]
  assert [ -f "$root/etc/default/hostguard-agent" ]
  diff "$tmp/before" <(pam_and_sshd_files "$root") || fail "installing changed a PAM or sshd file"
  dpkg_root -i "$deb" # an upgrade (same version): prerm upgrade, postinst configure <old>
  diff "$tmp/before" <(pam_and_sshd_files "$root") || fail "upgrading changed a PAM or sshd file"
  mkdir -p "$root/var/lib/hostguard" && echo '{}' >"$root/var/lib/hostguard/agent.json"
  dpkg_root --purge hostguard-agent
  assert [ ! -e "$root/var/lib/hostguard" ]
  assert [ ! -e "$root/usr/lib/x86_64-linux-gnu/security/pam_hostguard.so" ]
  assert [ ! -e "$root/etc/default/hostguard-agent" ]
  diff "$tmp/before" <(pam_and_sshd_files "$root") || fail "removing changed a PAM or sshd file"
  diff "$tmp/host-before" <(pam_and_sshd_files /) || fail "a maintainer script changed this machine's PAM or sshd files"
  [ ! -s "$tmp/systemctl.log" ] || fail "systemctl was called for a throwaway root: $(cat "$tmp/systemctl.log")"
}

removal_is_refused_while_pam_requires_the_module() {
  make_root
  dpkg_root -i "$deb"
  echo 'auth required pam_hostguard.so' >>"$root/etc/pam.d/sshd"
  if dpkg_root -r hostguard-agent; then fail "removed the module /etc/pam.d/sshd requires"; fi
  # Still installed and configured (only dpkg's selection says `deinstall`).
  assert grep -Eqx 'Status: (install|deinstall) ok installed' <(dpkg_root -s hostguard-agent)
  assert [ -f "$root/usr/lib/x86_64-linux-gnu/security/pam_hostguard.so" ]
  sed -i '/pam_hostguard/d' "$root/etc/pam.d/sshd"
  dpkg_root -r hostguard-agent
}

# As on a live systemd machine: /run/systemd/system exists, DPKG_ROOT is unset, systemctl is the
# fake (deb-systemd-invoke calls it too). The private mount namespace keeps the tmpfs from the rest of the machine.
postinst_on_a_live_system_reloads_units_and_starts_nothing() {
  if ! unshare -m --propagation private true 2>/dev/null; then
    echo "no mount namespace here (needs root): only the throwaway-root install ran"
    return 0
  fi
  make_root
  pam_and_sshd_files / >"$tmp/host-before"
  dpkg-deb -e "$deb" "$tmp/live"
  export PATH="$tmp/bin:$PATH" control=$tmp/live
  unshare -m --propagation private sh -ec '
    mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system
    # A container'"'"'s policy-rc.d would make deb-systemd-invoke skip the calls this test checks.
    if [ -e /usr/sbin/policy-rc.d ]; then mount --bind /bin/true /usr/sbin/policy-rc.d; fi
    env -u DPKG_ROOT "$control/postinst" configure ""
    env -u DPKG_ROOT "$control/postinst" configure 0.0.1
    env -u DPKG_ROOT "$control/prerm" upgrade 0.1.0'
  cat "$tmp/systemctl.log"
  assert [ "$(cat "$tmp/systemctl.log")" = "daemon-reload
daemon-reload
try-restart hostguard-agent.service" ]
  diff "$tmp/host-before" <(pam_and_sshd_files /) || fail "the postinst changed this machine's PAM or sshd files"
}

lintian_reports_no_errors() {
  lintian --fail-on error --tag-display-limit 0 "$deb"
}

run package_holds_exactly_the_agent_module_unit_and_docs
run control_names_the_workspace_version_and_one_conffile
run unit_runs_the_registered_agent_with_a_private_socket_dir
run installing_upgrading_and_purging_change_no_pam_or_sshd_file
run removal_is_refused_while_pam_requires_the_module
run postinst_on_a_live_system_reloads_units_and_starts_nothing
run lintian_reports_no_errors
echo "test result: ok. $passed passed; 0 failed"

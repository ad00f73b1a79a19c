#!/usr/bin/env bash
# Builds the server package hostguard-agent_<version>_amd64.deb with dpkg-deb: the agent, the PAM
# module, a systemd unit and /etc/default/hostguard-agent (packaging/debian/). Installing it
# changes no PAM file; the agent does that when the console enables 2FA.
#
#   scripts/build-deb.sh [--profile release|debug] [--target-dir DIR] [--out-dir DIR] [--no-build] [--check]
#
# --no-build packages binaries already built in the target dir; --check runs lintian, which
# must report no errors. The last line printed is the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n 6p scripts/build-deb.sh | sed 's/^#  */usage: /' >&2; exit 2; }
profile=release target_dir=target out_dir="" build=1 check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=${2:-}; shift 2 || usage ;;
    --target-dir) target_dir=${2:-}; shift 2 || usage ;;
    --out-dir) out_dir=${2:-}; shift 2 || usage ;;
    --no-build) build=0; shift ;;
    --check) check=1; shift ;;
    *) usage ;;
  esac
done
case "$profile" in
  release) cargo_profile=release ;;
  debug) cargo_profile=dev ;; # cargo's dev profile builds into target/debug
  *) usage ;;
esac
out_dir=${out_dir:-$target_dir/debian}
bin_dir=$target_dir/$profile

if [ "$build" = 1 ]; then
  # The same flags as every other build, so dependencies already compiled are reused.
  source scripts/cargo-env.sh
  cargo build --locked --profile "$cargo_profile" --target-dir "$target_dir" -p agent -p pam_hostguard >&2
fi

version=$(awk '/^\[workspace.package\]/ { p = 1 } p && /^version *=/ { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)
pkg=hostguard-agent arch=amd64
[ "$(dpkg --print-architecture)" = "$arch" ] || { echo "build-deb: builds $arch only" >&2; exit 2; }
src=packaging/debian
stage=$out_dir/${pkg}_${version}_${arch}
deb=$out_dir/${pkg}_${version}_${arch}.deb
rm -rf "$stage" && mkdir -p "$stage/DEBIAN"

# Files: installed with explicit modes, so the package does not depend on the builder's umask.
put() { install -D -m "$1" "$2" "$stage/$3"; }
put 0755 "$bin_dir/hostguard-agent" usr/sbin/hostguard-agent
put 0644 "$bin_dir/libpam_hostguard.so" usr/lib/x86_64-linux-gnu/security/pam_hostguard.so
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  "$stage/usr/sbin/hostguard-agent" "$stage/usr/lib/x86_64-linux-gnu/security/pam_hostguard.so"
put 0644 $src/hostguard-agent.service lib/systemd/system/hostguard-agent.service
put 0644 $src/default etc/default/hostguard-agent
put 0644 $src/copyright usr/share/doc/$pkg/copyright
gzip -9n <$src/changelog >"$stage/usr/share/doc/$pkg/changelog.gz"
put 0644 $src/hostguard-agent.8 usr/share/man/man8/hostguard-agent.8
gzip -9n "$stage/usr/share/man/man8/hostguard-agent.8"
chmod 0644 "$stage/usr/share/doc/$pkg/changelog.gz" "$stage/usr/share/man/man8/hostguard-agent.8.gz"

# Control area.
for script in postinst prerm postrm; do put 0755 $src/$script DEBIAN/$script; done
put 0644 $src/conffiles DEBIAN/conffiles
# The newest glibc symbol version the binaries use is the libc6 they need.
glibc=$(objdump -T "$stage/usr/sbin/hostguard-agent" "$stage/usr/lib/x86_64-linux-gnu/security/pam_hostguard.so" |
  grep -oE 'GLIBC_[0-9.]+' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
cat >"$stage/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: HostGuard maintainers <maintainers@hostguard.example>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: libc6 (>= $glibc), libgcc-s1, libpam0g
Recommends: openssh-server
Section: admin
Priority: optional
Homepage: https://hostguard.example
Description: HostGuard host agent: two-factor authentication for SSH logins
 The agent registers the server with a HostGuard console, reports its facts
 and applies the console's two-factor configuration to sshd and PAM, with a
 backup, sshd -t and rollback. Its PAM module, pam_hostguard.so, asks the
 agent over a local socket for each login's second factor.
 .
 Installing the package changes no PAM or sshd file; the agent does that
 when 2FA is enabled for the server in the console.
EOF
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs md5sum >DEBIAN/md5sums)
chmod 0644 "$stage/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
rm -rf "$stage"
if [ "$check" = 1 ]; then
  lintian --fail-on error --tag-display-limit 0 "$deb" >&2
fi
echo "$deb"

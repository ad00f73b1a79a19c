#!/usr/bin/env bash
# Installs what HostGuard needs to build, run and test, and skips what is already there.
# Safe to run again and again. Everything comes from the package registries (crates.io, npm,
# Debian); nothing downloads a prebuilt binary.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# -- Rust pieces ------------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

leptos_version=0.3.10   # 0.3.11 needs rustc 1.96
if ! cargo leptos --version 2>/dev/null | grep -q "$leptos_version"; then
  say "installing cargo-leptos $leptos_version (takes 15-30 minutes on a fresh machine)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install --locked "cargo-leptos@$leptos_version" --features no_downloads
fi

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $wbg_version"; then
  say "installing wasm-bindgen-cli $wbg_version"
  cargo install --force "wasm-bindgen-cli@$wbg_version"
fi

# -- Debian packages: Chromium for the browser tests, PostgreSQL 15 and PAM for the test suite --
apt_missing=()
[ -x /usr/bin/chromium ] || apt_missing+=(chromium)
[ -x /usr/lib/postgresql/15/bin/initdb ] || apt_missing+=(postgresql-15)
[ -x /usr/sbin/sshd ] || apt_missing+=(openssh-server)        # sshd -t checks what the agent writes
command -v ssh-keygen >/dev/null || apt_missing+=(openssh-client)
[ -f /usr/include/security/pam_modules.h ] || apt_missing+=(libpam0g-dev)   # pam_hostguard.so links libpam
command -v pamtester >/dev/null || apt_missing+=(pamtester)              # drives the real PAM stack in tests
command -v lintian >/dev/null || apt_missing+=(lintian)                  # checks the .deb (scripts/test-deb.sh)
command -v openssl >/dev/null || apt_missing+=(openssl)                  # password hashes for ssh-sandbox.sh (the real sshd test)
[ -f /usr/include/openssl/ssl.h ] || apt_missing+=(libssl-dev)      # webauthn-rs (passkeys) links OpenSSL
command -v pkg-config >/dev/null || apt_missing+=(pkg-config)            # ... and finds it with pkg-config
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "installing ${apt_missing[*]} with apt"
  sudo_cmd=(); [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# -- npm: Playwright and Lighthouse (both driving Debian's Chromium, never their own download),
# and wasm-opt -----------------------------------------------------------------------------------
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing the end2end npm packages"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi
# wasm-opt from npm's binaryen 132 for release builds (Debian's binaryen 108 breaks the split wasm
# chunks: "WebAssembly.Table.set(): Argument 1 is invalid"), and Lighthouse for the web bench
# (`./scripts/bench.sh --web`). One command: a later `npm install --no-save` in .tools would
# remove what an earlier one added.
if [ ! -x .tools/node_modules/.bin/wasm-opt ] || [ ! -x .tools/node_modules/.bin/lighthouse ]; then
  say "installing wasm-opt (npm binaryen) for release builds, and lighthouse for the web bench"
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --loglevel=error --no-save \
    binaryen@132.0.0 lighthouse@12.2.3 >/dev/null
fi

# -- Python: aiosmtpd, the local SMTP server that receives mail in development and in tests ----
if ! .tools/venv/bin/python -c 'import aiosmtpd' 2>/dev/null; then
  say "installing aiosmtpd (the local SMTP sink) into .tools/venv"
  rm -rf .tools/venv
  if ! python3 -m venv .tools/venv 2>/dev/null; then
    # Debian's own python3 needs its venv module from a package.
    sudo_cmd=(); [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .tools/venv
  fi
  .tools/venv/bin/pip install --quiet --disable-pip-version-check aiosmtpd==1.4.6
fi
# Huawei Cloud's official Python SDKs, which server/tests/official_sdk.rs drives against the
# HSS-compatible API, unchanged.
huawei_sdk_version=3.1.219
if ! .tools/venv/bin/python -c "import huaweicloudsdkhss, huaweicloudsdksmn, importlib.metadata as m; assert m.version('huaweicloudsdkhss') == '$huawei_sdk_version'" 2>/dev/null; then
  say "installing the Huawei Cloud HSS and SMN Python SDKs $huawei_sdk_version into .tools/venv"
  .tools/venv/bin/pip install --quiet --disable-pip-version-check \
    "huaweicloudsdkcore==$huawei_sdk_version" "huaweicloudsdkhss==$huawei_sdk_version" "huaweicloudsdksmn==$huawei_sdk_version"
fi

# Schemathesis, which scripts/contract.sh runs against the agent API's OpenAPI document.
schemathesis_version=4.32.5
if ! .tools/venv/bin/python -c "import importlib.metadata as m; assert m.version('schemathesis') == '$schemathesis_version'" 2>/dev/null; then
  say "installing schemathesis $schemathesis_version (the agent API's contract check) into .tools/venv"
  .tools/venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

say "ready"

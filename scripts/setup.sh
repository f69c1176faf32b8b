#!/usr/bin/env bash
# Installs what the tests and the demo need, idempotently and quickly when done:
# Debian packages, Synapse (PyPI) in .peers/venv, oidc-provider (npm) in tests/peers/oidc-idp.
set -euo pipefail
cd "$(dirname "$0")/.."

SYNAPSE_VERSION="1.163.2"
PEERS=".peers"
mkdir -p "$PEERS"

say() { printf '==> %s\n' "$*"; }

# Debian packages, installed only when missing.
ensure_debs() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}
# samael (SAML2) runs bindgen over the xmlsec headers: libclang-dev and the -dev packages;
# the xmlsec1 command line serves the test SAML IdP (pysaml2).
# Browser tests drive Debian's Chromium (a test tool's own browser download fails here).
ensure_debs ca-certificates curl sqlite3 pkg-config libclang-dev libssl-dev \
    libxml2-dev libxmlsec1-dev libxslt1-dev xmlsec1 chromium

# Synapse, pinned, in a venv of its own.
marker="$PEERS/venv/.synapse-$SYNAPSE_VERSION"
if [ ! -f "$marker" ]; then
    say "installing Synapse $SYNAPSE_VERSION into $PEERS/venv (about 30 s)"
    rm -rf "$PEERS/venv"
    python3 -m venv "$PEERS/venv"
    "$PEERS/venv/bin/pip" install -q --disable-pip-version-check "matrix-synapse[oidc]==$SYNAPSE_VERSION"
    "$PEERS/venv/bin/python" -c 'import synapse, authlib'
    touch "$marker"
fi

# The SAML2 test IdP (pysaml2) in the same venv, reinstalled when its pins change.
saml_sum=$(sha256sum tests/peers/saml-idp/requirements.txt | cut -d' ' -f1)
if [ ! -f "$PEERS/venv/.saml-$saml_sum" ]; then
    say "installing the test SAML IdP (pysaml2)"
    "$PEERS/venv/bin/pip" install -q --disable-pip-version-check -r tests/peers/saml-idp/requirements.txt
    touch "$PEERS/venv/.saml-$saml_sum"
fi

# npm packages of a test peer, reinstalled when its lock file changes.
npm_ci_if_changed() {
    local dir="$1" what="$2"
    local sum
    sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ ! -f "$dir/node_modules/.lock-$sum" ]; then
        say "installing $what"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        touch "$dir/node_modules/.lock-$sum"
    fi
}
npm_ci_if_changed tests/peers/oidc-idp "the test OIDC IdP (oidc-provider)"
npm_ci_if_changed tests/peers/browser "the browser-test driver (playwright-core, no browser of its own)"

say "peers ready"

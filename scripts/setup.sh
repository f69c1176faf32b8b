#!/usr/bin/env bash
# Installs what the tests and the demo need, idempotently, and in about a second
# when everything is already there: Debian packages, Synapse and pysaml2 (PyPI)
# in .peers/venv, the npm packages of the test IdP and of the browser tests.
# Works unattended (CI=true, no standard input), as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

SYNAPSE_VERSION="1.163.2"   # newest 1.x on PyPI when pinned
PEERS=".peers"
VENV="$PEERS/venv"
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$PEERS"

say() { printf '==> %s\n' "$*"; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_UPDATED=""

# ensure_debs PKG...: installs the Debian packages that are not installed yet
# (one `apt-get update` per run, and none at all when nothing is missing).
ensure_debs() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    say "installing Debian packages: ${missing[*]}"
    if [ -z "$APT_UPDATED" ]; then
        $SUDO apt-get update -qq </dev/null
        APT_UPDATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# Handy tools.
ensure_debs ca-certificates curl sqlite3
# samael (SAML2) runs bindgen over the xmlsec headers: libclang-dev and the -dev packages.
ensure_debs pkg-config libclang-dev libssl-dev libxml2-dev libxmlsec1-dev libxslt1-dev
# The xmlsec1 command line serves the test SAML IdP (pysaml2).
ensure_debs xmlsec1
# Browser tests drive Debian's Chromium (a test tool's own browser download fails here).
ensure_debs chromium
# The shared token cache's tests run two bridges against a real Redis, and the
# forward-auth test puts the README's nginx snippet in front of a service.
ensure_debs redis-server nginx
# The suite runs a second time on PostgreSQL (the tests start their own cluster).
ensure_debs postgresql

# Synapse, pinned, with the oidc extra (authlib), in a venv of its own. The
# marker holds the installed version; the import check catches a broken venv.
marker="$VENV/.synapse-version"
if [ "$(cat "$marker" 2>/dev/null)" != "$SYNAPSE_VERSION" ] \
    || ! "$VENV/bin/python" -c 'import synapse, authlib' >/dev/null 2>&1; then
    say "installing Synapse $SYNAPSE_VERSION into $VENV (about 30 s)"
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'pass' 2>/dev/null || { rm -rf "$VENV"; python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install -q --disable-pip-version-check "matrix-synapse[oidc]==$SYNAPSE_VERSION" </dev/null
    "$VENV/bin/python" - "$SYNAPSE_VERSION" <<'EOF'
import sys, authlib, synapse
assert synapse.__version__.split(" ")[0] == sys.argv[1], (synapse.__version__, sys.argv[1])
EOF
    echo "$SYNAPSE_VERSION" > "$marker"
fi

# The SAML2 test IdP (pysaml2) in the same venv, reinstalled when its pins change.
saml_sum=$(sha256sum tests/peers/saml-idp/requirements.txt | cut -d' ' -f1)
if [ ! -f "$VENV/.saml-$saml_sum" ]; then
    say "installing the test SAML IdP (pysaml2)"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/peers/saml-idp/requirements.txt </dev/null
    touch "$VENV/.saml-$saml_sum"
fi

# npm_ci DIR WHAT: `npm ci` in DIR unless node_modules was installed from the
# same package-lock.json (a checksum marker inside node_modules).
npm_ci() {
    local dir="$1" sum
    sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    [ -f "$dir/node_modules/.lock-$sum" ] && return 0
    say "installing $2 (npm ci in $dir)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    touch "$dir/node_modules/.lock-$sum"
}
npm_ci tests/peers/oidc-idp "the test OIDC IdP (oidc-provider)"
npm_ci tests/peers/browser "the browser-test driver (playwright-core, no browser download)"

# The benchmarks' load generator (scripts/bench.sh passes --bench).
if [ "${1:-}" = "--bench" ]; then
    ensure_debs wrk
fi

say "peers ready"

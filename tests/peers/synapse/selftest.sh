#!/usr/bin/env bash
# Self-test of the Synapse peer: configures two homeservers (eng.test, hist.test)
# on free ports, starts eng.test with a hand-written SSO overlay (as
# `sso-bridge homeserver-config` prints it; the issuer need not be up, Synapse
# reads discovery lazily), waits for /_matrix/client/versions on both, checks
# the overlay took effect, prints the start times and stops both with SIGTERM.
# Needs scripts/setup.sh first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="$here/../../../.peers/venv/bin/python"
work="$(mktemp -d)"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*/stderr.log; do sed "s|^|  $f: |" "$f" >&2; done; exit 1; }
ok() { echo "ok - $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

cat > "$work/overlay.yaml" <<'EOF'
oidc_providers:
  - idp_id: university
    idp_name: "University login"
    issuer: "http://127.0.0.1:9999/"
    skip_verification: true
    client_id: "eng"
    client_secret: "not-a-real-secret"
    client_auth_method: client_secret_basic
    pkce_method: always
    scopes: ["openid", "profile"]
    user_profile_method: auto
    user_mapping_provider:
      config:
        subject_template: "{{ user.sub }}"
        localpart_template: "{{ user.preferred_username }}"
        display_name_template: "{{ user.name }}"
sso:
  client_whitelist: ["http://127.0.0.1:9999/"]
EOF

declare -A port
for hs in eng hist; do
    port[$hs]=$(free_port)
    t0=$(now)
    "$python" "$here/configure.py" --dir "$work/$hs" --server-name "$hs.test" --port "${port[$hs]}" > /dev/null
    [ -s "$work/$hs/signing.key" ] || fail "no signing key for $hs"
    ok "configure $hs.test on ${port[$hs]} ($(python3 -c "print(f'{$(now)-$t0:.1f}')") s, signing key generated)"
done

declare -A started
for hs in eng hist; do
    extra=()
    [ "$hs" = eng ] && extra=("$work/overlay.yaml")
    started[$hs]=$(now)
    "$here/start.sh" "$work/$hs" "${extra[@]}" > "$work/$hs/stdout.log" 2> "$work/$hs/stderr.log" &
    pids+=($!)
done

for hs in eng hist; do
    up=""
    for _ in $(seq 300); do
        if curl -sf "http://127.0.0.1:${port[$hs]}/_matrix/client/versions" > /dev/null 2>&1; then up=1; break; fi
        sleep 0.1
    done
    [ -n "$up" ] || fail "$hs.test did not answer within 30 s"
    ok "$hs.test answers /_matrix/client/versions after $(python3 -c "print(f'{$(now)-${started[$hs]}:.1f}')") s"
done

# The overlay was merged: eng advertises the university IdP, hist does not.
curl -sf "http://127.0.0.1:${port[eng]}/_matrix/client/v3/login" | python3 -c '
import json, sys
flows = json.load(sys.stdin)["flows"]
sso = [f for f in flows if f["type"] == "m.login.sso"]
assert sso and {"id": "oidc-university", "name": "University login"}.items() <= sso[0]["identity_providers"][0].items(), flows
' || fail "eng.test login flows lack oidc-university"
curl -sf "http://127.0.0.1:${port[hist]}/_matrix/client/v3/login" | python3 -c '
import json, sys
assert not [f for f in json.load(sys.stdin)["flows"] if f["type"] == "m.login.sso"]
' || fail "hist.test has SSO without an overlay"
ok "overlay merged (eng.test offers oidc-university)"

# SIGTERM reaches Synapse itself (start.sh execs it).
for i in "${!pids[@]}"; do
    p=${pids[$i]}
    kill -TERM "$p"
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "pid $p still running 10 s after SIGTERM"
done
pids=()
ok "both stopped on SIGTERM"
echo "synapse selftest: all passed"

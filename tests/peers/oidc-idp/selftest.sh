#!/usr/bin/env bash
# Self-test of the test IdP: starts server.mjs on a free port and runs a whole
# authorization-code + PKCE S256 flow with curl (cookie jar, plain HTTP), then
# checks the id_token's claims, a reused code (invalid_grant), client_secret_post,
# a wrong password and a clean stop on SIGTERM. Needs scripts/setup.sh first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/idp.log" ] && sed 's/^/  idp: /' "$work/idp.log" >&2; exit 1; }
ok() { echo "ok - $*"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
issuer="http://127.0.0.1:$port"
client_id="selftest"
secret="selftest-secret"
redirect_uri="http://127.0.0.1:9/callback"
export PORT="$port" ISSUER="$issuer"
export CLIENTS_JSON="[{\"client_id\":\"$client_id\",\"client_secret\":\"$secret\",\"redirect_uris\":[\"$redirect_uri\"]}]"

: > "$work/idp.log"
node "$here/server.mjs" > "$work/idp.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    grep -q "^oidc-idp ready on $issuer\$" "$work/idp.log" && break
    kill -0 "$pid" 2>/dev/null || fail "server exited"
    sleep 0.05
done
grep -q "^oidc-idp ready on $issuer\$" "$work/idp.log" || fail "no ready line"
ok "ready line"

jar="$work/cookies"
c() { curl -sS -b "$jar" -c "$jar" "$@"; }
py() { python3 -c "$@"; }

# Discovery.
c -f "$issuer/.well-known/openid-configuration" > "$work/disc.json" || fail "discovery"
py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["issuer"] == sys.argv[2], d["issuer"]
assert d["response_types_supported"] == ["code"], d["response_types_supported"]
assert "S256" in d["code_challenge_methods_supported"]
for m in ("client_secret_basic", "client_secret_post"):
    assert m in d["token_endpoint_auth_methods_supported"], m
for claim in ("department", "affiliation", "preferred_username", "email"):
    assert claim in d["claims_supported"], claim
' "$work/disc.json" "$issuer" || fail "discovery content"
ok "discovery"

# Follows redirects by hand (Location may be relative) until one goes to
# redirect_uri; prints that final URL.
follow() {
    local url="$1" loc
    for _ in $(seq 10); do
        case "$url" in "$redirect_uri"*) echo "$url"; return;; esac
        loc=$(c -o /dev/null -w '%{redirect_url}' "$url")
        [ -n "$loc" ] || fail "no redirect from $url"
        url="$loc"
    done
    fail "too many redirects"
}
query() { py 'import sys, urllib.parse as u; print(u.parse_qs(u.urlsplit(sys.argv[1]).query).get(sys.argv[2], [""])[0])' "$1" "$2"; }

# Starts an authorization request; prints the first Location.
authorize() {
    local verifier="$1" nonce="$2" challenge
    challenge=$(py 'import sys, hashlib, base64; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$verifier")
    c -o /dev/null -w '%{redirect_url}' -G "$issuer/auth" \
        --data-urlencode "client_id=$client_id" --data-urlencode "response_type=code" \
        --data-urlencode "scope=openid profile email" --data-urlencode "redirect_uri=$redirect_uri" \
        --data-urlencode "state=st-$nonce" --data-urlencode "nonce=$nonce" \
        --data-urlencode "code_challenge=$challenge" --data-urlencode "code_challenge_method=S256"
}

# PKCE is required for this confidential client too (oidc-provider's default
# requires it only for public clients): no code_challenge → error at redirect_uri.
final=$(c -o /dev/null -w '%{redirect_url}' -G "$issuer/auth" \
    --data-urlencode "client_id=$client_id" --data-urlencode "response_type=code" \
    --data-urlencode "scope=openid" --data-urlencode "redirect_uri=$redirect_uri" --data-urlencode "state=s0")
[ "$(query "$final" error)" = invalid_request ] || fail "no PKCE accepted: $final"
ok "authorization without code_challenge refused ($(query "$final" error_description))"

verifier=$(py 'import secrets; print(secrets.token_urlsafe(48))')
loc=$(authorize "$verifier" "n-1")
case "$loc" in "$issuer/interaction/"*|/interaction/*) ;; *) fail "authorize did not go to the interaction: $loc";; esac
interaction="${loc#"$issuer"}"
uid="${interaction#/interaction/}"

# The login form.
code=$(c -o "$work/form.html" -w '%{http_code}' "$issuer$interaction")
[ "$code" = 200 ] || fail "form status $code"
grep -q "<form method=\"post\" action=\"/interaction/$uid/login\">" "$work/form.html" || fail "form action"
grep -q 'name="username"' "$work/form.html" && grep -q 'name="password"' "$work/form.html" || fail "form fields"
ok "login form at /interaction/{uid}"

# Wrong password: the form again with an error, 200.
code=$(c -o "$work/form2.html" -w '%{http_code}' --data-urlencode "username=alice" --data-urlencode "password=wrong" "$issuer/interaction/$uid/login")
[ "$code" = 200 ] && grep -q 'role="alert"' "$work/form2.html" && grep -q 'name="password"' "$work/form2.html" || fail "wrong password: $code"
ok "wrong password shows the form again"

# Right password, then follow the redirects (login → auth → consent, granted
# without a page → auth → redirect_uri).
loc=$(c -o /dev/null -w '%{redirect_url}' --data-urlencode "username=alice" --data-urlencode "password=correct horse" "$issuer/interaction/$uid/login")
[ -n "$loc" ] || fail "no redirect after login"
final=$(follow "$loc")
code_value=$(query "$final" code)
[ -n "$code_value" ] || fail "no code in $final"
[ "$(query "$final" state)" = "st-n-1" ] || fail "state"
[ "$(query "$final" iss)" = "$issuer" ] || fail "iss in the redirect"
ok "code at redirect_uri"

token() {  # token CODE VERIFIER basic|post
    if [ "$3" = basic ]; then
        c -u "$client_id:$secret" --data-urlencode "grant_type=authorization_code" --data-urlencode "code=$1" \
            --data-urlencode "redirect_uri=$redirect_uri" --data-urlencode "code_verifier=$2" "$issuer/token"
    else
        c --data-urlencode "client_id=$client_id" --data-urlencode "client_secret=$secret" \
            --data-urlencode "grant_type=authorization_code" --data-urlencode "code=$1" \
            --data-urlencode "redirect_uri=$redirect_uri" --data-urlencode "code_verifier=$2" "$issuer/token"
    fi
}
check_id_token() {  # check_id_token TOKEN_RESPONSE_FILE NONCE
    py '
import base64, json, sys
t = json.load(open(sys.argv[1]))
assert "id_token" in t, t
head, payload, _ = t["id_token"].split(".")
dec = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
h, p = dec(head), dec(payload)
kids = [k["kid"] for k in json.load(open(sys.argv[4]))["keys"]]
assert h["alg"] == "RS256" and h["kid"] in kids, h
assert p["iss"] == sys.argv[3] and p["aud"] == "selftest", p
assert p["sub"] == "u-1001" and p["nonce"] == sys.argv[2], p
assert p["preferred_username"] == "alice" and p["name"] == "Alice Liddell", p
assert p["department"] == "eng" and isinstance(p["affiliation"], list), p
assert p["email"] == "alice@eng.ac.cdl" and p["email_verified"] is True, p
print(json.dumps(p, sort_keys=True))
' "$1" "$2" "$issuer" "$here/jwks.json"
}

token "$code_value" "$verifier" basic > "$work/token.json"
check_id_token "$work/token.json" "n-1" > "$work/claims.json" || fail "id_token: $(cat "$work/token.json")"
ok "token (client_secret_basic): id_token claims $(cat "$work/claims.json")"

token "$code_value" "$verifier" basic > "$work/reuse.json"
grep -q '"error":"invalid_grant"' "$work/reuse.json" || fail "reused code: $(cat "$work/reuse.json")"
ok "reused code gives invalid_grant"

# Second flow on the same session: no login form, no consent page; wrong
# verifier refused; client_secret_post accepted.
verifier2=$(py 'import secrets; print(secrets.token_urlsafe(48))')
final=$(follow "$(authorize "$verifier2" "n-2")")
code2=$(query "$final" code)
[ -n "$code2" ] || fail "second flow: no code"
token "$code2" "wrong-verifier-wrong-verifier-wrong-verifier-0123" post > "$work/badpkce.json"
grep -q '"error":"invalid_grant"' "$work/badpkce.json" || fail "wrong verifier: $(cat "$work/badpkce.json")"
ok "wrong code_verifier gives invalid_grant"
final=$(follow "$(authorize "$verifier2" "n-3")")
code3=$(query "$final" code)
token "$code3" "$verifier2" post > "$work/token2.json"
check_id_token "$work/token2.json" "n-3" > /dev/null || fail "client_secret_post: $(cat "$work/token2.json")"
ok "token (client_secret_post), session reused without a form"

# Clean stop.
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "still running 2.5 s after SIGTERM"
wait "$pid" && rc=0 || rc=$?
pid=""
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
ok "SIGTERM: exit 0"
echo "oidc-idp selftest: all passed"

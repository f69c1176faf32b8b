#!/usr/bin/env bash
# Self-test of the SAML2 test IdP, with no SP running: start it with an SP
# described by arguments, make an AuthnRequest with pysaml2's client side,
# log in with curl, check the Response with the xmlsec1 command line and with
# Python, restart the IdP and check erin's persistent NameID did not change.
# Exits non-zero on any failure. Needs .peers/venv (pysaml2), xmlsec1, curl.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
py=${PYTHON:-$root/.peers/venv/bin/python}
SP_ENTITY=http://127.0.0.1:9/saml/metadata
SP_ACS=http://127.0.0.1:9/saml/acs
work=$(mktemp -d)
pid=

fail() { echo "selftest FAILED: $*" >&2; exit 1; }
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    if [ "${KEEP:-}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
ms() { date +%s%3N; }

command -v xmlsec1 >/dev/null || fail "xmlsec1 is not installed (apt-get install xmlsec1)"
"$py" -c 'import saml2' 2>/dev/null || fail "pysaml2 is not installed in $py"

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
state=$work/state

start_idp() {
    local t0 n=0
    t0=$(ms)
    "$py" "$here/idp.py" --port "$port" --base-url "$base" --state-dir "$state" \
        --sp-entity-id "$SP_ENTITY" --sp-acs "$SP_ACS" > "$work/idp.out" 2>> "$work/idp.err" &
    pid=$!
    until grep -qx "saml-idp ready on $base" "$work/idp.out" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { cat "$work/idp.err" >&2; fail "the IdP died at start"; }
        n=$((n + 1)); [ $n -lt 300 ] || fail "the IdP did not print its ready line in 30 s"
        sleep 0.1
    done
    [ "$(wc -l < "$work/idp.out")" -eq 1 ] || fail "stdout is not exactly one line: $(cat "$work/idp.out")"
    [ "$(curl -sS -f "$base/health")" = ok ] || fail "/health is not ok"
    echo "started the IdP on $base in $(( $(ms) - t0 )) ms"
}

stop_idp() {
    local rc=0
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    pid=
    [ $rc -eq 0 ] || fail "the IdP exited with $rc on SIGTERM"
    echo "stopped the IdP (SIGTERM, exit 0)"
}

check_metadata() {
    [ -s "$state/idp-metadata.xml" ] || fail "no $state/idp-metadata.xml"
    curl -sS -f "$base/metadata" -o "$work/metadata.xml"
    cmp -s "$work/metadata.xml" "$state/idp-metadata.xml" || fail "/metadata differs from idp-metadata.xml"
    "$py" - "$work/metadata.xml" "$here/idp.crt" "$base" <<'EOF' || fail "IdP metadata"
import sys, xml.etree.ElementTree as ET
md, crt, base = sys.argv[1:]
ns = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}
root = ET.parse(md).getroot()
assert root.get("entityID") == base + "/metadata", root.get("entityID")
sso = root.find("md:IDPSSODescriptor/md:SingleSignOnService", ns)
assert sso.get("Location") == base + "/sso/redirect", sso.attrib
assert sso.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", sso.attrib
certs = ["".join(c.text.split()) for c in root.iter("{http://www.w3.org/2000/09/xmldsig#}X509Certificate")]
pem = "".join(l for l in open(crt).read().splitlines() if "-----" not in l)
assert pem in certs, "idp.crt is not in the metadata"
print("metadata: entityID, SSO endpoint and signing certificate ok")
EOF
}

check_refusals() {
    local code url
    code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/sso/redirect")
    [ "$code" = 400 ] || fail "no SAMLRequest answered $code, not 400"
    code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/sso/redirect?SAMLRequest=bm9uc2Vuc2U%3D")
    [ "$code" = 400 ] || fail "a garbage SAMLRequest answered $code, not 400"
    # An AuthnRequest naming an ACS URL the SP's metadata does not list.
    url=$("$py" - "$state/idp-metadata.xml" "$SP_ENTITY" "$base/metadata" <<'EOF'
import sys
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
idp_md, entity, idp = sys.argv[1:]
conf = SPConfig()
conf.load({"entityid": entity, "metadata": {"local": [idp_md]}, "xmlsec_binary": "/usr/bin/xmlsec1",
           "service": {"sp": {"endpoints": {"assertion_consumer_service": [("http://127.0.0.1:9/elsewhere", BINDING_HTTP_POST)]}}}})
print(dict(Saml2Client(conf).prepare_for_authenticate(entityid=idp, binding=BINDING_HTTP_REDIRECT)[1]["headers"])["Location"])
EOF
    )
    code=$(curl -sS -o /dev/null -w '%{http_code}' "$url")
    [ "$code" = 400 ] || fail "an AuthnRequest with an unlisted ACS URL answered $code, not 400"
    echo "refused: no SAMLRequest, a garbage one, an unlisted ACS URL (400 each)"
}

# login USER TAG: one whole login; leaves $work/TAG.xml (the Response) and
# $work/TAG.nameid, checks everything about it.
login() {
    local user=$1 tag=$2 t0 code
    # 1. An AuthnRequest from pysaml2's client side, HTTP-Redirect binding.
    "$py" - "$state/idp-metadata.xml" "$SP_ENTITY" "$SP_ACS" "$base/metadata" > "$work/$tag.req" <<'EOF'
import sys
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT
idp_md, entity, acs, idp = sys.argv[1:]
conf = SPConfig()
conf.load({
    "entityid": entity,
    "service": {"sp": {
        "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
        "authn_requests_signed": False,
        "name_id_policy_format": NAMEID_FORMAT_PERSISTENT,
    }},
    "metadata": {"local": [idp_md]},
    "xmlsec_binary": "/usr/bin/xmlsec1",
})
reqid, info = Saml2Client(conf).prepare_for_authenticate(
    entityid=idp, relay_state="relay-state-xyz", binding=BINDING_HTTP_REDIRECT)
print(reqid)
print(dict(info["headers"])["Location"])
EOF
    local reqid url pending
    reqid=$(sed -n 1p "$work/$tag.req")
    url=$(sed -n 2p "$work/$tag.req")
    case $url in "$base/sso/redirect?SAMLRequest="*) ;; *) fail "unexpected redirect URL $url" ;; esac

    t0=$(ms)
    # 2. The login form.
    curl -sS -f "$url" -o "$work/$tag.login.html"
    pending=$("$py" - "$work/$tag.login.html" <<'EOF'
import re, sys
page = open(sys.argv[1]).read()
assert '<form method="post" action="/login">' in page, page
for name in ("username", "password"):
    assert re.search(rf'<label for="{name}">', page) and re.search(rf'<input id="{name}" name="{name}"', page), name
assert '<button type="submit">' in page
print(re.search(r'<input type="hidden" name="pending" value="([^"]+)">', page).group(1))
EOF
    ) || fail "login form"

    # 3. A wrong password: the form again, 200, with an error.
    code=$(curl -sS -o "$work/$tag.wrong.html" -w '%{http_code}' "$base/login" \
        --data-urlencode "pending=$pending" --data-urlencode "username=$user" --data-urlencode "password=wrong")
    [ "$code" = 200 ] || fail "wrong password answered $code"
    grep -q 'role="alert"' "$work/$tag.wrong.html" || fail "wrong password: no error shown"
    grep -q 'name="pending"' "$work/$tag.wrong.html" || fail "wrong password: no form again"

    # 4. The right password: the auto-submitting HTTP-POST form.
    curl -sS -f -o "$work/$tag.post.html" "$base/login" \
        --data-urlencode "pending=$pending" --data-urlencode "username=$user" --data-urlencode "password=correct horse"
    echo "login of $user: form, wrong password, right password in $(( $(ms) - t0 )) ms"
    code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/login" \
        --data-urlencode "pending=$pending" --data-urlencode "username=$user" --data-urlencode "password=correct horse")
    [ "$code" = 400 ] || fail "a used pending id answered $code, not 400"

    "$py" - "$work/$tag.post.html" "$SP_ACS" "$work/$tag.xml" <<'EOF' || fail "auto-POST form"
import base64, html, re, sys
page, acs, out = sys.argv[1:]
page = open(page).read()
form = re.search(r'<form method="post" action="([^"]*)">(.*?)</form>', page, re.S)
assert html.unescape(form.group(1)) == acs, form.group(1)
fields = {m.group(1): html.unescape(m.group(2))
          for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2))}
assert set(fields) == {"SAMLResponse", "RelayState"}, fields.keys()
assert fields["RelayState"] == "relay-state-xyz", fields["RelayState"]
assert '<button type="submit">' in form.group(2)
assert "<script>document.forms[0].submit();</script>" in page
open(out, "wb").write(base64.b64decode(fields["SAMLResponse"], validate=True))
EOF

    # 5. Signatures, with the xmlsec1 command line and only idp.crt as the key.
    local ids=(--id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response
               --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion)
    xmlsec1 --verify --pubkey-cert-pem "$here/idp.crt" "${ids[@]}" \
        --node-xpath "/*[local-name()='Response']/*[local-name()='Signature']" \
        "$work/$tag.xml" > "$work/xmlsec.log" 2>&1 || { cat "$work/xmlsec.log" >&2; fail "Response signature"; }
    xmlsec1 --verify --pubkey-cert-pem "$here/idp.crt" "${ids[@]}" \
        --node-xpath "//*[local-name()='Assertion']/*[local-name()='Signature']" \
        "$work/$tag.xml" > "$work/xmlsec.log" 2>&1 || { cat "$work/xmlsec.log" >&2; fail "Assertion signature"; }
    # ... and a changed attribute value must break both.
    sed 's/member@/visitor@/' "$work/$tag.xml" > "$work/$tag.tampered.xml"
    for node in "/*[local-name()='Response']" "//*[local-name()='Assertion']"; do
        if xmlsec1 --verify --pubkey-cert-pem "$here/idp.crt" "${ids[@]}" \
            --node-xpath "$node/*[local-name()='Signature']" "$work/$tag.tampered.xml" > /dev/null 2>&1; then
            fail "xmlsec1 accepted a tampered $node"
        fi
    done
    echo "xmlsec1: Response and Assertion signatures verify with idp.crt; tampering is detected"

    # 6. The content.
    "$py" - "$work/$tag.xml" "$user" "$reqid" "$SP_ENTITY" "$SP_ACS" "$base/metadata" "$here/users.json" \
        > "$work/$tag.nameid" <<'EOF' || fail "Response content"
import json, sys, xml.etree.ElementTree as ET
path, user, reqid, audience, acs, issuer, users = sys.argv[1:]
P = "{urn:oasis:names:tc:SAML:2.0:protocol}"
A = "{urn:oasis:names:tc:SAML:2.0:assertion}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
r = ET.parse(path).getroot()
assert r.tag == P + "Response"
assert r.get("Destination") == acs, r.get("Destination")
assert r.get("InResponseTo") == reqid, r.get("InResponseTo")
assert r.find(P + "Status/" + P + "StatusCode").get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Success"
assert r.find(A + "Issuer").text == issuer
a = r.find(A + "Assertion")
assert a is not None, "no (plain) Assertion"
assert a.find(A + "Issuer").text == issuer
assert r.find(DS + "Signature") is not None, "Response not signed"
assert a.find(DS + "Signature") is not None, "Assertion not signed"
assert [e.text for e in a.iter(A + "Audience")] == [audience]
scd = a.find(f"{A}Subject/{A}SubjectConfirmation/{A}SubjectConfirmationData")
assert scd.get("Recipient") == acs and scd.get("InResponseTo") == reqid, scd.attrib
nameid = a.find(f"{A}Subject/{A}NameID")
assert nameid.get("Format") == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", nameid.attrib
assert nameid.get("SPNameQualifier") == audience, nameid.attrib
assert nameid.text and len(nameid.text) >= 32, nameid.text
sig_algs = {e.get("Algorithm") for e in r.iter(DS + "SignatureMethod")}
digest_algs = {e.get("Algorithm") for e in r.iter(DS + "DigestMethod")}
assert sig_algs == {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"}, sig_algs
assert digest_algs == {"http://www.w3.org/2001/04/xmlenc#sha256"}, digest_algs
assert "sha1" not in open(path).read(), "sha1 appears in the Response"
expected = {
    "urn:oid:0.9.2342.19200300.100.1.1": "uid",
    "urn:oid:2.16.840.1.113730.3.1.241": "displayName",
    "urn:oid:0.9.2342.19200300.100.1.3": "mail",
    "urn:oid:2.5.4.11": "ou",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": "eduPersonScopedAffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "eduPersonPrincipalName",
}
want = next(u for u in json.load(open(users)) if u["username"] == user)["attributes"]
got = {}
for at in a.iter(A + "Attribute"):
    assert at.get("NameFormat") == "urn:oasis:names:tc:SAML:2.0:attrname-format:uri", at.attrib
    assert expected.get(at.get("Name")) == at.get("FriendlyName"), at.attrib
    got[at.get("FriendlyName")] = [v.text for v in at.findall(A + "AttributeValue")]
assert set(got) == set(expected.values()), got
for k, v in want.items():
    assert sorted(got[k]) == sorted(v), (k, got[k], v)
print(nameid.text)
print(f"Response for {user}: Destination, InResponseTo, Audience, Recipient, persistent NameID, "
      f"ou={got['ou']}, 6 urn:oid attributes (NameFormat uri), rsa-sha256/sha256 only", file=sys.stderr)
EOF
}

start_idp
check_metadata
check_refusals
login erin first
[ -s "$state/subject_data.db.dat" ] || [ -e "$state/subject_data.db" ] || fail "no subject_data file in $state"
"$py" - "$work/first.xml" <<'EOF' || fail "erin's ou"
import sys, xml.etree.ElementTree as ET
A = "{urn:oasis:names:tc:SAML:2.0:assertion}"
at = [a for a in ET.parse(sys.argv[1]).iter(A + "Attribute") if a.get("Name") == "urn:oid:2.5.4.11"]
assert [v.text for v in at[0].findall(A + "AttributeValue")] == ["eng"]
EOF
stop_idp

start_idp
login erin second
login hank third
stop_idp

first=$(cat "$work/first.nameid")
second=$(cat "$work/second.nameid")
third=$(cat "$work/third.nameid")
[ "$first" = "$second" ] || fail "erin's persistent NameID changed across a restart: $first vs $second"
[ "$first" != "$third" ] || fail "erin and hank got the same NameID"
echo "erin's persistent NameID is the same across a restart: $first"
echo "selftest passed"

#!/usr/bin/env bash
# The demo: a university OIDC IdP, two departmental Synapses (eng, hist) and the
# bridge with SQLite, all on 127.0.0.1. Prints the URL to open; Ctrl-C stops all.
# Ports can be changed with BRIDGE_PORT, IDP_PORT, ENG_PORT, HIST_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

BRIDGE_PORT="${BRIDGE_PORT:-8008}"
IDP_PORT="${IDP_PORT:-9000}"
ENG_PORT="${ENG_PORT:-8101}"
HIST_PORT="${HIST_PORT:-8102}"
PHYS_PORT="${PHYS_PORT:-8103}"
SAML_PORT="${SAML_PORT:-9001}"
METRICS_PORT="${METRICS_PORT:-9464}"
demo="$root/.demo"
bridge="http://127.0.0.1:$BRIDGE_PORT/"
idp="http://127.0.0.1:$IDP_PORT"
saml_idp="http://127.0.0.1:$SAML_PORT"

say() { printf '==> %s\n' "$*"; }

scripts/setup.sh
say "building sso-bridge (the first build takes a few minutes)"
cargo build --quiet --bin sso-bridge
bin="$root/target/debug/sso-bridge"

for port in "$BRIDGE_PORT" "$IDP_PORT" "$ENG_PORT" "$HIST_PORT" "$PHYS_PORT" "$SAML_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is in use; stop what uses it or set BRIDGE_PORT/IDP_PORT/ENG_PORT/HIST_PORT/PHYS_PORT/SAML_PORT" >&2
        exit 1
    fi
done

mkdir -p "$demo"
[ -f "$demo/encryption.key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$demo/encryption.key"
[ -f "$demo/saml-sp.key" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sso-bridge-demo-sp" \
    -keyout "$demo/saml-sp.key" -out "$demo/saml-sp.crt" 2>/dev/null
[ -f "$demo/upstream.secret" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$demo/upstream.secret"
for dept in eng hist phys; do
    [ -f "$demo/$dept.secret" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$demo/$dept.secret"
done

cat > "$demo/bridge.toml" <<TOML
# Written by scripts/demo.sh
public_base_url = "$bridge"
listen = "127.0.0.1:$BRIDGE_PORT"
database_url = "sqlite:$demo/bridge.db"
demo = true

[secrets]
encryption_key = { file = "$demo/encryption.key" }

[pages]
university_name = "University of Canadialand"
university_logo_url = "${bridge}_sso_bridge/static/demo/university.svg"

[metrics]
listen = "127.0.0.1:$METRICS_PORT"

[[upstreams]]
kind = "oidc"
id = "university"
name = "University of Canadialand SSO (demo)"
issuer = "$idp"
client_id = "sso-bridge"
client_secret = { file = "$demo/upstream.secret" }

[[upstreams]]
kind = "saml"
id = "campus"
name = "University of Canadialand SAML (demo)"
metadata_file = "$demo/saml-idp/idp-metadata.xml"
sp_private_key = { file = "$demo/saml-sp.key" }
sp_certificate_file = "$demo/saml-sp.crt"

[[departments]]
id = "eng"
logo_url = "${bridge}_sso_bridge/static/demo/eng.svg"
name = "Faculty of Engineering"
names = { fr = "Faculté d’ingénierie" }
email_domains = ["eng.ac.cdl"]
upstream = "university"
client_secret = { file = "$demo/eng.secret" }
membership = { claim = "department", any_of = ["eng"] }
[departments.homeserver]
base_url = "http://127.0.0.1:$ENG_PORT/"
server_name = "eng.test"

[[departments]]
id = "hist"
logo_url = "${bridge}_sso_bridge/static/demo/hist.svg"
name = "Department of History"
names = { fr = "Département d’histoire" }
email_domains = ["hist.ac.cdl"]
upstream = "university"
client_secret = { file = "$demo/hist.secret" }
membership = { claim = "department", any_of = ["hist"] }
[departments.homeserver]
base_url = "http://127.0.0.1:$HIST_PORT/"
server_name = "hist.test"

[[departments]]
id = "phys"
logo_url = "${bridge}_sso_bridge/static/demo/phys.svg"
name = "Department of Physics (SAML2)"
names = { fr = "Département de physique (SAML2)" }
email_domains = ["phys.ac.cdl"]
upstream = "campus"
client_secret = { file = "$demo/phys.secret" }
membership = { claim = "eduPersonScopedAffiliation", scopes = ["phys.ac.cdl"] }
localpart_template = "{uid}"
display_name_template = "{displayName}"
[departments.homeserver]
base_url = "http://127.0.0.1:$PHYS_PORT/"
server_name = "phys.test"
TOML

pids=()
cleanup() {
    trap - INT TERM EXIT
    say "stopping"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

wait_for() {
    local url="$1" what="$2" log="$3"
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "$what did not start; see $log" >&2
    exit 1
}

say "starting the university IdP on $idp"
PORT="$IDP_PORT" ISSUER="$idp" \
CLIENTS_JSON="[{\"client_id\":\"sso-bridge\",\"client_secret\":\"$(cat "$demo/upstream.secret")\",\"redirect_uris\":[\"${bridge}_sso_bridge/upstream/oidc/university/callback\"]}]" \
    node tests/peers/oidc-idp/server.mjs > "$demo/idp.log" 2>&1 &
pids+=($!)

say "starting the university SAML2 IdP on $saml_idp"
.peers/venv/bin/python tests/peers/saml-idp/idp.py --port "$SAML_PORT" \
    --sp-metadata "$demo/sp-metadata.xml" --state-dir "$demo/saml-idp" > "$demo/saml-idp.log" 2>&1 &
pids+=($!)
wait_for "$saml_idp/health" "the SAML IdP" "$demo/saml-idp.log"
"$bin" config check --config "$demo/bridge.toml"

say "starting the bridge on $bridge"
"$bin" serve --config "$demo/bridge.toml" > "$demo/bridge.log" 2>&1 &
pids+=($!)
wait_for "${bridge}health" "the bridge" "$demo/bridge.log"
"$bin" saml-metadata --config "$demo/bridge.toml" campus > "$demo/sp-metadata.xml"

for dept in eng hist phys; do
    port_var="$(echo "$dept" | tr a-z A-Z)_PORT"
    port="${!port_var}"
    dir="$demo/$dept"
    if [ ! -f "$dir/homeserver.yaml" ] || ! grep -q "\"port\": $port" "$dir/homeserver.yaml"; then
        .peers/venv/bin/python tests/peers/synapse/configure.py --dir "$dir" --server-name "$dept.test" --port "$port" > /dev/null
    fi
    "$bin" homeserver-config --config "$demo/bridge.toml" "$dept" > "$dir/bridge.yaml"
    say "starting Synapse for $dept on http://127.0.0.1:$port/"
    tests/peers/synapse/start.sh "$dir" "$dir/bridge.yaml" > "$dir/stdout.log" 2>&1 &
    pids+=($!)
done
wait_for "$idp/.well-known/openid-configuration" "the IdP" "$demo/idp.log"
wait_for "http://127.0.0.1:$ENG_PORT/_matrix/client/versions" "Synapse eng" "$demo/eng/stdout.log"
wait_for "http://127.0.0.1:$HIST_PORT/_matrix/client/versions" "Synapse hist" "$demo/hist/stdout.log"
wait_for "http://127.0.0.1:$PHYS_PORT/_matrix/client/versions" "Synapse phys" "$demo/phys/stdout.log"

cat <<MSG

  sso-bridge demo is running.

  Open:   ${bridge}_sso_bridge/demo

  OIDC: sign in as alice (Engineering) or bob (History); mallory (History) is refused at Engineering.
  SAML2: sign in as paula at Physics; ivan (History) is refused there.
  Password for everyone: correct horse
  Or open a department's own homeserver login: http://127.0.0.1:$ENG_PORT/_matrix/client/v3/login/sso/redirect/oidc-university?redirectUrl=${bridge}_sso_bridge/demo

  Logs and data: $demo     Ctrl-C stops everything.

MSG
wait

#!/usr/bin/env python3
"""The university's SAML2 identity provider for sso-bridge's tests and demo.

pysaml2's `Server` with a fixed signing key, SHA-256 signatures on the Response
and the Assertion, persistent NameIDs that survive restarts, eduPerson/LDAP
attributes as urn:oid names, and a plain login form. HTTP-Redirect binding in,
HTTP-POST binding out. See README.md beside this file.

Single logout, IdP-initiated: `GET /logout?user=U[&binding=redirect|post]
[&sign=yes|no|wrong]` sends a LogoutRequest for U's last login to the SP's
SingleLogoutService (signed by default; `wrong`: the signature no longer
matches the message), and `/slo` takes the SP's LogoutResponse: it checks the
HTTP-Redirect signature with the SP's metadata certificate and shows the status.
"""
import argparse
import base64
import functools
import html
import json
import os
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import quoteattr

import saml2.entity
import saml2.samlp
import saml2.sigver
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import AUTHN_PASSWORD_PROTECTED, NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT
from saml2.server import Server

# pysaml2 encrypts with 3DES by default; encrypt as current IdPs do (AES-128-CBC,
# key transport RSA-OAEP), which the bridge accepts. Only users marked
# "encrypt" in users.json get an encrypted assertion.
saml2.entity.pre_encryption_part = functools.partial(
    saml2.sigver.pre_encryption_part, msg_enc="http://www.w3.org/2001/04/xmlenc#aes128-cbc"
)
_encrypt_assertion = saml2.sigver.SecurityContext.encrypt_assertion


def _encrypt_assertion_aes(self, statement, enc_key, template, key_type="aes-128", node_xpath=None):
    return _encrypt_assertion(self, statement, enc_key, template, key_type="aes-128", node_xpath=node_xpath)


saml2.sigver.SecurityContext.encrypt_assertion = _encrypt_assertion_aes

HERE = os.path.dirname(os.path.abspath(__file__))
SHA256_SIG = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256_DIGEST = "http://www.w3.org/2001/04/xmlenc#sha256"
PENDING_TTL = 15 * 60  # seconds a shown login form stays answerable

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--port", type=int, required=True, help="listen on 127.0.0.1:PORT (0: any free port)")
parser.add_argument("--base-url", help="public base URL; default http://127.0.0.1:PORT; entityID is BASE/metadata")
parser.add_argument("--sp-metadata", help="the SP's metadata file; may appear later, (re)read when it changes")
parser.add_argument("--sp-entity-id", help="the SP's entityID, used while --sp-metadata does not exist")
parser.add_argument("--sp-acs", help="the SP's HTTP-POST AssertionConsumerService URL (with --sp-entity-id)")
parser.add_argument("--users", default=os.path.join(HERE, "users.json"))
parser.add_argument("--state-dir", required=True, help="subject_data (persistent NameIDs) and generated files")
args = parser.parse_args()
if bool(args.sp_entity_id) != bool(args.sp_acs):
    parser.error("--sp-entity-id and --sp-acs go together")
if not args.sp_metadata and not args.sp_entity_id:
    parser.error("give --sp-metadata FILE, or --sp-entity-id ID --sp-acs URL, or both")

os.makedirs(args.state_dir, exist_ok=True)
users = {u["username"]: u for u in json.load(open(args.users))}

# Bind first, so that --port 0 works and the base URL names the real port.
httpd = ThreadingHTTPServer(("127.0.0.1", args.port), None)
port = httpd.server_address[1]
base = (args.base_url or f"http://127.0.0.1:{port}").rstrip("/")

# The SP described by arguments, as a metadata file pysaml2 can load.
generated_sp_metadata = os.path.join(args.state_dir, "sp-metadata-from-args.xml")
if args.sp_entity_id:
    with open(generated_sp_metadata, "w") as f:
        f.write(f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID={quoteattr(args.sp_entity_id)}>
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="false" WantAssertionsSigned="true">
    <md:NameIDFormat>{NAMEID_FORMAT_PERSISTENT}</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location={quoteattr(args.sp_acs)} index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
""")


def sp_metadata_file() -> str:
    if args.sp_metadata and os.path.exists(args.sp_metadata):
        return args.sp_metadata
    if args.sp_entity_id:
        return generated_sp_metadata
    raise FileNotFoundError(f"the SP metadata {args.sp_metadata} does not exist (yet)")


def config(sp_metadata) -> IdPConfig:
    conf = IdPConfig()
    conf.load({
        "entityid": f"{base}/metadata",
        "service": {"idp": {
            "name": "University of Canadialand SAML IdP (test)",
            "endpoints": {
                "single_sign_on_service": [(f"{base}/sso/redirect", BINDING_HTTP_REDIRECT)],
                "single_logout_service": [(f"{base}/slo", BINDING_HTTP_REDIRECT), (f"{base}/slo", BINDING_HTTP_POST)],
            },
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "policy": {"default": {
                "lifetime": {"minutes": 5},
                "attribute_restrictions": None,
                "name_form": NAME_FORMAT_URI,
                # Used when the AuthnRequest has no NameIDPolicy Format
                # (pysaml2's own default is transient).
                "nameid_format": NAMEID_FORMAT_PERSISTENT,
            }},
            # Inside service.idp: at the top level pysaml2 ignores them and signs with SHA-1.
            "signing_algorithm": SHA256_SIG,
            "digest_algorithm": SHA256_DIGEST,
            # A file, so persistent NameIDs survive restarts (without it: in memory).
            "subject_data": os.path.join(args.state_dir, "subject_data.db"),
            "want_authn_requests_signed": False,
        }},
        "key_file": os.path.join(HERE, "idp.key"),
        "cert_file": os.path.join(HERE, "idp.crt"),
        "metadata": {"local": [sp_metadata]} if sp_metadata else {},
        "xmlsec_binary": "/usr/bin/xmlsec1",
    })
    return conf


# The IdP's own metadata does not depend on the SP: write it before anything else.
idp_metadata = create_metadata_string(None, config(None), sign=False)
if isinstance(idp_metadata, bytes):
    idp_metadata = idp_metadata.decode()
with open(os.path.join(args.state_dir, "idp-metadata.xml"), "w") as f:
    f.write(idp_metadata)

# All pysaml2 use goes through this lock: its subject_data shelve (dbm.dumb
# here) is not safe for concurrent use, and neither is swapping the Server.
_lock = threading.RLock()
_server = None
_server_key = None
pending = {}  # pending id -> (response_args, RelayState or None, time shown)
logins = {}  # username -> (SP entityID, NameID element, SessionIndex) of the last login
last_logout = {"status": None}  # what the last LogoutResponse said


def server() -> Server:
    """The pysaml2 Server, rebuilt when the SP metadata file appears or changes."""
    global _server, _server_key
    with _lock:
        path = sp_metadata_file()
        key = (path, os.path.getmtime(path))
        if _server is None or key != _server_key:
            if _server is not None:
                # Two open handles on one dbm.dumb file would overwrite each other's index.
                _server.ident.close()
            _server = Server(config=config(path))
            _server_key = key
        return _server


def login_page(pending_id, error=None, username=""):
    alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>University SAML login</title></head>
<body><main><h1>University of Canadialand login (SAML)</h1>{alert}
<form method="post" action="/login">
<input type="hidden" name="pending" value="{html.escape(pending_id)}">
<label for="username">User name</label> <input id="username" name="username" value="{html.escape(username)}" autocomplete="username" required>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></main></body></html>"""


def post_page(acs, saml_response, relay_state):
    relay = (f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">\n'
             if relay_state is not None else "")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Continue</title></head>
<body><main>
<form method="post" action="{html.escape(acs)}">
<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">
{relay}<noscript><p>Press the button to continue.</p></noscript>
<button type="submit">Continue</button>
</form></main>
<script>document.forms[0].submit();</script>
</body></html>"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("saml-idp: " + (fmt % a) + "\n")

    def send(self, status, body, content_type="text/html; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/health":
            return self.send(200, "ok\n", "text/plain")
        if url.path == "/metadata":
            return self.send(200, idp_metadata, "application/samlmetadata+xml")
        if url.path == "/sso/redirect":
            if "SAMLRequest" not in query:
                return self.send(400, "SAMLRequest missing\n", "text/plain")
            try:
                with _lock:
                    request = server().parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT).message
            except Exception as e:  # a test peer: say what went wrong
                self.log_message("bad AuthnRequest: %r", e)
                return self.send(400, f"bad AuthnRequest: {e!r}\n", "text/plain")
            try:
                # sp_entity_id (the Issuer), in_response_to, name_id_policy,
                # and destination: the request's ACS URL, which must be one the
                # SP's metadata lists for HTTP-POST (else the SP's default one).
                with _lock:
                    response_args = server().response_args(request, [BINDING_HTTP_POST])
            except Exception as e:
                self.log_message("unknown SP or ACS URL: %r", e)
                return self.send(400, f"unknown SP, or an ACS URL its metadata does not list: {e!r}\n", "text/plain")
            now = time.monotonic()
            with _lock:
                for stale in [k for k, v in pending.items() if now - v[2] > PENDING_TTL]:
                    del pending[stale]
                pending_id = secrets.token_urlsafe(16)
                pending[pending_id] = (response_args, query.get("RelayState", [None])[0], now)
            return self.send(200, login_page(pending_id))
        if url.path == "/logout":
            return self.logout(query)
        if url.path == "/slo":
            return self.logout_response(url.query, query)
        return self.send(404, "not found\n", "text/plain")

    def logout(self, query):
        """Sends a LogoutRequest for the user's last login to the SP."""
        username = query.get("user", [""])[0]
        binding = BINDING_HTTP_POST if query.get("binding", ["redirect"])[0] == "post" else BINDING_HTTP_REDIRECT
        sign = query.get("sign", ["yes"])[0]
        with _lock:
            if username not in logins:
                return self.send(400, f"no login of {username!r} to log out\n", "text/plain")
            sp, name_id, session_index = logins[username]
            idp = server()
            slo = [e for e in idp.metadata.single_logout_service(sp, binding, "spsso")]
            if not slo:
                return self.send(400, "the SP has no SingleLogoutService for this binding\n", "text/plain")
            destination = slo[0]["location"]
            _, request = idp.create_logout_request(
                destination, sp, name_id=name_id, session_indexes=[session_index],
                sign=(binding == BINDING_HTTP_POST and sign != "no"),
                sign_alg=SHA256_SIG, digest_alg=SHA256_DIGEST)
            message = str(request)
            if binding == BINDING_HTTP_POST and sign == "wrong":
                # Signed, then changed: the signature no longer covers what is sent.
                message = message.replace(name_id.text, name_id.text + "x", 1)
            info = idp.apply_binding(binding, message, destination, relay_state="idp-logout",
                                     sign=(binding == BINDING_HTTP_REDIRECT and sign != "no"), sigalg=SHA256_SIG)
        if binding == BINDING_HTTP_REDIRECT:
            location = dict(info["headers"])["Location"]
            if sign == "wrong":
                location = location.replace("&Signature=", "&Signature=AAAA", 1)
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self.send(200, info["data"])

    def logout_response(self, raw_query, query):
        """The SP's LogoutResponse (HTTP-Redirect): signature, then status."""
        try:
            pairs = dict(p.split("=", 1) for p in raw_query.split("&") if "=" in p)
            signed = "&".join(f"{k}={pairs[k]}" for k in ("SAMLResponse", "RelayState", "SigAlg") if k in pairs)
            signature = base64.b64decode(query["Signature"][0])
            with _lock:
                idp = server()
                response = idp.parse_logout_request_response(query["SAMLResponse"][0], BINDING_HTTP_REDIRECT)
                sp = response.response.issuer.text
                certs = idp.metadata.certs(sp, "spsso", "signing")
            verified = False
            for _, pem in certs:
                der = base64.b64decode("".join(l for l in pem.splitlines() if "CERTIFICATE" not in l))
                key = x509.load_der_x509_certificate(der).public_key()
                try:
                    key.verify(signature, signed.encode(), padding.PKCS1v15(), hashes.SHA256())
                    verified = True
                except Exception:
                    pass
            status = response.response.status.status_code.value
        except Exception as e:
            self.log_message("bad LogoutResponse: %r", e)
            return self.send(400, f"bad LogoutResponse: {e!r}\n", "text/plain")
        last_logout["status"] = status
        word = "verified" if verified else "NOT VERIFIED"
        return self.send(200, f"<!doctype html><title>Signed out</title><p>LogoutResponse: {html.escape(status)}; signature {word}</p>")

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        if url.path != "/login":
            return self.send(404, "not found\n", "text/plain")
        form = parse_qs(body, keep_blank_values=True)
        pending_id = form.get("pending", [""])[0]
        username = form.get("username", [""])[0]
        with _lock:
            known = pending_id in pending
        if not known:
            return self.send(400, "unknown, expired or used login request\n", "text/plain")
        user = users.get(username)
        if not user or user["password"] != form.get("password", [""])[0]:
            return self.send(200, login_page(pending_id, "Wrong user name or password.", username))
        with _lock:
            if pending_id not in pending:
                return self.send(400, "unknown, expired or used login request\n", "text/plain")
            response_args, relay_state, _ = pending.pop(pending_id)
            try:
                encoded, destination = self.answer(response_args, user)
            except Exception as e:
                self.log_message("cannot answer: %r", e)
                return self.send(500, f"cannot answer the AuthnRequest: {e!r}\n", "text/plain")
        return self.send(200, post_page(destination, encoded, relay_state))

    @staticmethod
    def answer(response_args, user):
        idp = server()
        # A user marked "encrypt" gets an encrypted assertion (to the SP's
        # encryption certificate from its metadata) inside a signed Response.
        extra = {}
        if user.get("encrypt"):
            sp_cert = idp.metadata.certs(response_args["sp_entity_id"], "spsso", "encryption")
            extra = {"encrypt_assertion": True, "encrypt_cert_assertion": sp_cert[0][1] if sp_cert else None,
                     "encrypt_assertion_self_contained": True}
        response = idp.create_authn_response(
            identity=user["attributes"],
            userid=user["username"],
            authn={"class_ref": AUTHN_PASSWORD_PROTECTED, "authn_auth": f"{base}/metadata"},
            sign_response=True,
            sign_assertion=True,
            sign_alg=SHA256_SIG,
            digest_alg=SHA256_DIGEST,
            **extra,
            **response_args,
        )
        idp.ident.sync()  # the persistent NameID reaches the disk even if we are killed
        if not user.get("encrypt"):
            parsed = saml2.samlp.response_from_string(str(response))
            assertion = parsed.assertion[0]
            logins[user["username"]] = (
                response_args["sp_entity_id"],
                assertion.subject.name_id,
                assertion.authn_statement[0].session_index,
            )
        # Kept for debugging a test run: the last response this IdP sent.
        with open(os.path.join(args.state_dir, "last-response.xml"), "w") as f:
            f.write(str(response))
        return base64.b64encode(str(response).encode()).decode(), response_args["destination"]


httpd.RequestHandlerClass = Handler
httpd.daemon_threads = True


def stop(*_):
    threading.Thread(target=httpd.shutdown, daemon=True).start()


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print(f"saml-idp ready on http://127.0.0.1:{port}", flush=True)
httpd.serve_forever()
httpd.server_close()
with _lock:
    if _server is not None:
        _server.ident.close()
sys.exit(0)

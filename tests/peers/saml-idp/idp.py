#!/usr/bin/env python3
"""The university's SAML2 identity provider for sso-bridge's tests and demo.

pysaml2's `Server` with a fixed signing key, SHA-256 signatures on the Response
and the Assertion, persistent NameIDs that survive restarts, eduPerson/LDAP
attributes as urn:oid names, and a plain login form. HTTP-Redirect binding in,
HTTP-POST binding out.
"""
import argparse
import base64
import html
import json
import os
import secrets
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT
from saml2.saml import AUTHN_PASSWORD_PROTECTED
from saml2.server import Server
import functools
import saml2.entity
import saml2.sigver

# pysaml2 encrypts with 3DES by default; encrypt as current IdPs do (AES-128-CBC,
# key transport RSA-OAEP), which the bridge accepts.
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

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--base-url")
parser.add_argument("--sp-metadata", required=True, help="the SP's metadata file; read when a request arrives")
parser.add_argument("--users", default=os.path.join(HERE, "users.json"))
parser.add_argument("--state-dir", required=True)
args = parser.parse_args()
base = (args.base_url or f"http://127.0.0.1:{args.port}").rstrip("/")
os.makedirs(args.state_dir, exist_ok=True)
users = {u["username"]: u for u in json.load(open(args.users))}


def config(with_sp: bool) -> IdPConfig:
    conf = IdPConfig()
    conf.load({
        "entityid": f"{base}/metadata",
        "service": {"idp": {
            "name": "University of Canadialand SAML IdP (test)",
            "endpoints": {"single_sign_on_service": [(f"{base}/sso/redirect", BINDING_HTTP_REDIRECT)]},
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "policy": {"default": {
                "lifetime": {"minutes": 5},
                "attribute_restrictions": None,
                "name_form": NAME_FORMAT_URI,
            }},
            # Inside service.idp: at the top level pysaml2 ignores them and signs with SHA-1.
            "signing_algorithm": SHA256_SIG,
            "digest_algorithm": SHA256_DIGEST,
            "subject_data": os.path.join(args.state_dir, "subject_data.db"),
            "want_authn_requests_signed": False,
        }},
        "key_file": os.path.join(HERE, "idp.key"),
        "cert_file": os.path.join(HERE, "idp.crt"),
        "metadata": {"local": [args.sp_metadata]} if with_sp else {},
        "xmlsec_binary": "/usr/bin/xmlsec1",
    })
    return conf


# The IdP's own metadata does not depend on the SP: write it before anything else.
idp_metadata = create_metadata_string(None, config(False), sign=False)
if isinstance(idp_metadata, bytes):
    idp_metadata = idp_metadata.decode()
with open(os.path.join(args.state_dir, "idp-metadata.xml"), "w") as f:
    f.write(idp_metadata)

_server = None
_server_mtime = None
_lock = threading.Lock()
pending = {}


def server() -> Server:
    """The pysaml2 Server, rebuilt when the SP metadata file appears or changes."""
    global _server, _server_mtime
    with _lock:
        mtime = os.path.getmtime(args.sp_metadata)
        if _server is None or mtime != _server_mtime:
            _server = Server(config=config(True))
            _server_mtime = mtime
        return _server


def login_page(pending_id, error=None):
    alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>University SAML login</title></head>
<body><main><h1>University of Canadialand login (SAML)</h1>{alert}
<form method="post" action="/login">
<input type="hidden" name="pending" value="{html.escape(pending_id)}">
<label for="username">User name</label> <input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></main></body></html>"""


def post_page(acs, saml_response, relay_state):
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Continue</title></head>
<body onload="document.forms[0].submit()"><main>
<form method="post" action="{html.escape(acs)}">
<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">
<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">
<noscript><p>Press the button to continue.</p></noscript>
<button type="submit">Continue</button>
</form></main></body></html>"""


class Handler(BaseHTTPRequestHandler):
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
            try:
                saml_request = query["SAMLRequest"][0]
                request = server().parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message
            except Exception as e:  # a test peer: say what went wrong
                return self.send(400, f"bad AuthnRequest: {html.escape(str(e))}", "text/plain")
            pending_id = secrets.token_urlsafe(16)
            pending[pending_id] = (request, query.get("RelayState", [""])[0])
            return self.send(200, login_page(pending_id))
        return self.send(404, "not found\n", "text/plain")

    def do_POST(self):
        url = urlparse(self.path)
        if url.path != "/login":
            return self.send(404, "not found\n", "text/plain")
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        pending_id = form.get("pending", [""])[0]
        if pending_id not in pending:
            return self.send(400, "unknown or used login request", "text/plain")
        user = users.get(form.get("username", [""])[0])
        if not user or user["password"] != form.get("password", [""])[0]:
            return self.send(200, login_page(pending_id, "Wrong user name or password."))
        request, relay_state = pending.pop(pending_id)
        idp = server()
        response_args = idp.response_args(request, [BINDING_HTTP_POST])
        # A user marked "encrypt" gets an encrypted assertion (to the SP's
        # encryption certificate from its metadata) inside a signed Response.
        encrypt = bool(user.get("encrypt"))
        extra = {}
        if encrypt:
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
        # Kept for debugging a test run: the last response this IdP sent.
        with open(os.path.join(args.state_dir, "last-response.xml"), "w") as f:
            f.write(str(response))
        encoded = base64.b64encode(str(response).encode()).decode()
        return self.send(200, post_page(response_args["destination"], encoded, relay_state))


httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
print(f"saml-idp ready on {base}", flush=True)
try:
    httpd.serve_forever()
except KeyboardInterrupt:
    pass

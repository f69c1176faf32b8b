#!/usr/bin/env python3
"""pysaml2's SP side parsing and verifying SAML responses, for benches/saml_acs.rs.

Reads lines "InResponseTo<TAB>base64 SAMLResponse" and, for every line whose
index modulo --shards is --shard, calls Saml2Client.parse_authn_request_response
(HTTP-POST binding, the request outstanding) and checks the result: signature
with the metadata's key (pysaml2 runs the xmlsec1 binary for it), conditions,
audience, InResponseTo, subject, attributes. Only the loop is timed (not the
import nor the configuration). Prints one JSON line,
{"count": N, "start": T0, "end": T1, "cpu": C}: time.monotonic() seconds, which
the bench compares across the processes it runs side by side, and the CPU
seconds the loop used (this process and the xmlsec1 processes it ran).
"""

import argparse
import json
import logging
import resource
import sys
import time
import warnings

warnings.simplefilter("ignore")  # cryptography's CFB deprecation warning at import
logging.disable(logging.CRITICAL)

from saml2 import BINDING_HTTP_POST  # noqa: E402
from saml2.client import Saml2Client  # noqa: E402
from saml2.config import SPConfig  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--responses", required=True, help="TSV: InResponseTo, base64 SAMLResponse")
parser.add_argument("--shard", type=int, default=0)
parser.add_argument("--shards", type=int, default=1)
parser.add_argument("--idp-metadata", required=True)
parser.add_argument("--sp-entity-id", required=True)
parser.add_argument("--acs", required=True)
parser.add_argument("--sp-key", required=True)
parser.add_argument("--sp-cert", required=True)
parser.add_argument("--expect-ou", default="eng")
parser.add_argument("--xmlsec", default="/usr/bin/xmlsec1")
args = parser.parse_args()

conf = SPConfig()
conf.load(
    {
        "entityid": args.sp_entity_id,
        "metadata": {"local": [args.idp_metadata]},
        "key_file": args.sp_key,
        "cert_file": args.sp_cert,
        "xmlsec_binary": args.xmlsec,
        "accepted_time_diff": 60,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(args.acs, BINDING_HTTP_POST)]},
                # The bench's responses sign the Assertion, like the bridge's ACS tests.
                "want_response_signed": False,
                "want_assertions_signed": True,
                "allow_unsolicited": False,
                "only_use_keys_in_metadata": True,
            }
        },
    }
)
client = Saml2Client(config=conf)

with open(args.responses) as f:
    lines = [line.rstrip("\n").split("\t", 1) for line in f if line.strip()]
mine = lines[args.shard :: args.shards]


def cpu():
    """This process's CPU time and its reaped children's (the xmlsec1 runs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


cpu_start = cpu()
start = time.monotonic()
for in_response_to, saml_response in mine:
    response = client.parse_authn_request_response(
        saml_response, BINDING_HTTP_POST, outstanding={in_response_to: args.acs}
    )
    if response is None or response.ava.get("ou") != [args.expect_ou]:
        sys.exit(f"pysaml2 did not accept the response to {in_response_to}: {response!r}")
end = time.monotonic()
cpu_used = cpu() - cpu_start
print(json.dumps({"count": len(mine), "start": start, "end": end, "cpu": cpu_used}), flush=True)

#!/usr/bin/env python3
"""Writes a small Synapse config for a departmental homeserver on 127.0.0.1.

The SSO part is not here: it comes from `sso-bridge homeserver-config` and is
passed to Synapse as a second `-c` file. JSON is valid YAML, so no PyYAML needed.
"""
import argparse
import json
import os
import secrets
import subprocess
import sys

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--dir", required=True, help="directory for the config, database and logs")
parser.add_argument("--server-name", required=True)
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()

directory = os.path.abspath(args.dir)
os.makedirs(directory, exist_ok=True)
generous = {"per_second": 1000, "burst_count": 1000}

log_config = {
    "version": 1,
    "formatters": {"precise": {"format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"}},
    "handlers": {
        "file": {"class": "logging.FileHandler", "formatter": "precise", "filename": os.path.join(directory, "homeserver.log")},
        "console": {"class": "logging.StreamHandler", "formatter": "precise", "level": "WARNING"},
    },
    "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
    "root": {"level": "INFO", "handlers": ["file", "console"]},
    "disable_existing_loggers": False,
}
with open(os.path.join(directory, "log.config"), "w") as f:
    json.dump(log_config, f, indent=2)

config = {
    "server_name": args.server_name,
    "public_baseurl": f"http://127.0.0.1:{args.port}/",
    "pid_file": os.path.join(directory, "homeserver.pid"),
    "listeners": [{
        "port": args.port,
        "bind_addresses": ["127.0.0.1"],
        "type": "http",
        "tls": False,
        "x_forwarded": True,
        "resources": [{"names": ["client"], "compress": False}],
    }],
    "database": {"name": "sqlite3", "args": {"database": os.path.join(directory, "homeserver.db")}},
    "log_config": os.path.join(directory, "log.config"),
    "media_store_path": os.path.join(directory, "media_store"),
    "signing_key_path": os.path.join(directory, "signing.key"),
    "report_stats": False,
    "trusted_key_servers": [],
    "suppress_key_server_warning": True,
    "enable_registration": False,
    # Login responses then carry well_known (MSC1730 clients follow it after a 307).
    "serve_client_wellknown": True,
    "macaroon_secret_key": secrets.token_hex(32),
    "form_secret": secrets.token_hex(32),
    "registration_shared_secret": secrets.token_hex(32),
    "rc_login": {"address": generous, "account": generous, "failed_attempts": generous},
    "rc_registration": generous,
    "rc_message": generous,
    "rc_joins": {"local": generous, "remote": generous},
}
path = os.path.join(directory, "homeserver.yaml")
with open(path, "w") as f:
    json.dump(config, f, indent=2)

# Generate the signing key now, so the first real start is fast.
subprocess.run(
    [sys.executable, "-m", "synapse.app.homeserver", "-c", path, "--generate-keys"],
    check=True,
    stdout=subprocess.DEVNULL,
)
print(path)

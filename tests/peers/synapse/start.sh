#!/usr/bin/env bash
# Starts a Synapse configured by configure.py: start.sh DIR [extra -c files...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="$1"; shift
args=(-c "$dir/homeserver.yaml")
for extra in "$@"; do args+=(-c "$extra"); done
exec "$here/../../../.peers/venv/bin/python" -m synapse.app.homeserver "${args[@]}"

#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one: installs what the tests
# need (idempotent), checks formatting and lints, then runs unit, in-process and
# end-to-end tests (real bridge binary, real Synapses, real OIDC IdP on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "==> cargo test"
# One process per test binary: the end-to-end tests share their peers.
cargo test --all-targets --locked -- --test-threads=4

#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one: installs what the tests
# need (idempotent), checks formatting and lints, then runs unit, in-process and
# end-to-end tests (real bridge binary, real Synapses, real OIDC IdP on 127.0.0.1),
# on SQLite and again on a real PostgreSQL that the tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

echo "==> cargo test (SQLite)"
# One process per test binary: the end-to-end tests share their peers.
cargo test --workspace --all-targets --features peers --locked -- --test-threads=4

echo "==> cargo test (PostgreSQL): every test that touches the database, again"
SSO_BRIDGE_TEST_DB=postgres cargo test --features peers --locked \
    --test e2e --test inprocess_flow --test inprocess_introspection --test inprocess_login \
    --test saml_acs_checks \
    -- --test-threads=4

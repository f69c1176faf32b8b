#!/usr/bin/env bash
# Fuzzes the SAML ACS parsing path for a bounded time (default 60 s):
#   scripts/fuzz.sh [seconds]
# Needs cargo-fuzz (installed here if missing). cargo-fuzz wants nightly compiler
# flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
scripts/setup.sh
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
mkdir -p target/fuzz-corpus/acs
cp -n fuzz/corpus/acs/* target/fuzz-corpus/acs/ 2>/dev/null || true
cargo fuzz run acs target/fuzz-corpus/acs -- -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536

#!/usr/bin/env bash
# The benchmarks: installs what they need (wrk and the test peers), builds in
# release mode, starts the real peers on 127.0.0.1 and prints tables in which
# every figure stands next to its baseline from the same run. Not part of the
# test command; results and how to read them are in BENCHMARKS.md.
#   scripts/bench.sh            all benchmarks
#   scripts/bench.sh NAME...    some of them (token_validation, saml_acs, login)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --bench

benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(token_validation saml_acs login)
for bench in "${benches[@]}"; do
    echo "==> cargo bench --bench $bench"
    cargo bench --locked --bench "$bench"
done

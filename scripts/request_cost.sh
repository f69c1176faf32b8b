#!/usr/bin/env bash
# Instructions per request of the bridge's own code, by request, next to an
# actix-web "hello" (benches/request_cost.rs under callgrind; only the request
# loop is counted). Machine noise does not change these figures.
#   scripts/request_cost.sh [CASE...]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
binary=$(cargo bench --locked --bench request_cost --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m["target"]["name"] == "request_cost": print(m["executable"])')
requests=500
rounds=5   # ROUNDS in the benchmark
out=$(mktemp -d)
count() { # case → instructions counted in the request loops
    valgrind --tool=callgrind --toggle-collect='*CountedBatch*' --callgrind-out-file="$out/cg" \
        "$binary" --requests $requests --case "$1" >/dev/null 2>"$out/log"
    sed -n 's/^==[0-9]*== Collected : //p' "$out/log"
}
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=("GET /health" "forward-auth" "introspection" "login start: GET" "the picker's own route")
hello=$(count "no such case")
per_hello=$((hello / (requests * rounds)))
echo "| request | instructions/request | vs hello |"
echo "|---|---:|---:|"
echo "| actix-web \"hello\" (baseline) | $per_hello | 1.0× |"
for case in "${cases[@]}"; do
    total=$(count "$case")
    per=$(((total - hello) / (requests * rounds)))
    echo "| $case | $per | $(python3 -c "print(f'{$per/$per_hello:.1f}×')") |"
done
rm -rf "$out"

#!/usr/bin/env bash
# Short libFuzzer runs: scripts/fuzz.sh BUILD/fuzz/fuzz_NAME ...
#
# Each fuzzer runs for FUZZ_SECONDS (default 20) over its seed corpus
# fuzz/corpus/NAME/ (new interesting inputs go to a scratch directory, so the
# checked-in corpus only grows by hand). A crashing input is copied into
# fuzz/corpus/NAME/ as crash-<sha1> so that every later run replays it as a
# regression case. Exit status is non-zero if any fuzzer found a crash.
set -u
seconds=${FUZZ_SECONDS:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
[ $# -gt 0 ] || { echo "usage: $0 FUZZER..." >&2; exit 2; }
for fuzzer in "$@"; do
    base=$(basename "$fuzzer")
    name=${base#fuzz_}
    corpus="$root/fuzz/corpus/$name"
    mkdir -p "$corpus"
    scratch=$(mktemp -d)
    artifacts=$(mktemp -d)
    echo "fuzz: $base for ${seconds}s over $corpus"
    "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$scratch" "$corpus" >"$artifacts/log" 2>&1
    rc=$?
    tail -n 25 "$artifacts/log"
    found=0
    for a in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
        [ -e "$a" ] || continue
        found=1
        cp "$a" "$corpus/$(basename "$a")"
        echo "fuzz: $base: kept $(basename "$a") in $corpus as a regression case"
    done
    if [ $rc -ne 0 ] || [ $found -ne 0 ]; then
        echo "fuzz: $base FAILED (exit $rc)"
        status=1
    else
        echo "fuzz: $base ok"
    fi
    rm -rf "$scratch" "$artifacts"
done
exit $status

#!/usr/bin/env bash
# Runs each test binary given, prints its output, and ends with one line
# "N passed, N failed" counting binaries. Exit status is non-zero if any failed.
set -u
passed=0; failed=0; failures=()
for t in "$@"; do
    echo "=== $t"
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$t"); fi
done
echo
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

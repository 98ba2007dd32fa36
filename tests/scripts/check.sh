# Sourced by the script tests: `check DESCRIPTION COMMAND...` runs the
# command and prints "ok" or "FAILED" for it; $failures counts the failures.
failures=0
check() {
    local what=$1; shift
    if "$@"; then echo "  ok: $what"; else echo "  FAILED: $what"; failures=$((failures + 1)); fi
}

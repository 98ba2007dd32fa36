#!/usr/bin/env bash
# verto privacy: ε for a noise multiplier and the noise multiplier for a
# budget, as text and as one JSON object whose figures equal Opacus'
# RDPAccountant and get_noise_multiplier (ε to 1e-6 relative, the issue's
# bound; the solved noise exactly, since verto runs the same bisection); bad
# or missing arguments stop with one error line and a non-zero status.
set -uo pipefail
build=${VT_BUILD:-build}
verto="$build/verto"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

"$verto" privacy --noise-multiplier 1.1 --sample-rate 0.01 --steps 1000 --delta 1e-5 >"$tmp/text" 2>"$tmp/err"
check "epsilon as text: exit 0" test $? -eq 0
sed 's/^/    /' "$tmp/text"
check "epsilon as text: names epsilon, delta and the best order" \
    grep -Eq '^epsilon [0-9.]+ at delta 1e-05, best RDP order [0-9.]+; 1000 steps' "$tmp/text"

"$verto" privacy --noise-multiplier 1.1 --sample-rate 0.01 --steps 1000 --delta 1e-5 --json >"$tmp/eps.json"
check "epsilon as JSON: exit 0" test $? -eq 0
"$verto" privacy --epsilon 3 --sample-rate 0.02 --steps 2000 --delta 1e-6 --json >"$tmp/noise.json"
check "noise multiplier as JSON: exit 0" test $? -eq 0
"$verto" privacy --noise-multiplier 0 --sample-rate 0.01 --steps 10 --delta 1e-5 --json >"$tmp/none.json"
check "noise 0: exit 0" test $? -eq 0
sed 's/^/    /' "$tmp/eps.json" "$tmp/noise.json" "$tmp/none.json"

python3 - "$tmp" >"$tmp/py.log" 2>&1 <<'PY'
import json, math, sys, warnings
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier
warnings.simplefilter("ignore")
d = sys.argv[1]
keys = {"epsilon", "delta", "noise_multiplier", "sample_rate", "steps", "best_order"}

def spent(s, q, n, delta):
    acc = RDPAccountant()
    acc.history = [(s, q, n)]
    return acc.get_privacy_spent(delta=delta)

e = json.load(open(f"{d}/eps.json"))
assert keys <= set(e), e
assert (e["noise_multiplier"], e["sample_rate"], e["steps"], e["delta"]) == (1.1, 0.01, 1000, 1e-5), e
eps, order = spent(1.1, 0.01, 1000, 1e-5)
assert abs(e["epsilon"] - eps) <= 1e-6 * eps and e["best_order"] == order, (e, eps, order)

n = json.load(open(f"{d}/noise.json"))
assert keys <= set(n), n
sigma = get_noise_multiplier(target_epsilon=3, target_delta=1e-6, sample_rate=0.02, steps=2000, accountant="rdp")
assert n["noise_multiplier"] == sigma, (n, sigma)
eps, order = spent(sigma, 0.02, 2000, 1e-6)
assert abs(n["epsilon"] - eps) <= 1e-6 * eps and n["best_order"] == order and 2.99 <= n["epsilon"] <= 3, (n, eps)

z = json.load(open(f"{d}/none.json"))
assert z["epsilon"] is None and z["noise_multiplier"] == 0, z  # infinite: JSON has no infinity
print("json matches Opacus")
PY
check "JSON fields and figures match Opacus" test $? -eq 0
sed 's/^/    /' "$tmp/py.log"

# each bad call: a non-zero status, one "error:" line naming the problem, nothing on stdout
refuse() {
    local what=$1 pattern=$2; shift 2
    "$verto" privacy "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    check "$what" sh -c "test $rc -ne 0 && test ! -s '$tmp/out' && test \$(wc -l <'$tmp/err') -eq 1 && grep -q '^error: .*$pattern' '$tmp/err'"
}
refuse "neither --noise-multiplier nor --epsilon" "exactly one of" --sample-rate 0.01 --steps 10 --delta 1e-5
refuse "both --noise-multiplier and --epsilon" "exactly one of" --noise-multiplier 1 --epsilon 1 --sample-rate 0.01 --steps 10 --delta 1e-5
refuse "missing --sample-rate" "needs --sample-rate" --noise-multiplier 1 --steps 10 --delta 1e-5
refuse "missing --steps" "needs --steps" --noise-multiplier 1 --sample-rate 0.01 --delta 1e-5
refuse "missing --delta" "needs --delta" --noise-multiplier 1 --sample-rate 0.01 --steps 10
refuse "delta 0" "delta must be in (0, 1)" --noise-multiplier 1 --sample-rate 0.01 --steps 10 --delta 0
refuse "sample rate above 1" "sample-rate must be between 0 and 1" --noise-multiplier 1 --sample-rate 1.5 --steps 10 --delta 1e-5
refuse "negative noise" "noise-multiplier must be between" --noise-multiplier -1 --sample-rate 0.01 --steps 10 --delta 1e-5
refuse "zero steps" "steps must be between" --noise-multiplier 1 --sample-rate 0.01 --steps 0 --delta 1e-5
refuse "steps not a number" "steps expects an integer" --noise-multiplier 1 --sample-rate 0.01 --steps ten --delta 1e-5
refuse "epsilon 0" "epsilon must be > 0" --epsilon 0 --sample-rate 0.01 --steps 10 --delta 1e-5
refuse "a budget too low (Opacus raises too)" "too low" --epsilon 0.01 --sample-rate 0.5 --steps 100000 --delta 1e-5
refuse "an unknown option" "" --noise-multiplier 1 --sample-rate 0.01 --steps 10 --delta 1e-5 --rdp-orders 3

echo "test_privacy_cli: $failures failure(s)"
[ "$failures" -eq 0 ]

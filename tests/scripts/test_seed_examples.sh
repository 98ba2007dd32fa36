#!/usr/bin/env bash
# The seed's two examples, run as a user would, with their promised results:
# logistic regression's loss falls and reaches >= 0.95 training accuracy; the
# Transformer's summary reports Keras' counts and it reaches >= 0.95 test accuracy.
set -euo pipefail
build=${VT_BUILD:-build}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
. "$(dirname "$0")/check.sh"

"$build/examples/seed_logistic_regression" >"$out"
cat "$out"
first=$(awk '/^iteration +0 /{print $4}' "$out")
last=$(awk '/^iteration +1000 /{print $4}' "$out")
acc=$(awk '/^training accuracy:/{print $3}' "$out")
check "loss falls ($first -> $last)" awk -v a="$first" -v b="$last" 'BEGIN{exit !(b < a / 2)}'
check "training accuracy $acc >= 0.95" awk -v a="$acc" 'BEGIN{exit !(a >= 0.95)}'
check "prints W, b and the sample's probabilities" grep -q "P(class 1)" "$out"

"$build/examples/seed_transformer" >"$out"
cat "$out"
for count in 5,120,000 1,050,624 262,656 5,130,000 "Total params: 11,563,280"; do
    check "summary shows $count" grep -q "$count" "$out"
done
acc=$(sed -n 's/^Test loss: .*, Test accuracy: \([0-9.]*\)$/\1/p' "$out")
check "test accuracy ${acc:-missing} >= 0.95" awk -v a="${acc:-0}" 'BEGIN{exit !(a >= 0.95)}'
check "one line per epoch when not a terminal" test "$(grep -c '^Epoch [1-5]/5 - ' "$out")" -eq 5
[ "$failures" -eq 0 ]

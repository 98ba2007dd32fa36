#!/usr/bin/env bash
# DP-SGD through verto finetune on data/spam (tiny model, 32 training and 16
# dev e-mails, expected batch 8: 4 steps an epoch): the run ends, writes the
# model, privacy.json (noise multiplier, sample rate 8/32, steps 4, clipping
# bound, sampling, and epsilon at delta = 1/32^1.1 equal to what `verto
# privacy` computes for those figures) and the dp fields on metrics.jsonl's
# step lines (dp_steps = step, epsilon so far); --dp-epsilon solves the noise
# multiplier as `verto privacy --epsilon` does and the run spends at most that
# budget; the same seed gives
# the same model bit for bit (sampling and noise are seeded); shuffle sampling
# warns that the guarantee does not hold as stated; and the combinations not
# handled are refused with their reason: a dev set not declared public (its
# best-epoch choice leaks), one DP option without the other, class weights,
# token classification and question answering.
set -euo pipefail
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/check.sh"

head -32 data/spam/train.jsonl >"$tmp/train.jsonl"
head -16 data/spam/dev.jsonl >"$tmp/dev.jsonl"
"$verto" init --config tiny --tokenizer tests/data/tokenizer/uncased/vocab.txt -o "$tmp/init" >/dev/null
common=(--init "$tmp/init" --train "$tmp/train.jsonl" --dev "$tmp/dev.jsonl" --epochs 1 --batch-size 8 --lr 1e-3
        --max-seq-length 48)
dp=(--dp-noise-multiplier 1.1 --dp-max-grad-norm 0.5 --dp-dev-public)

check "finetune with DP-SGD" sh -c "'$verto' finetune $(printf "'%s' " "${common[@]}" "${dp[@]}") -o '$tmp/a' >'$tmp/a.log' 2>&1"
check "the model is written" test -f "$tmp/a/model.safetensors"
check "privacy.json records the run" "$py" - "$tmp/a" <<'PY'
import json, sys
d = sys.argv[1]
p = json.load(open(f"{d}/privacy.json"))
want = {"noise_multiplier": 1.1, "sample_rate": 0.25, "steps": 4, "max_grad_norm": 0.5, "sampling": "poisson",
        "expected_batch_size": 8, "examples": 32}
bad = {k: (p.get(k), v) for k, v in want.items() if p.get(k) != v}
assert not bad, bad
assert abs(p["delta"] - 32 ** -1.1) < 1e-15 and p["epsilon"] > 0, p
assert "verto privacy" in p["note"]
steps = [json.loads(l) for l in open(f"{d}/metrics.jsonl") if '"eval"' not in l]
assert steps, "no step lines"
for s in steps:
    assert s["dp_noise_multiplier"] == 1.1 and s["dp_sample_rate"] == 0.25 and s["dp_steps"] == s["step"], s
    assert s["dp_batch_size"] >= 0 and s["epsilon"] > 0, s
assert abs(steps[-1]["epsilon"] - p["epsilon"]) <= 1e-5 * p["epsilon"], (steps[-1], p)  # (6 digits logged)
PY
delta=$("$py" -c 'print(repr(32 ** -1.1))')
check "privacy.json's epsilon is verto privacy's for its figures" "$py" - "$tmp/a/privacy.json" \
    "$("$verto" privacy --noise-multiplier 1.1 --sample-rate 0.25 --steps 4 --delta "$delta" --json)" <<'PY'
import json, sys
p, q = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
assert abs(p["epsilon"] - q["epsilon"]) <= 1e-12 * q["epsilon"] and p["best_order"] == q["best_order"], (p, q)
PY
check "finetune --dp-epsilon 8" sh -c "'$verto' finetune $(printf "'%s' " "${common[@]}") --dp-epsilon 8 --dp-max-grad-norm 0.5 \
    --dp-dev-public -o '$tmp/e' >'$tmp/e.log' 2>&1"
check "--dp-epsilon: the noise verto privacy --epsilon solves, epsilon spent at most 8" "$py" - "$tmp/e/privacy.json" \
    "$("$verto" privacy --epsilon 8 --sample-rate 0.25 --steps 4 --delta "$delta" --json)" <<'PY'
import json, sys
p, q = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
assert p["noise_multiplier"] == q["noise_multiplier"] and p["epsilon"] <= 8, (p, q)
print(f"    noise multiplier {p['noise_multiplier']:.4f}, epsilon {p['epsilon']:.4f}")
PY
check "the same seed gives the same model" sh -c "'$verto' finetune $(printf "'%s' " "${common[@]}" "${dp[@]}") -o '$tmp/b' >/dev/null 2>&1 \
    && cmp -s '$tmp/a/model.safetensors' '$tmp/b/model.safetensors'"
check "shuffle sampling warns" sh -c "'$verto' finetune $(printf "'%s' " "${common[@]}" "${dp[@]}") --dp-sampling shuffle \
    -o '$tmp/c' 2>&1 >/dev/null | grep -q 'does not hold as stated' && grep -q '\"sampling\": \"shuffle\"' '$tmp/c/privacy.json'"

refused() { # refused NEEDLE ARGS...: a non-zero status and a message naming NEEDLE
    local needle=$1; shift
    if "$verto" finetune "$@" -o "$tmp/r" >"$tmp/r.log" 2>&1; then echo "    accepted"; return 1; fi
    grep -q -- "$needle" "$tmp/r.log" || { echo "    message: $(cat "$tmp/r.log")"; return 1; }
}
check "a private dev set is refused" refused "leaks" "${common[@]}" --dp-noise-multiplier 1 --dp-max-grad-norm 1
check "one DP option alone is refused" refused "needs both" "${common[@]}" --dp-noise-multiplier 1 --dp-dev-public
check "--dp-epsilon with --dp-noise-multiplier is refused" refused "not both" "${common[@]}" "${dp[@]}" --dp-epsilon 8
check "class weights are refused" refused "class weights" "${common[@]}" "${dp[@]}" --class-weights auto
check "token classification is refused" refused "token classification" "${common[@]}" "${dp[@]}" --task token-classification
check "question answering is refused" refused "question answering" "${common[@]}" "${dp[@]}" --task question-answering
check "an unknown sampling is refused" refused "poisson or shuffle" "${common[@]}" "${dp[@]}" --dp-sampling fixed

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "dp cli: all checks passed"

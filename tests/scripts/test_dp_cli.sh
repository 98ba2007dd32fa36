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
# best-epoch choice leaks), one DP option without the other, class weights.
# --grad-accum: privacy.json states the logical batch and counts logical steps.
# Token classification (a sentence per example) and question answering (a
# feature window per example) train with DP-SGD and record their unit; so does
# pretraining (a sequence of the shards per example: privacy.json's examples
# are the shards' instances, its epsilon `verto privacy`'s).
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

# --grad-accum 2: the logical batch is the Poisson-sampled one (expected 8 x 2 = 16 of 32: rate 0.5), run in
# micro-batches of 8, 32 / 16 = 2 steps an epoch; the accountant counts those steps.
check "finetune with DP-SGD and --grad-accum 2" sh -c "'$verto' finetune $(printf "'%s' " "${common[@]}" "${dp[@]}") \
    --grad-accum 2 -o '$tmp/g' >'$tmp/g.log' 2>&1"
check "--grad-accum: privacy.json counts logical steps of the logical batch" "$py" - "$tmp/g" <<'PY'
import json, sys
p = json.load(open(f"{sys.argv[1]}/privacy.json"))
want = {"sample_rate": 0.5, "steps": 2, "expected_batch_size": 16, "examples": 32, "unit": "one training text"}
bad = {k: (p.get(k), v) for k, v in want.items() if p.get(k) != v}
assert not bad, bad
steps = [json.loads(l) for l in open(f"{sys.argv[1]}/metrics.jsonl") if '"eval"' not in l]
assert steps[-1]["dp_steps"] == 2 and steps[-1]["dp_sample_rate"] == 0.5, steps
PY

# --grad-accum without DP: batch 4 x 2 micro-batches makes the 32 rows 4 steps, as batch 8 does.
check "finetune --batch-size 4 --grad-accum 2 (no DP): 4 steps an epoch" sh -c "'$verto' finetune \
    $(printf "'%s' " "${common[@]}") --batch-size 4 --grad-accum 2 -o '$tmp/ga' >/dev/null 2>&1 && \
    '$py' -c 'import json, sys; s = [json.loads(l) for l in open(sys.argv[1]) if \"eval\" not in l]; assert s[-1][\"step\"] == 4, s' \
    '$tmp/ga/metrics.jsonl'"

# Token classification and question answering: sentences and SQuAD questions made from the e-mails.
"$py" - "$tmp" <<'PY'
import json, re, sys
tmp = sys.argv[1]
def texts(f, n): return [json.loads(l)["text"] for l in open(f)][:n]
def words(t): return re.findall(r"\w+|[^\w\s]", t)[:24]
def tags(ws):
    out = []
    for w in ws:
        if w.isdigit(): out.append("B-NUM")
        elif w[:1].isupper(): out.append("I-CAP" if out and out[-1].endswith("CAP") else "B-CAP")
        else: out.append("O")
    return out
def squad(ts):
    data = []
    for i, t in enumerate(ts):
        ctx = " ".join(t.split())[:120]
        ms = list(re.finditer(r"[A-Za-z]{4,}", ctx))
        if len(ms) < 2: continue
        a, b = ms[len(ms) // 2 - 1], ms[len(ms) // 2]
        data.append({"title": f"t{i}", "paragraphs": [{"context": ctx, "qas": [
            {"id": f"q{i}", "question": f"Which word comes after {a.group()}?",
             "answers": [{"text": b.group(), "answer_start": b.start()}]}]}]})
    return {"version": "1.1", "data": data}
for split, f, n in (("train", "data/spam/train.jsonl", 24), ("dev", "data/spam/dev.jsonl", 8)):
    ts = texts(f, n)
    with open(f"{tmp}/ner-{split}.jsonl", "w") as o:
        for t in ts:
            ws = words(t)
            o.write(json.dumps({"tokens": ws, "tags": tags(ws)}) + "\n")
    json.dump(squad(ts[:12]), open(f"{tmp}/qa-{split}.json", "w"))
PY
check "token classification with DP-SGD" sh -c "'$verto' finetune --task token-classification --init '$tmp/init' \
    --train '$tmp/ner-train.jsonl' --dev '$tmp/ner-dev.jsonl' --epochs 1 --batch-size 8 --lr 1e-3 --max-seq-length 48 \
    $(printf "'%s' " "${dp[@]}") -o '$tmp/ner' >'$tmp/ner.log' 2>&1"
check "question answering with DP-SGD (windows of 48 tokens, stride 16)" sh -c "'$verto' finetune \
    --task question-answering --init '$tmp/init' --train '$tmp/qa-train.json' --dev '$tmp/qa-dev.json' --epochs 1 \
    --batch-size 8 --lr 1e-3 --max-seq-length 48 --doc-stride 16 $(printf "'%s' " "${dp[@]}") -o '$tmp/qa' \
    >'$tmp/qa.log' 2>&1"
check "privacy.json of each: its examples, unit, rate and steps" "$py" - "$tmp" <<'PY'
import json, math, re, sys
tmp = sys.argv[1]
ner = json.load(open(f"{tmp}/ner/privacy.json"))
assert ner["examples"] == 24 and ner["unit"] == "one training sentence", ner
assert ner["sample_rate"] == 8 / 24 and ner["steps"] == 3 and ner["epsilon"] > 0, ner
qa = json.load(open(f"{tmp}/qa/privacy.json"))
log = open(f"{tmp}/qa.log").read()
features = int(re.search(r"training questions \((\d+) features", log).group(1))
questions = len(json.load(open(f"{tmp}/qa-train.json"))["data"])
assert features > questions, (features, questions)  # some contexts are several windows: several examples
assert qa["examples"] == features and qa["unit"].startswith("one training feature"), qa
assert abs(qa["sample_rate"] - 8 / features) < 1e-15 and qa["steps"] == math.ceil(features / 8), qa
for d in ("ner", "qa"):
    steps = [json.loads(l) for l in open(f"{tmp}/{d}/metrics.jsonl") if '"eval"' not in l]
    assert steps and all(s["epsilon"] > 0 for s in steps), steps
print(f"    token classification: 24 sentences; question answering: {questions} questions as {features} features")
PY

refused() { # refused NEEDLE ARGS...: a non-zero status and a message naming NEEDLE
    local needle=$1; shift
    if "$verto" finetune "$@" -o "$tmp/r" >"$tmp/r.log" 2>&1; then echo "    accepted"; return 1; fi
    grep -q -- "$needle" "$tmp/r.log" || { echo "    message: $(cat "$tmp/r.log")"; return 1; }
}
check "a private dev set is refused" refused "leaks" "${common[@]}" --dp-noise-multiplier 1 --dp-max-grad-norm 1
check "one DP option alone is refused" refused "needs both" "${common[@]}" --dp-noise-multiplier 1 --dp-dev-public
check "--dp-epsilon with --dp-noise-multiplier is refused" refused "not both" "${common[@]}" "${dp[@]}" --dp-epsilon 8
check "class weights are refused" refused "class weights" "${common[@]}" "${dp[@]}" --class-weights auto
check "class weights are refused for token classification too" refused "class weights" --task token-classification \
    --init "$tmp/init" --train "$tmp/ner-train.jsonl" --dev "$tmp/ner-dev.jsonl" "${dp[@]}" --class-weights auto
check "a private dev set is refused for question answering" refused "leaks" --task question-answering --init "$tmp/init" \
    --train "$tmp/qa-train.json" --dev "$tmp/qa-dev.json" --dp-noise-multiplier 1 --dp-max-grad-norm 1
check "an unknown sampling is refused" refused "poisson or shuffle" "${common[@]}" "${dp[@]}" --dp-sampling fixed

# Pretraining: one example is one sequence of the shards (prepare-pretraining's instances).
head -c 60000 data/spam/train.jsonl | "$py" -c '
import json, sys
for line in sys.stdin:
    try: print(json.loads(line)["text"] + "\n")
    except ValueError: pass' >"$tmp/pt.txt"
"$verto" prepare-pretraining --tokenizer "$tmp/init" -o "$tmp/shards" --max-seq-length 48 --dupe-factor 1 --seed 1 -q \
    "$tmp/pt.txt" >"$tmp/prep.log"
instances=$(grep -o '[0-9]* instances' "$tmp/prep.log" | grep -o '[0-9]*')
ptdp=(--init "$tmp/init" --data "$tmp/shards" --steps 3 --lr 1e-3 --log-every 1 --dp-noise-multiplier 1.1 --dp-max-grad-norm 0.5)
check "pretrain with DP-SGD (batch 4 x --grad-accum 2)" sh -c "'$verto' pretrain $(printf "'%s' " "${ptdp[@]}") \
    --batch-size 4 --grad-accum 2 -o '$tmp/pt' >'$tmp/pt.log' 2>&1"
check "the pretrained model is written" test -f "$tmp/pt/model.safetensors"
check "privacy.json: one sequence an example, its cover, epsilon = verto privacy's" "$py" - "$tmp/pt" "$instances" \
    "$("$verto" privacy --noise-multiplier 1.1 --sample-rate "$("$py" -c "print(repr(8 / $instances))")" --steps 3 \
       --delta "$("$py" -c "print(repr($instances ** -1.1))")" --json)" <<'PY'
import json, sys
d, n, ref = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
p = json.load(open(f"{d}/privacy.json"))
assert p["examples"] == n and p["expected_batch_size"] == 8 and p["steps"] == 3, p
assert abs(p["sample_rate"] - 8 / n) < 1e-15 and abs(p["delta"] - n ** -1.1) < 1e-15, p
assert p["unit"].startswith("one pretraining sequence") and "dupe-factor" in p["covers"], p
assert abs(p["epsilon"] - ref["epsilon"]) <= 1e-9 * ref["epsilon"], (p["epsilon"], ref["epsilon"])
steps = [json.loads(l) for l in open(f"{d}/metrics.jsonl") if '"eval"' not in l]
assert [s["dp_steps"] for s in steps] == [1, 2, 3] and all(s["epsilon"] > 0 for s in steps), steps
print(f"    {n} sequences, expected batch 8, epsilon {p['epsilon']:.4g}")
PY
# The fast path (the default) and --dp-exact on the same batch with noise 0 and no dropout: the same clipped
# gradient, read as the step's gradient norm (float32 sums in two orders: 1e-4 relative).
cp -r "$tmp/init" "$tmp/init0"
"$py" -c "
import json, sys; p = sys.argv[1]; c = json.load(open(p))
c['hidden_dropout_prob'] = c['attention_probs_dropout_prob'] = 0.0
json.dump(c, open(p, 'w'))" "$tmp/init0/config.json"
for path in fast exact; do
    flag=(); [ $path = exact ] && flag=(--dp-exact)
    "$verto" pretrain --init "$tmp/init0" --data "$tmp/shards" --steps 1 --batch-size 6 --log-every 1 \
        --dp-noise-multiplier 0 --dp-max-grad-norm 0.5 --dp-sampling shuffle "${flag[@]}" -o "$tmp/pt-$path" \
        >"$tmp/pt-$path.log" 2>&1 || cat "$tmp/pt-$path.log"
done
check "pretrain: the fast path's clipped gradient = --dp-exact's" "$py" - "$tmp/pt-fast" "$tmp/pt-exact" <<'PY'
import json, sys
norm = [json.loads(open(f"{d}/metrics.jsonl").readline())["grad_norm"] for d in sys.argv[1:]]
assert norm[1] > 0 and abs(norm[0] - norm[1]) <= 1e-4 * norm[1], norm
print(f"    gradient norm fast {norm[0]:.6g}, exact {norm[1]:.6g}")
PY
pt_refused() { # NEEDLE ARGS...: pretrain exits non-zero with a message naming NEEDLE
    local needle=$1; shift
    if "$verto" pretrain --init "$tmp/init" --data "$tmp/shards" --steps 1 "$@" -o "$tmp/pr" >"$tmp/pr.log" 2>&1; then
        echo "    accepted"; return 1
    fi
    grep -q -- "$needle" "$tmp/pr.log" || { echo "    message: $(cat "$tmp/pr.log")"; return 1; }
}
check "pretrain: one DP option alone is refused" pt_refused "needs both" --dp-noise-multiplier 1
check "pretrain: --dp-exact without DP-SGD is refused" pt_refused "dp-exact" --dp-exact
check "pretrain: an unknown sampling is refused" pt_refused "poisson or shuffle" --dp-noise-multiplier 1 \
    --dp-max-grad-norm 1 --dp-sampling fixed

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "dp cli: all checks passed"

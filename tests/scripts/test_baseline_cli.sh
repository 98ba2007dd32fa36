#!/usr/bin/env bash
# verto baseline through eval, predict and serve, against scikit-learn's
# figures in $VT_REF_DIR/baseline_*.json (tests/ref/gen_baseline.py):
#   - on the 3-class synthetic set and the multi-label one (run with the
#     reference's settings: min_df, its grid, tol 1e-10), the directory's
#     config.json records sklearn's chosen C; verto predict's probabilities
#     equal sklearn's predict_proba on dev within 1e-4 (both solvers at the
#     optimum; predict prints 8 digits; see tests/unit/test_baseline.c);
#     predict's labels are the argmax / those at or above the recorded
#     threshold; verto eval --json's accuracy / micro F1 is sklearn's dev
#     figure of the chosen C;
#   - on the spam sample: serve's /v1/classify equals verto predict, /v1/model
#     names verto-tfidf-lr and /v1/embed is refused with 400;
#   - bad input: no --dev, a label only in dev, texts without a word, a
#     spoilt directory: a non-zero status and a message saying what.
set -euo pipefail
build=${VT_BUILD:-build}
verto=$build/verto
ref=${VT_REF_DIR:-$build/ref}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
source "$(dirname "$0")/check.sh"
trap 'kill_server; rm -rf "$tmp"' EXIT

for case in topics multilabel; do
    echo "--- $case"
    task=sequence-classification
    [ "$case" = multilabel ] && task=multi-label
    "$verto" baseline --task "$task" --train "$ref/baseline_${case}_train.jsonl" --dev "$ref/baseline_${case}_dev.jsonl" \
        -o "$tmp/$case" --min-df 1 --c-grid 0.1,1,10,100,1000 --tol 1e-10 --max-iter 100000 >"$tmp/$case.log"
    "$verto" predict --model "$tmp/$case" --jsonl --input "$ref/baseline_${case}_dev.jsonl" >"$tmp/$case-pred.jsonl"
    "$verto" eval --model "$tmp/$case" --data "$ref/baseline_${case}_dev.jsonl" --json >"$tmp/$case-eval.json"
    check "$case: C, predict and eval equal scikit-learn's" "$py" - "$ref/baseline_$case.json" "$tmp/$case" \
        "$tmp/$case-pred.jsonl" "$tmp/$case-eval.json" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1])); config = json.load(open(sys.argv[2] + "/config.json"))
pred = [json.loads(l) for l in open(sys.argv[3])]; ev = json.load(open(sys.argv[4]))
assert config["C"] == ref["chosen_c"], (config["C"], ref["chosen_c"])
labels = ref["labels"]
assert [config["id2label"][str(k)] for k in range(len(labels))] == labels
diff = max(abs(p["probs"][l] - q) for p, row in zip(pred, ref["dev_probs"]) for l, q in zip(labels, row))
assert len(pred) == len(ref["dev_probs"]) and diff <= 1e-4, diff
best = ref["grid"].index(ref["chosen_c"])
if ref["multi_label"]:
    thr = config["multi_label_threshold"]
    assert abs(thr - ref["threshold"]) <= 1e-4
    for p in pred:
        assert p["labels"] == [l for l in labels if p["probs"][l] >= thr], p
    assert abs(ev["micro_f1"] - ref["dev_scores"][best]) <= 1e-9, (ev["micro_f1"], ref["dev_scores"][best])
else:
    for p in pred:
        assert p["label"] == max(labels, key=lambda l: p["probs"][l]), p
    assert abs(ev["accuracy"] - ref["dev_scores"][best]) <= 1e-12, (ev["accuracy"], ref["dev_scores"][best])
print(f"    C {config['C']}, predict within {diff:.3g} of predict_proba, eval {ref['dev_scores'][best]:.4f}")
PY
done

echo "--- spam: serve equals predict"
"$verto" baseline --train data/spam/train.jsonl --dev data/spam/dev.jsonl -o "$tmp/spam" --min-df 2 >"$tmp/spam.log"
head -n 5 data/spam/test.jsonl >"$tmp/five.jsonl"
"$verto" predict --model "$tmp/spam" --jsonl --input "$tmp/five.jsonl" >"$tmp/spam-pred.jsonl"
"$py" -c 'import json,sys; print(json.dumps({"inputs": [{"text": json.loads(l)["text"]} for l in open(sys.argv[1])]}))' \
    "$tmp/five.jsonl" >"$tmp/req.json"
start_server "$tmp/spam" "$tmp/server.log"
curl -s --data-binary @"$tmp/req.json" "http://127.0.0.1:$port/v1/classify" >"$tmp/served.json"
curl -s "http://127.0.0.1:$port/v1/model" >"$tmp/model.json"
embed_status=$(curl -s -o "$tmp/embed.json" -w '%{http_code}' --data '{"text": "hello"}' "http://127.0.0.1:$port/v1/embed")
stop_server
check "serve /v1/classify equals verto predict" "$py" -c '
import json, sys
served = json.load(open(sys.argv[1]))["results"]; want = [json.loads(l) for l in open(sys.argv[2])]
for s in served: assert s.pop("truncated") is False
assert served == want, (served, want)' "$tmp/served.json" "$tmp/spam-pred.jsonl"
check "serve /v1/model names the baseline and its labels" "$py" -c '
import json, sys; m = json.load(open(sys.argv[1]))
assert m["architecture"] == "verto-tfidf-lr" and m["task"] == "sequence-classification" and m["labels"] == ["ham", "spam"], m
assert m["endpoints"] == ["/v1/classify"], m' "$tmp/model.json"
check "serve /v1/embed is refused (400) saying why" bash -c '[ "$1" = 400 ] && grep -q "class scores only" "$2"' _ \
    "$embed_status" "$tmp/embed.json"

echo "--- bad input"
fails_with() { # fails_with NEEDLE COMMAND...: a non-zero status and NEEDLE in stderr
    local needle=$1; shift
    if "$@" >/dev/null 2>"$tmp/err"; then echo "    (succeeded)"; return 1; fi
    grep -qF -- "$needle" "$tmp/err" || { echo "    (said: $(cat "$tmp/err"))"; return 1; }
}
printf '{"text": "cheap pills now", "label": "spam"}\n{"text": "lunch at noon", "label": "ham"}\n' >"$tmp/train.jsonl"
printf '{"text": "cheap lunch", "label": "spam"}\n{"text": "free money", "label": "scam"}\n' >"$tmp/dev-new-label.jsonl"
printf '{"text": "", "label": "spam"}\n{"text": "! ? a", "label": "ham"}\n' >"$tmp/no-words.jsonl"
check "no --dev: an error asking for it" fails_with "needs --dev" "$verto" baseline --train "$tmp/train.jsonl" -o "$tmp/x"
check "a label only in dev: an error naming the dev file and line" fails_with "dev-new-label.jsonl:2" \
    "$verto" baseline --train "$tmp/train.jsonl" --dev "$tmp/dev-new-label.jsonl" -o "$tmp/x"
check "texts without a word: an error saying so" fails_with "empty vocabulary" \
    "$verto" baseline --train "$tmp/no-words.jsonl" --dev "$tmp/no-words.jsonl" -o "$tmp/x"
printf '{"text": "cheap pills", "text_b": "now", "label": "spam"}\n{"text": "lunch at noon", "label": "ham"}\n' >"$tmp/pairs.jsonl"
check "text pairs: refused" fails_with "not text pairs" "$verto" baseline --train "$tmp/pairs.jsonl" --dev "$tmp/pairs.jsonl" -o "$tmp/x"
cp -r "$tmp/spam" "$tmp/spoilt"
printf 'zzz\n' >"$tmp/spoilt/vocab.txt"
check "a spoilt directory: predict names the file" fails_with "vocab.txt" "$verto" predict --model "$tmp/spoilt" hello
check "--task regression: refused" fails_with "sequence-classification or multi-label" \
    "$verto" baseline --task regression --train "$tmp/train.jsonl" --dev "$tmp/train.jsonl" -o "$tmp/x"

if [ "$failures" -ne 0 ]; then echo "test_baseline_cli: $failures check(s) failed"; exit 1; fi
echo "test_baseline_cli: all checks passed"

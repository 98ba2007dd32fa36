#!/usr/bin/env bash
# Multi-label classification and regression through finetune, eval, predict
# and serve, against transformers and scikit-learn / SciPy.
#
# Data: e-mails of data/spam with labels derived from their bodies (multi-label:
# "url", "money", "exclaim" and "spam"; regression: the share of capital
# letters x 10), 96 training and 32 dev examples.
# For each task: verto finetune --task writes a directory whose config.json
# records problem_type; transformers loads it with
# AutoModelForSequenceClassification with no missing or unexpected keys, and
# its text-classification pipeline (sigmoid for multi-label, no function for
# regression) gives verto predict's probabilities / values within 1e-5 (the
# same fp32 model; texts truncated to the 64 tokens it was fine-tuned with);
# predict's labels are those at or above the threshold fine-tuning recorded;
# verto eval --json equals scikit-learn's (and SciPy's) figures computed on
# verto predict's outputs (1e-6: predict prints 8 significant digits; 1e-4
# for Pearson and Spearman, which magnify that rounding when a briefly trained
# model's predictions vary little); serve's /v1/classify equals predict.
set -euo pipefail
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
source "$(dirname "$0")/check.sh"
trap 'kill_server; rm -rf "$tmp"' EXIT

"$py" - "$tmp" <<'PY'
import json, re, sys
tmp = sys.argv[1]
def body(text):  # the e-mail's body, cut to a few hundred characters
    return text.split("\n\n", 1)[-1][:400]
def tags(t, label):
    out = [n for n, hit in (("url", re.search(r"https?://|www\.", t)), ("money", re.search(r"\$|money|free", t, re.I)),
                            ("exclaim", t.count("!") >= 2)) if hit]
    return out + (["spam"] if label == "spam" else [])
for split, n in (("train", 96), ("dev", 32)):
    rows = [json.loads(l) for l in open(f"data/spam/{split}.jsonl")][:n]
    with open(f"{tmp}/ml-{split}.jsonl", "w") as ml, open(f"{tmp}/rg-{split}.jsonl", "w") as rg:
        for r in rows:
            t = body(r["text"])
            ml.write(json.dumps({"text": t, "labels": tags(t, r["label"])}) + "\n")
            rg.write(json.dumps({"text": t, "label": round(10 * sum(c.isupper() for c in t) / max(1, len(t)), 4)}) + "\n")
    with open(f"{tmp}/{split}.txt", "w") as f:
        for r in rows:
            f.write(body(r["text"]).replace("\n", " ").replace("\r", " ") + "\n")
PY
"$verto" init --config tiny --tokenizer tests/data/tokenizer/uncased/vocab.txt -o "$tmp/init" >/dev/null

for task in multi-label regression; do
    echo "--- $task"
    data=$tmp/$([ "$task" = multi-label ] && echo ml || echo rg)
    check "$task: finetune" sh -c "'$verto' finetune --task $task --init '$tmp/init' --train '$data-train.jsonl' \
        --dev '$data-dev.jsonl' -o '$tmp/$task' --epochs 2 --batch-size 16 --lr 1e-3 --max-seq-length 64 >'$tmp/ft.log'"
    check "$task: predict" sh -c "'$verto' predict --model '$tmp/$task' --input '$tmp/dev.txt' >'$tmp/$task-pred.jsonl'"
    check "$task: eval --json" sh -c "'$verto' eval --model '$tmp/$task' --data '$data-dev.jsonl' --json >'$tmp/$task-eval.json'"
    check "$task: transformers loads it, its pipeline gives predict's outputs, eval's figures are sklearn's" \
        "$py" - "$task" "$tmp/$task" "$tmp/dev.txt" "$tmp/$task-pred.jsonl" "$data-dev.jsonl" "$tmp/$task-eval.json" <<'PY'
import json, sys
import numpy as np
import scipy.stats
import sklearn.metrics as skm
import transformers as tf
from transformers.utils import logging
logging.set_verbosity_error()
task, d, texts, preds, data, ev = sys.argv[1:7]
model, info = tf.AutoModelForSequenceClassification.from_pretrained(d, output_loading_info=True)
assert not any(info.values()), info
want_problem = {"multi-label": "multi_label_classification", "regression": "regression"}[task]
assert model.config.problem_type == want_problem, model.config.problem_type
print(f"    {type(model).__name__}, problem_type {model.config.problem_type}, no missing or unexpected keys")
lines = open(texts).read().split("\n")[:-1]
got = [json.loads(l) for l in open(preds)]
rows = [json.loads(l) for l in open(data)]
clf = tf.pipeline("text-classification", model=d, top_k=None,
                  function_to_apply="sigmoid" if task == "multi-label" else "none")
out = clf(lines, truncation=True, max_length=64)
report = json.load(open(ev))
if task == "multi-label":
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    want = np.array([[{r["label"]: r["score"] for r in o}[n] for n in names] for o in out])
    have = np.array([[g["probs"][n] for n in names] for g in got])
    threshold = json.load(open(d + "/tokenizer_config.json"))["multi_label_threshold"]
    for g, p in zip(got, have):
        assert g["labels"] == [n for n, x in zip(names, p) if x >= threshold], (g, threshold)
    y = np.array([[n in r["labels"] for n in names] for r in rows], dtype=int)
    pred = (have >= threshold).astype(int)
    ref = {"micro_f1": skm.f1_score(y, pred, average="micro", zero_division=0),
           "macro_f1": skm.f1_score(y, pred, average="macro", zero_division=0),
           "samples_f1": skm.f1_score(y, pred, average="samples", zero_division=0),
           "subset_accuracy": skm.accuracy_score(y, pred), "hamming_loss": skm.hamming_loss(y, pred)}
else:
    want = np.array([[o[0]["score"]] for o in out])
    have = np.array([[g["score"]] for g in got])
    y = np.array([r["label"] for r in rows])
    p = have[:, 0]
    ref = {"mse": skm.mean_squared_error(y, p), "mae": skm.mean_absolute_error(y, p), "r2": skm.r2_score(y, p),
           "pearson": scipy.stats.pearsonr(y, p)[0], "spearman": scipy.stats.spearmanr(y, p)[0]}
diff = np.abs(have - want).max()
print(f"    predict: max |verto - pipeline| = {diff:.3g} over {have.size} outputs")
assert len(got) == len(lines) and diff <= 1e-5
for k, v in ref.items():  # correlations of near-constant predictions magnify predict's 8-digit rounding
    assert abs(report[k] - v) <= (1e-4 if k in ("pearson", "spearman") else 1e-6), (k, report[k], v)
print("    eval: " + ", ".join(f"{k} {report[k]:.4f} (sklearn {v:.4f})" for k, v in ref.items()))
PY
done

echo "--- serve (multi-label)"
start_server "$tmp/multi-label" "$tmp/server.log"
head -n 3 "$tmp/dev.txt" | "$py" -c 'import json,sys; print(json.dumps({"inputs": [{"text": t} for t in sys.stdin.read().split("\n")[:-1]]}))' \
    >"$tmp/req.json"
curl -s --data-binary @"$tmp/req.json" "http://127.0.0.1:$port/v1/classify" >"$tmp/served.json"
curl -s "http://127.0.0.1:$port/v1/model" >"$tmp/model.json"
stop_server
check "serve /v1/model says multi-label with the recorded threshold" "$py" -c '
import json, sys; m = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
assert m["task"] == "multi-label" and m["threshold"] == t["multi_label_threshold"], m' \
    "$tmp/model.json" "$tmp/multi-label/tokenizer_config.json"
check "serve /v1/classify equals verto predict" "$py" -c '
import json, sys
served = json.load(open(sys.argv[1]))["results"]; want = [json.loads(l) for l in open(sys.argv[2])][:3]
for s in served: assert s.pop("truncated") in (True, False)
assert served == want, (served, want)' "$tmp/served.json" "$tmp/multi-label-pred.jsonl"

if [ "$failures" -ne 0 ]; then echo "test_tasks_cli: $failures check(s) failed"; exit 1; fi
echo "test_tasks_cli: all checks passed"

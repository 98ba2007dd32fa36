#!/usr/bin/env bash
# verto predict and verto eval against transformers and scikit-learn, and their
# handling of bad input.
#
# Two randomly initialised BertForSequenceClassification directories are made
# with transformers (2 labels ham/spam; 3 labels neg/neutral/pos, used with
# text pairs), initializer_range 0.3 so that the probabilities are far from
# uniform. verto predict's probabilities must match transformers' (same
# tokenizer settings, truncation to the 64 positions) to 1e-4, in input order,
# with batches of 3; verto eval --json must report scikit-learn's accuracy,
# macro / micro F1, per-class P/R/F1/support, confusion matrix and ROC-AUC of
# the transformers predictions. Malformed data must fail naming FILE:LINE
# with nothing on stdout, or be skipped and counted with --skip-bad-rows.
set -euo pipefail
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

# ---- models, inputs and the reference outputs ----
"$py" - "$tmp" <<'PY'
import json, shutil, sys
from pathlib import Path
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast
from transformers.utils import logging
logging.set_verbosity_error()

tmp = Path(sys.argv[1])
vocab = "tests/data/tokenizer/uncased/vocab.txt"
tok = BertTokenizerFast(vocab, do_lower_case=True)

def make(name, labels, seed):
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, num_labels=len(labels),
                     id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
                     initializer_range=0.3)
    model = BertForSequenceClassification(cfg).eval()
    d = tmp / name
    model.save_pretrained(d)
    tok.save_pretrained(d)
    shutil.copy(vocab, d / "vocab.txt")
    return model

def probs(model, a, b=None):
    enc = tok(a, b, truncation=True, max_length=64, padding=True, return_tensors="pt")
    with torch.no_grad():
        return torch.softmax(model(**enc).logits.double(), -1).tolist()

m2 = make("m2", ["ham", "spam"], 1)
m3 = make("m3", ["neg", "neutral", "pos"], 2)
words = "free money offer meeting tomorrow project report click now winner lunch the a of".split()
g = torch.Generator().manual_seed(3)
def sentence(n):
    return " ".join(words[i] for i in torch.randint(0, len(words), (n,), generator=g).tolist())

texts = [sentence(int(k)) for k in torch.randint(1, 12, (23,), generator=g)]
texts[4] = ""                                   # an empty line
texts[7] = sentence(150)                        # truncated to 64 tokens
texts[9] = "Caf\u00e9 na\u00efve \u201cquoted\u201d \u00e9t\u00e9 \u4e2d\u6587 \U0001F600!"
(tmp / "plain.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
json.dump(probs(m2, texts), open(tmp / "ref_plain.json", "w"))

pairs_a = [sentence(int(k)) for k in torch.randint(1, 10, (11,), generator=g)]
pairs_b = [sentence(int(k)) for k in torch.randint(1, 10, (11,), generator=g)]
pairs_b[3] = sentence(120)                      # longest-first truncation of B
pairs_a[5] = sentence(90)
ref_pairs = probs(m3, pairs_a, pairs_b)
with open(tmp / "pairs.jsonl", "w") as f:
    for a, b in zip(pairs_a, pairs_b):
        f.write(json.dumps({"text": a, "text_b": b}) + "\n")
json.dump(ref_pairs, open(tmp / "ref_pairs.json", "w"))

# labelled sets: the 2-label one as JSONL (labels drawn at random), the 3-label one as CSV with pairs
lab2 = [["ham", "spam"][i] for i in torch.randint(0, 2, (len(texts),), generator=g).tolist()]
with open(tmp / "eval2.jsonl", "w") as f:
    for t, l in zip(texts, lab2):
        f.write(json.dumps({"text": t, "label": l, "id": 0}) + "\n")
lab3 = [["neg", "neutral", "pos"][i] for i in torch.randint(0, 3, (len(pairs_a),), generator=g).tolist()]
import csv
with open(tmp / "eval3.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["premise", "hypothesis", "gold"])
    for a, b, l in zip(pairs_a, pairs_b, lab3):
        w.writerow([a, b, l])
json.dump({"eval2": [["ham", "spam"].index(l) for l in lab2], "eval3": [["neg", "neutral", "pos"].index(l) for l in lab3]},
          open(tmp / "truth.json", "w"))
PY

# ---- predict ----
"$verto" predict --model "$tmp/m2" --input "$tmp/plain.txt" --batch-size 3 >"$tmp/out_plain.jsonl"
"$verto" predict --model "$tmp/m3" --jsonl --batch-size 4 <"$tmp/pairs.jsonl" >"$tmp/out_pairs.jsonl"
"$verto" predict --model "$tmp/m2" "first text" "second one" >"$tmp/out_args.jsonl"
# the README's C example (examples/classify.c) labels texts as verto predict does
"$build/examples/classify" "$tmp/m2" "first text" "second one" >"$tmp/example.tsv"
check "examples/classify prints verto predict's labels and scores" "$py" - "$tmp/out_args.jsonl" "$tmp/example.tsv" <<'PY'
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
assert len(got) == len(want) == 2, (got, want)
for (label, score, text), w in zip(got, want):
    assert label == w["label"] and abs(float(score) - float(w["score"])) < 1e-4, (label, score, w)
PY
compare_predict() { # output, reference, label names (comma-separated)
    "$py" - "$@" <<'PY'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])]
ref = json.load(open(sys.argv[2]))
names = sys.argv[3].split(",")
assert len(out) == len(ref), f"{len(out)} outputs for {len(ref)} inputs"
worst = 0.0
for i, (o, r) in enumerate(zip(out, ref)):
    assert list(o["probs"]) == names, o
    got = [o["probs"][n] for n in names]
    worst = max(worst, max(abs(a - b) for a, b in zip(got, r)))
    best = max(range(len(r)), key=lambda k: r[k])
    if abs(sorted(r)[-1] - sorted(r)[-2]) > 1e-4:
        assert o["label"] == names[best], (i, o, r)
    assert abs(o["score"] - o["probs"][o["label"]]) < 1e-12
print(f"    {len(out)} lines, max |p - p_transformers| = {worst:.2e}")
sys.exit(0 if worst <= 1e-4 else 1)
PY
}
check "predict: plain lines match transformers (batches of 3, in order)" compare_predict "$tmp/out_plain.jsonl" "$tmp/ref_plain.json" ham,spam
check "predict --jsonl: text pairs match transformers" compare_predict "$tmp/out_pairs.jsonl" "$tmp/ref_pairs.json" neg,neutral,pos
check "predict: TEXT arguments give one line each" test "$(wc -l <"$tmp/out_args.jsonl")" -eq 2

# ---- eval ----
"$verto" eval --model "$tmp/m2" --data "$tmp/eval2.jsonl" --json >"$tmp/eval2.json"
"$verto" eval --model "$tmp/m3" --data "$tmp/eval3.csv" --text-column premise --text-b-column hypothesis \
    --label-column gold --json --batch-size 5 >"$tmp/eval3.json"
"$verto" eval --model "$tmp/m2" --data "$tmp/eval2.jsonl" >"$tmp/eval2.txt"
compare_eval() { # verto json, reference probabilities, case, K
    "$py" - "$tmp" "$@" <<'PY'
import json, sys
import numpy as np
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support,
                             roc_auc_score)
tmp, got_path, ref_path, case, k = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
got = json.load(open(got_path))
probs = np.array(json.load(open(ref_path)))
y = np.array(json.load(open(f"{tmp}/truth.json"))[case])
pred = probs.argmax(1)
labels = list(range(k))
want = {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro", zero_division=0),
        "micro_f1": f1_score(y, pred, average="micro", zero_division=0)}
for key, v in want.items():
    assert abs(got[key] - v) < 1e-9, (key, got[key], v)
p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
for i, name in enumerate(got["labels"]):
    pc = got["per_class"][name]
    assert abs(pc["precision"] - p[i]) < 1e-9 and abs(pc["recall"] - r[i]) < 1e-9 and abs(pc["f1"] - f[i]) < 1e-9, name
    assert pc["support"] == s[i], name
assert got["confusion_matrix"] == confusion_matrix(y, pred, labels=labels).tolist(), got["confusion_matrix"]
if k == 2:
    auc = roc_auc_score(y, probs[:, 1])
    assert abs(got["roc_auc"] - auc) < 1e-6, (got["roc_auc"], auc)
else:
    assert got["roc_auc"] is None
print(f"    accuracy {got['accuracy']:.4f}, macro F1 {got['macro_f1']:.4f}, ROC-AUC {got['roc_auc']}: as scikit-learn")
PY
}
check "eval --json (JSONL, 2 labels) agrees with scikit-learn on transformers' predictions" \
    compare_eval "$tmp/eval2.json" "$tmp/ref_plain.json" eval2 2
check "eval --json (CSV pairs, named columns, 3 labels) agrees with scikit-learn" \
    compare_eval "$tmp/eval3.json" "$tmp/ref_pairs.json" eval3 3
cat "$tmp/eval2.txt"
check "eval table shows accuracy, per-class rows, confusion matrix and ROC-AUC" \
    grep -q "ROC-AUC (spam vs. ham)" "$tmp/eval2.txt"
check "eval table has macro and micro rows" grep -q "^micro avg" "$tmp/eval2.txt"

# ---- bad input: FILE:LINE errors, nothing on stdout ----
fails_with() { # description, expected stderr text, command... (stdin from $stdin_file if set)
    local what=$1 want=$2; shift 2
    local rc=0
    "$@" <"${stdin_file:-/dev/null}" >"$tmp/bad.out" 2>"$tmp/bad.err" || rc=$?
    if [ "$rc" -ne 0 ] && grep -qF -- "$want" "$tmp/bad.err" && [ ! -s "$tmp/bad.out" ]; then
        echo "  ok: $what: $(cat "$tmp/bad.err")"
    else
        echo "  FAILED: $what (exit $rc; stderr: $(cat "$tmp/bad.err"); stdout $(wc -c <"$tmp/bad.out") bytes; wanted '$want')"
        failures=$((failures + 1))
    fi
}
printf 'text,label\nfine,ham\nthree,fields,spam\nok,spam\n' >"$tmp/cols.csv"
printf 'text,label\nfine,ham\n"never closed,spam\nmore\n' >"$tmp/quote.csv"
printf 'text\tlabel\nfine\tham\nbad \xff byte\tspam\n' >"$tmp/utf8.tsv"
printf '{"text": "a", "label": "ham"}\n{"text": "b", "label": \n' >"$tmp/json.jsonl"
printf '{"text": "a", "label": "ham"}\n{"label": "spam"}\n' >"$tmp/notext.jsonl"
printf '{"text": "a", "label": "ham"}\n{"text": "b"}\n' >"$tmp/nolabel.jsonl"
printf 'text,label\na,ham\nb,eggs\n' >"$tmp/unknown.csv"
: >"$tmp/empty.csv"
fails_with "wrong column count" "cols.csv:3: 3 fields, but the header has 2" "$verto" eval --model "$tmp/m2" --data "$tmp/cols.csv"
fails_with "unterminated quote" "quote.csv:3: unterminated quoted field" "$verto" eval --model "$tmp/m2" --data "$tmp/quote.csv"
fails_with "invalid UTF-8" "utf8.tsv:3: invalid UTF-8" "$verto" eval --model "$tmp/m2" --data "$tmp/utf8.tsv"
fails_with "invalid JSON" "json.jsonl:2: invalid JSON" "$verto" eval --model "$tmp/m2" --data "$tmp/json.jsonl" --json
fails_with "missing text" "notext.jsonl:2: no \"text\" field" "$verto" eval --model "$tmp/m2" --data "$tmp/notext.jsonl"
fails_with "missing label" "nolabel.jsonl:2: no \"label\" field" "$verto" eval --model "$tmp/m2" --data "$tmp/nolabel.jsonl"
fails_with "label unknown to the model" "unknown.csv:3: label 'eggs' is not in the label map" "$verto" eval --model "$tmp/m2" --data "$tmp/unknown.csv"
fails_with "empty file" "empty.csv:1: no header row" "$verto" eval --model "$tmp/m2" --data "$tmp/empty.csv"
fails_with "unknown extension" "cannot tell the format" "$verto" eval --model "$tmp/m2" --data "$tmp/plain.txt"
stdin_file="$tmp/json.jsonl" fails_with "predict --jsonl: invalid JSON on stdin" "stdin:2: invalid JSON" \
    "$verto" predict --model "$tmp/m2" --jsonl
fails_with "predict --jsonl: missing text" "notext.jsonl:2: no \"text\" field" "$verto" predict --model "$tmp/m2" --jsonl --input "$tmp/notext.jsonl"
fails_with "predict: missing model" "config.json" "$verto" predict --model "$tmp/nothing" "text"
"$verto" init --config tiny --vocab tests/data/tokenizer/uncased/vocab.txt -o "$tmp/pretrain" >/dev/null
fails_with "predict: a pretraining checkpoint has no classifier" "has no trained classifier" "$verto" predict --model "$tmp/pretrain" "text"

# --skip-bad-rows: the good rows are evaluated and the bad ones counted
"$verto" eval --model "$tmp/m2" --data "$tmp/cols.csv" --skip-bad-rows --json >"$tmp/skip.json" 2>"$tmp/skip.err"
cat "$tmp/skip.err"
check "--skip-bad-rows counts the bad row on stderr" grep -q "skipped 1 malformed rows" "$tmp/skip.err"
check "--skip-bad-rows names it" grep -q "cols.csv:3:" "$tmp/skip.err"
check "--skip-bad-rows evaluates the 2 good rows" "$py" -c "import json,sys; sys.exit(json.load(open('$tmp/skip.json'))['per_class']['ham']['support'] + json.load(open('$tmp/skip.json'))['per_class']['spam']['support'] != 2)"
[ "$failures" -eq 0 ]

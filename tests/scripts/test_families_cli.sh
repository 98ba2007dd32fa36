#!/usr/bin/env bash
# RoBERTa, XLM-RoBERTa and DistilBERT through every verb that takes --model,
# against transformers, with BERT's WordPiece tokenizer (the families' own
# byte-level BPE / Unigram tokenizers are not verto's yet).
#
# 1. transformers -> verto: random RobertaFor*, XLMRobertaFor*, DistilBertFor*
#    (sequence classifier with 3 labels, masked LM; pad_token_id 0 = [PAD],
#    initializer_range 0.3 so that outputs are far from uniform) written by
#    save_pretrained with a BertTokenizerFast. verto summary's total equals
#    PyTorch's parameter count; verto predict's probabilities, verto embed
#    --pooling mean and verto fill-mask's top 5 equal transformers' to 1e-4
#    (texts truncated to the 64 tokens the models hold).
# 2. verto -> transformers, the CLI end to end for distilbert-tiny and
#    roberta-tiny (xlm-roberta-tiny: init only): init, prepare-pretraining
#    --objective mlm, pretrain (MLM alone) a few steps, finetune a few steps,
#    eval, predict; transformers loads init's and pretrain's directories with
#    AutoModelForMaskedLM and finetune's with
#    AutoModelForSequenceClassification with no missing or unexpected keys,
#    and gives verto predict's probabilities; summary totals equal PyTorch's.
# 3. verto serve on the fine-tuned RoBERTa: /v1/classify equals verto predict.
set -euo pipefail
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
vocab=tests/data/tokenizer/uncased/vocab.txt
tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
check() { # description, command...
    local what=$1; shift
    if "$@"; then echo "  ok: $what"; else echo "  FAILED: $what"; failures=$((failures + 1)); fi
}

# "Total params: N" of verto summary equals the number in FILE.
summary_total_is() { # dir, file with PyTorch's count
    local got want
    got=$("$verto" summary --model "$1" | sed -n 's/^Total params: //p' | tr -d ,)
    want=$(cat "$2")
    [ "$got" = "$want" ] || { echo "    verto summary of $1: $got parameters, PyTorch $want"; return 1; }
}

# Largest |a - b| over two JSON files of nested number lists (or fill-mask answers), under 1e-4.
close() { # what, verto's file, transformers' file
    "$py" - "$@" <<'PY'
import json, sys
what, a, b = sys.argv[1:4]
def load(p):
    text = open(p).read().strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(l) for l in text.split("\n")]
def flat(x):
    if isinstance(x, dict):
        if "probs" in x: return flat(list(x["probs"].values()))
        if "token" in x: return [float(x["token"]), float(x["score"])]
        return [v for k in sorted(x) for v in flat(x[k])]
    if isinstance(x, list): return [v for e in x for v in flat(e)]
    return [float(x)]
fa, fb = flat(load(a)), flat(load(b))
if len(fa) != len(fb):
    sys.exit(f"    {what}: verto gave {len(fa)} numbers, transformers {len(fb)}")
d = max(abs(x - y) for x, y in zip(fa, fb))
print(f"    {what}: max |verto - transformers| = {d:.3g} over {len(fa)} numbers")
sys.exit(0 if d <= 1e-4 else 1)
PY
}

# ---- 1. directories written by transformers ----
cat >"$tmp/texts.txt" <<'EOF'
the meeting is tomorrow at noon
free money click now to claim your prize winner
a
Café naïve “quoted” text with numbers 12 345 and a very long tail of words that goes on and on and on and on and on and on and on and on and on and on and on and on and on and on and on past sixty four tokens for sure
report on the project
EOF
cat >"$tmp/masked.txt" <<'EOF'
the [MASK] is tomorrow
free [MASK] click [MASK] now
EOF
"$py" - "$tmp" "$vocab" <<'PY'
import json, shutil, sys
from pathlib import Path
import torch
import transformers as tf
from transformers.utils import logging
logging.set_verbosity_error()
tmp, vocab = Path(sys.argv[1]), sys.argv[2]
tok = tf.BertTokenizerFast(vocab, do_lower_case=True)
texts = open(tmp / "texts.txt").read().split("\n")[:-1]
masked = open(tmp / "masked.txt").read().split("\n")[:-1]
labels = ["neg", "neutral", "pos"]
common = dict(vocab_size=tok.vocab_size, pad_token_id=0, initializer_range=0.3, num_labels=3,
              id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
families = {
    "roberta": (tf.RobertaConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=80,
                                 max_position_embeddings=65, type_vocab_size=1, layer_norm_eps=1e-5, **common),
                tf.RobertaForSequenceClassification, tf.RobertaForMaskedLM),
    "xlm-roberta": (tf.XLMRobertaConfig(hidden_size=36, num_hidden_layers=1, num_attention_heads=3,
                                        intermediate_size=70, max_position_embeddings=65, type_vocab_size=1,
                                        hidden_act="gelu_new", **common),
                    tf.XLMRobertaForSequenceClassification, tf.XLMRobertaForMaskedLM),
    "distilbert": (tf.DistilBertConfig(dim=40, n_layers=2, n_heads=5, hidden_dim=72, max_position_embeddings=64,
                                       **common),
                   tf.DistilBertForSequenceClassification, tf.DistilBertForMaskedLM),
}
def encode(batch):
    return tok(batch, truncation=True, max_length=64, padding=True, return_tensors="pt", return_token_type_ids=False)
for seed, (name, (cfg, cls_class, mlm_class)) in enumerate(families.items()):
    for kind, klass in (("cls", cls_class), ("mlm", mlm_class)):
        torch.manual_seed(10 + seed)
        model = klass(cfg).eval()
        d = tmp / f"hf-{name}-{kind}"
        model.save_pretrained(d)
        tok.save_pretrained(d)
        shutil.copy(vocab, d / "vocab.txt")
        (tmp / f"hf-{name}-{kind}.params").write_text(str(sum(p.numel() for p in model.parameters())))
        with torch.no_grad():
            if kind == "cls":
                probs = [torch.softmax(model(**encode([t])).logits.double(), -1)[0].tolist() for t in texts]
                json.dump(probs, open(tmp / f"ref-{name}-probs.json", "w"))
                means = [model.base_model(**encode([t])).last_hidden_state[0].double().mean(0).tolist() for t in texts]
                json.dump(means, open(tmp / f"ref-{name}-embed.json", "w"))
            else:
                answers = []
                for t in masked:
                    enc = encode([t])
                    p = torch.softmax(model(**enc).logits[0].double(), -1)
                    rows = (enc["input_ids"][0] == tok.mask_token_id).nonzero().flatten().tolist()
                    answers.append([[{"token": i, "score": s} for s, i in zip(*[v.tolist() for v in p[r].topk(5)])]
                                    for r in rows])
                json.dump(answers, open(tmp / f"ref-{name}-fill.json", "w"))
PY
for fam in roberta xlm-roberta distilbert; do
    echo "--- $fam (from transformers)"
    check "$fam summary: PyTorch's parameter count (classifier)" summary_total_is "$tmp/hf-$fam-cls" "$tmp/hf-$fam-cls.params"
    check "$fam summary: PyTorch's parameter count (masked LM)" summary_total_is "$tmp/hf-$fam-mlm" "$tmp/hf-$fam-mlm.params"
    "$verto" predict --model "$tmp/hf-$fam-cls" --batch-size 2 --input "$tmp/texts.txt" >"$tmp/$fam-probs.jsonl"
    check "$fam predict: transformers' probabilities" close "$fam predict" "$tmp/$fam-probs.jsonl" "$tmp/ref-$fam-probs.json"
    "$verto" embed --model "$tmp/hf-$fam-cls" --pooling mean --input "$tmp/texts.txt" >"$tmp/$fam-embed.txt"
    check "$fam embed --pooling mean: transformers' mean hidden state" \
        close "$fam embed" "$tmp/$fam-embed.txt" "$tmp/ref-$fam-embed.json"
    "$verto" fill-mask --model "$tmp/hf-$fam-mlm" --input "$tmp/masked.txt" >"$tmp/$fam-fill.jsonl"
    check "$fam fill-mask: transformers' top 5 ids and scores" \
        close "$fam fill-mask" "$tmp/$fam-fill.jsonl" "$tmp/ref-$fam-fill.json"
done

# ---- 2. verto's own: init -> pretrain (MLM alone) -> finetune -> eval -> predict ----
head -n 48 data/spam/train.jsonl >"$tmp/train.jsonl"
head -n 16 data/spam/dev.jsonl >"$tmp/dev.jsonl"
"$verto" prepare-pretraining --objective mlm --vocab "$vocab" --max-seq-length 64 -q -o "$tmp/mlm" \
    tests/data/pretrain/sotu_sample.txt >/dev/null
"$verto" prepare-pretraining --vocab "$vocab" --max-seq-length 64 --dupe-factor 1 -q -o "$tmp/pairs" \
    tests/data/pretrain/sotu_sample.txt >/dev/null
check "prepare-pretraining --objective mlm: the manifest says so, dynamic masking" "$py" -c '
import json, sys; m = json.load(open(sys.argv[1]))
assert m["objective"] == "mlm" and m["masking"] == "dynamic", m' "$tmp/mlm/manifest.json"
check "xlm-roberta-tiny: init" "$verto" init --config xlm-roberta-tiny --vocab "$vocab" -o "$tmp/xlm-roberta-tiny"
for fam in distilbert roberta; do
    echo "--- $fam-tiny (verto's)"
    d=$tmp/$fam-tiny
    check "$fam-tiny: init" "$verto" init --config "$fam-tiny" --vocab "$vocab" -o "$d"
    if "$verto" pretrain --init "$d" --data "$tmp/pairs" -o "$tmp/$fam-nsp" --steps 1 2>"$tmp/err.txt"; then
        echo "  FAILED: $fam pretrain on sentence pairs was accepted"; failures=$((failures + 1))
    else
        check "$fam pretrain on sentence pairs: refused, naming --objective mlm" grep -q -- "--objective mlm" "$tmp/err.txt"
    fi
    check "$fam-tiny: pretrain, the masked LM alone" "$verto" pretrain --init "$d" --data "$tmp/mlm" \
        --eval-data "$tmp/mlm" --eval-batches 1 -o "$tmp/$fam-pt" --steps 3 --batch-size 8 --lr 1e-3
    check "$fam-tiny: pretrain's metrics have no NSP accuracy" "$py" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ev = [r for r in rows if "mlm_loss" in r]
assert ev and not any("nsp_accuracy" in r for r in rows), rows[-2:]' "$tmp/$fam-pt/metrics.jsonl"
    check "$fam-tiny: finetune" "$verto" finetune --init "$tmp/$fam-pt" --train "$tmp/train.jsonl" \
        --dev "$tmp/dev.jsonl" -o "$tmp/$fam-ft" --epochs 1 --batch-size 8 --lr 1e-3 --max-seq-length 64
    check "$fam-tiny: eval --json" sh -c "'$verto' eval --model '$tmp/$fam-ft' --data '$tmp/dev.jsonl' --json \
        >'$tmp/$fam-eval.json'"
    check "$fam-tiny: eval reports accuracy and macro F1" "$py" -c '
import json, sys; r = json.load(open(sys.argv[1])); assert 0 <= r["accuracy"] <= 1 and "macro_f1" in r, r' \
        "$tmp/$fam-eval.json"
    "$py" -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)["text"].replace("\n", " ").replace("\r", " ")[:400])' \
        "$tmp/dev.jsonl" >"$tmp/dev.txt"
    check "$fam-tiny: predict" sh -c "'$verto' predict --model '$tmp/$fam-ft' --input '$tmp/dev.txt' >'$tmp/$fam-pred.jsonl'"
    check "$fam-tiny: transformers loads init, pretrain and finetune cleanly and predicts as verto" \
        "$py" - "$d" "$tmp/$fam-pt" "$tmp/$fam-ft" "$tmp/dev.txt" "$tmp/$fam-pred.jsonl" <<'PY'
import json, sys
import torch
import transformers as tf
from transformers.utils import logging
logging.set_verbosity_error()
init, pt, ft, texts, preds = sys.argv[1:6]
for d, auto in ((init, tf.AutoModelForMaskedLM), (pt, tf.AutoModelForMaskedLM), (ft, tf.AutoModelForSequenceClassification)):
    model, info = auto.from_pretrained(d, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, (d, bad)
    print(f"    {d}: {type(model).__name__}, no missing or unexpected keys")
tok = tf.AutoTokenizer.from_pretrained(ft)
model.eval()
want = []
for t in open(texts).read().split("\n")[:-1]:
    enc = tok([t], truncation=True, max_length=64, return_tensors="pt", return_token_type_ids=False)
    with torch.no_grad():
        want.append(torch.softmax(model(**enc).logits.double(), -1)[0].tolist())
got = [list(json.loads(l)["probs"].values()) for l in open(preds)]
d = max(abs(a - b) for g, w in zip(got, want) for a, b in zip(g, w))
print(f"    predict: max |verto - transformers| = {d:.3g} over {len(got)} texts")
assert len(got) == len(want) and d <= 1e-4
PY
    "$py" -c 'import sys, json, transformers as tf
from transformers.utils import logging; logging.set_verbosity_error()
arch = json.load(open(sys.argv[1] + "/config.json"))["architectures"][0]
print(sum(p.numel() for p in getattr(tf, arch).from_pretrained(sys.argv[1]).parameters()))' "$tmp/$fam-ft" \
        >"$tmp/$fam-ft.params"
    check "$fam-tiny summary: PyTorch's parameter count (fine-tuned)" summary_total_is "$tmp/$fam-ft" "$tmp/$fam-ft.params"
done

# ---- 3. verto serve on the fine-tuned RoBERTa ----
echo "--- serve"
model=$tmp/roberta-ft
"$verto" serve --model "$model" --port 0 2>"$tmp/server.log" &
server_pid=$!
port=
for _ in $(seq 1 200); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/server.log" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && curl -s -o /dev/null "http://127.0.0.1:$port/healthz" -w '%{http_code}' | grep -q 200 && break
    kill -0 "$server_pid" 2>/dev/null || { echo "error: verto serve exited:"; cat "$tmp/server.log"; exit 1; }
    sleep 0.1
done
head -n 1 "$tmp/dev.txt" | "$py" -c 'import json,sys; print(json.dumps({"text": sys.stdin.read().rstrip("\n")}))' \
    >"$tmp/req.json"
curl -s --data-binary @"$tmp/req.json" "http://127.0.0.1:$port/v1/classify" >"$tmp/served.json"
curl -s "http://127.0.0.1:$port/v1/model" >"$tmp/model.json"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=
check "serve /v1/model names RobertaForSequenceClassification" grep -q RobertaForSequenceClassification "$tmp/model.json"
check "serve /v1/classify equals verto predict" "$py" -c '
import json, sys
served = json.load(open(sys.argv[1])); want = json.loads(open(sys.argv[2]).readline())
d = max(abs(served["probs"][k] - want["probs"][k]) for k in want["probs"])
print(f"    /v1/classify: max |serve - predict| = {d:.3g}")
assert served["label"] == want["label"] and d <= 1e-6, (served, want)' "$tmp/served.json" "$tmp/roberta-pred.jsonl"

if [ "$failures" -ne 0 ]; then echo "test_families_cli: $failures check(s) failed"; exit 1; fi
echo "test_families_cli: all checks passed"

#!/usr/bin/env bash
# RoBERTa, XLM-RoBERTa and DistilBERT, each with its own tokenizer (a
# byte-level BPE trained by tokenizers, a sentencepiece Unigram converted by
# transformers, BERT's WordPiece), through every verb that takes --model,
# against transformers.
#
# 1. transformers -> verto: random RobertaFor*, XLMRobertaFor*, DistilBertFor*
#    (sequence classifier with 3 labels, masked LM; initializer_range 0.3 so
#    that outputs are far from uniform) written by save_pretrained with the
#    family's tokenizer (tokenizer.json and tokenizer_config.json only, as
#    transformers 5 saves them). verto summary's total equals PyTorch's
#    parameter count; verto predict's probabilities (texts and pairs) equal
#    the text-classification pipeline's, verto fill-mask's top 5 the
#    fill-mask pipeline's and verto embed --pooling mean the mean hidden
#    state, within 1e-5 (fp32 throughout; texts truncated to the 64 tokens
#    the models hold); verto tokenize --json gives the tokenizer's ids and
#    offsets.
# 2. verto -> transformers, the CLI end to end for each family (init from
#    the family's tokenizer: a model directory for RoBERTa, a bare
#    tokenizer.json for XLM-RoBERTa, vocab.txt for DistilBERT): init,
#    prepare-pretraining --objective mlm, pretrain (MLM alone) a few steps,
#    finetune a few steps, eval, predict; transformers loads init's and
#    pretrain's directories with AutoModelForMaskedLM and finetune's with
#    AutoModelForSequenceClassification with no missing or unexpected keys,
#    AutoTokenizer gives verto tokenize's ids, and the model verto predict's
#    probabilities; summary totals equal PyTorch's.
# 3. verto serve on the fine-tuned RoBERTa: /v1/classify equals verto predict.
set -euo pipefail
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
vocab=tests/data/tokenizer/uncased/vocab.txt
tmp=$(mktemp -d)
source "$(dirname "$0")/check.sh"
trap 'kill_server; rm -rf "$tmp"' EXIT

# "Total params: N" of verto summary equals the number in FILE.
summary_total_is() { # dir, file with PyTorch's count
    local got want
    got=$("$verto" summary --model "$1" | sed -n 's/^Total params: //p' | tr -d ,)
    want=$(cat "$2")
    [ "$got" = "$want" ] || { echo "    verto summary of $1: $got parameters, PyTorch $want"; return 1; }
}

# Largest |a - b| over two JSON files of nested number lists (or fill-mask answers), under 1e-5:
# the same fp32 computation in another order differs by a few 1e-7.
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
sys.exit(0 if d <= 1e-5 else 1)
PY
}

# ---- 1. directories written by transformers ----
cat >"$tmp/texts.txt" <<'EOF'
the meeting is tomorrow at noon
free money click now to claim your prize winner
a
Café naïve “quoted” text with numbers 12 345 and a very long tail of words that goes on and on and on and on and on and on and on and on and on and on and on and on and on and on and on past sixty four tokens for sure
report on the project 中文 emoji 🙂 and  double  spaces
EOF
"$py" -c 'import json, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
for a, b in zip(lines, lines[1:] + lines[:1]): print(json.dumps({"text": a, "text_b": b}, ensure_ascii=False))' \
    "$tmp/texts.txt" >"$tmp/pairs.jsonl"
"$py" - "$tmp" "$vocab" <<'PY'
import io, json, sys
from pathlib import Path
import sentencepiece as spm
import torch
import transformers as tf
from tokenizers import ByteLevelBPETokenizer
from transformers.utils import logging
logging.set_verbosity_error()
tmp, vocab = Path(sys.argv[1]), sys.argv[2]
corpus = [l for f in ("tests/data/tokenizer/spamassassin_sample.txt", "tests/data/tokenizer/mixed.txt",
                      "tests/data/pretrain/sotu_sample.txt")
          for l in open(f, encoding="utf-8", errors="replace").read().split("\n") if l.strip()]

def roberta_tokenizer():  # a byte-level BPE as RoBERTa's, trained by tokenizers
    raw = tmp / "raw-bpe"
    raw.mkdir()
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=1500, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(raw))
    return tf.RobertaTokenizer.from_pretrained(raw, model_max_length=64)

def xlmr_tokenizer():  # a sentencepiece Unigram, converted by transformers as XLM-R's is
    raw = tmp / "raw-spm"
    raw.mkdir()
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=model, vocab_size=1500,
                                   model_type="unigram", character_coverage=0.9995, minloglevel=2)
    (raw / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    return tf.XLMRobertaTokenizer.from_pretrained(raw, model_max_length=64)

texts = open(tmp / "texts.txt").read().split("\n")[:-1]
pairs = [json.loads(l) for l in open(tmp / "pairs.jsonl")]
labels = ["neg", "neutral", "pos"]
def common(tok):
    return dict(vocab_size=len(tok), pad_token_id=tok.pad_token_id, initializer_range=0.3, num_labels=3,
                id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
rob, xlmr = roberta_tokenizer(), xlmr_tokenizer()
bert = tf.DistilBertTokenizer(vocab, do_lower_case=True, model_max_length=64)
families = {
    "roberta": (rob, tf.RobertaConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=80, max_position_embeddings=66, type_vocab_size=1,
                                      layer_norm_eps=1e-5, **common(rob)),
                tf.RobertaForSequenceClassification, tf.RobertaForMaskedLM),
    "xlm-roberta": (xlmr, tf.XLMRobertaConfig(hidden_size=36, num_hidden_layers=1, num_attention_heads=3,
                                              intermediate_size=70, max_position_embeddings=66, type_vocab_size=1,
                                              hidden_act="gelu_new", **common(xlmr)),
                    tf.XLMRobertaForSequenceClassification, tf.XLMRobertaForMaskedLM),
    "distilbert": (bert, tf.DistilBertConfig(dim=40, n_layers=2, n_heads=5, hidden_dim=72, max_position_embeddings=64,
                                             **common(bert)),
                   tf.DistilBertForSequenceClassification, tf.DistilBertForMaskedLM),
}
def dump(obj, name):
    json.dump(obj, open(tmp / name, "w"))
for seed, (name, (tok, cfg, cls_class, mlm_class)) in enumerate(families.items()):
    masked = [t.replace("[MASK]", tok.mask_token) for t in ("the [MASK] is tomorrow", "free [MASK] click [MASK] now")]
    (tmp / f"masked-{name}.txt").write_text("".join(t + "\n" for t in masked))
    enc = tok(texts, return_offsets_mapping=True)
    dump([{"ids": i, "offsets": o} for i, o in zip(enc["input_ids"], enc["offset_mapping"])], f"ref-{name}-tok.json")
    for kind, klass in (("cls", cls_class), ("mlm", mlm_class)):
        torch.manual_seed(10 + seed)
        model = klass(cfg).eval()
        d = tmp / f"hf-{name}-{kind}"
        model.save_pretrained(d)
        tok.save_pretrained(d)
        assert not (d / "vocab.txt").exists() and not (d / "vocab.json").exists()
        (tmp / f"hf-{name}-{kind}.params").write_text(str(sum(p.numel() for p in model.parameters())))
        if kind == "cls":
            clf = tf.pipeline("text-classification", model=d, top_k=None)
            def probs(inputs):
                return [[{r["label"]: r["score"] for r in out}[l] for l in labels]
                        for out in clf(inputs, truncation=True)]
            dump(probs(texts), f"ref-{name}-probs.json")
            dump(probs([{"text": p["text"], "text_pair": p["text_b"]} for p in pairs]), f"ref-{name}-pairs.json")
            with torch.no_grad():
                means = [model.base_model(**tok([t], truncation=True, return_tensors="pt", return_token_type_ids=False)
                                          ).last_hidden_state[0].double().mean(0).tolist() for t in texts]
            dump(means, f"ref-{name}-embed.json")
        else:
            fill = tf.pipeline("fill-mask", model=d, top_k=5)
            answers = []
            for t in masked:
                out = fill(t)
                rows = out if isinstance(out[0], list) else [out]
                answers.append([[{"token": r["token"], "score": r["score"]} for r in row] for row in rows])
            dump(answers, f"ref-{name}-fill.json")
PY
for fam in roberta xlm-roberta distilbert; do
    echo "--- $fam (from transformers, with its own tokenizer)"
    check "$fam summary: PyTorch's parameter count (classifier)" summary_total_is "$tmp/hf-$fam-cls" "$tmp/hf-$fam-cls.params"
    check "$fam summary: PyTorch's parameter count (masked LM)" summary_total_is "$tmp/hf-$fam-mlm" "$tmp/hf-$fam-mlm.params"
    "$verto" tokenize --tokenizer "$tmp/hf-$fam-cls" --json --input "$tmp/texts.txt" >"$tmp/$fam-tok.jsonl"
    check "$fam tokenize --json: the tokenizer's ids and offsets" "$py" -c '
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]; want = json.load(open(sys.argv[2]))
assert got == want, next((g, w) for g, w in zip(got, want) if g != w)' "$tmp/$fam-tok.jsonl" "$tmp/ref-$fam-tok.json"
    "$verto" predict --model "$tmp/hf-$fam-cls" --batch-size 2 --input "$tmp/texts.txt" >"$tmp/$fam-probs.jsonl"
    check "$fam predict: the pipeline's probabilities" close "$fam predict" "$tmp/$fam-probs.jsonl" "$tmp/ref-$fam-probs.json"
    "$verto" predict --model "$tmp/hf-$fam-cls" --batch-size 2 --jsonl --input "$tmp/pairs.jsonl" >"$tmp/$fam-pairs.jsonl"
    check "$fam predict on pairs: the pipeline's probabilities" \
        close "$fam predict pairs" "$tmp/$fam-pairs.jsonl" "$tmp/ref-$fam-pairs.json"
    "$verto" embed --model "$tmp/hf-$fam-cls" --pooling mean --input "$tmp/texts.txt" >"$tmp/$fam-embed.txt"
    check "$fam embed --pooling mean: transformers' mean hidden state" \
        close "$fam embed" "$tmp/$fam-embed.txt" "$tmp/ref-$fam-embed.json"
    "$verto" fill-mask --model "$tmp/hf-$fam-mlm" --input "$tmp/masked-$fam.txt" >"$tmp/$fam-fill.jsonl"
    check "$fam fill-mask: the pipeline's top 5 ids and scores" \
        close "$fam fill-mask" "$tmp/$fam-fill.jsonl" "$tmp/ref-$fam-fill.json"
done

# ---- 2. verto's own: init -> pretrain (MLM alone) -> finetune -> eval -> predict ----
head -n 48 data/spam/train.jsonl >"$tmp/train.jsonl"
head -n 16 data/spam/dev.jsonl >"$tmp/dev.jsonl"
"$verto" prepare-pretraining --vocab "$vocab" --max-seq-length 64 --dupe-factor 1 -q -o "$tmp/pairs" \
    tests/data/pretrain/sotu_sample.txt >/dev/null
for fam in distilbert roberta xlm-roberta; do
    echo "--- $fam-tiny (verto's)"
    d=$tmp/$fam-tiny
    case $fam in # the family's tokenizer as a user brings it
        distilbert) tok_src=$vocab ;;                                  # a vocab.txt
        roberta) tok_src=$tmp/hf-roberta-cls ;;                        # a model directory
        xlm-roberta) tok_src=$tmp/hf-xlm-roberta-cls/tokenizer.json ;; # a bare tokenizer.json
    esac
    check "$fam-tiny: init --tokenizer $(basename "$tok_src")" "$verto" init --config "$fam-tiny" --tokenizer "$tok_src" \
        -o "$d"
    check "$fam-tiny: prepare-pretraining --objective mlm with its tokenizer" sh -c "'$verto' prepare-pretraining \
        --objective mlm --tokenizer '$d' --max-seq-length 64 -q -o '$tmp/$fam-mlm' tests/data/pretrain/sotu_sample.txt \
        >/dev/null"
    check "$fam-tiny: the manifest says mlm, dynamic masking" "$py" -c '
import json, sys; m = json.load(open(sys.argv[1]))
assert m["objective"] == "mlm" and m["masking"] == "dynamic", m' "$tmp/$fam-mlm/manifest.json"
    if [ "$fam" = distilbert ]; then
        if "$verto" pretrain --init "$d" --data "$tmp/pairs" -o "$tmp/$fam-nsp" --steps 1 2>"$tmp/err.txt"; then
            echo "  FAILED: $fam pretrain on sentence pairs was accepted"; failures=$((failures + 1))
        else
            check "$fam pretrain on sentence pairs: refused, naming --objective mlm" grep -q -- "--objective mlm" \
                "$tmp/err.txt"
        fi
    fi
    check "$fam-tiny: pretrain, the masked LM alone" "$verto" pretrain --init "$d" --data "$tmp/$fam-mlm" \
        --eval-data "$tmp/$fam-mlm" --eval-batches 1 -o "$tmp/$fam-pt" --steps 3 --batch-size 8 --lr 1e-3
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
    "$verto" tokenize --tokenizer "$tmp/$fam-ft" --input "$tmp/dev.txt" >"$tmp/$fam-ids.txt"
    check "$fam-tiny: transformers loads init, pretrain and finetune cleanly, tokenizes and predicts as verto" \
        "$py" - "$d" "$tmp/$fam-pt" "$tmp/$fam-ft" "$tmp/dev.txt" "$tmp/$fam-pred.jsonl" "$tmp/$fam-ids.txt" <<'PY'
import json, sys
import torch
import transformers as tf
from transformers.utils import logging
logging.set_verbosity_error()
init, pt, ft, texts, preds, ids = sys.argv[1:7]
tok = tf.AutoTokenizer.from_pretrained(init)
lines = open(texts).read().split("\n")[:-1]
got = [[int(i) for i in l.split()] for l in open(ids)]
assert got == tok(lines)["input_ids"], "AutoTokenizer's ids differ from verto tokenize's"
print(f"    {init}: AutoTokenizer ({type(tok).__name__}) gives verto tokenize's ids for {len(lines)} texts")
for d, auto in ((init, tf.AutoModelForMaskedLM), (pt, tf.AutoModelForMaskedLM), (ft, tf.AutoModelForSequenceClassification)):
    model, info = auto.from_pretrained(d, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, (d, bad)
    print(f"    {d}: {type(model).__name__}, no missing or unexpected keys")
tok = tf.AutoTokenizer.from_pretrained(ft)
model.eval()
want = []
for t in lines:
    enc = tok([t], truncation=True, max_length=64, return_tensors="pt", return_token_type_ids=False)
    with torch.no_grad():
        want.append(torch.softmax(model(**enc).logits.double(), -1)[0].tolist())
got = [list(json.loads(l)["probs"].values()) for l in open(preds)]
d = max(abs(a - b) for g, w in zip(got, want) for a, b in zip(g, w))
print(f"    predict: max |verto - transformers| = {d:.3g} over {len(got)} texts")
assert len(got) == len(want) and d <= 1e-5
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
start_server "$model" "$tmp/server.log"
head -n 1 "$tmp/dev.txt" | "$py" -c 'import json,sys; print(json.dumps({"text": sys.stdin.read().rstrip("\n")}))' \
    >"$tmp/req.json"
curl -s --data-binary @"$tmp/req.json" "http://127.0.0.1:$port/v1/classify" >"$tmp/served.json"
curl -s "http://127.0.0.1:$port/v1/model" >"$tmp/model.json"
stop_server
check "serve /v1/model names RobertaForSequenceClassification" grep -q RobertaForSequenceClassification "$tmp/model.json"
check "serve /v1/classify equals verto predict" "$py" -c '
import json, sys
served = json.load(open(sys.argv[1])); want = json.loads(open(sys.argv[2]).readline())
d = max(abs(served["probs"][k] - want["probs"][k]) for k in want["probs"])
print(f"    /v1/classify: max |serve - predict| = {d:.3g}")
assert served["label"] == want["label"] and d <= 1e-6, (served, want)' "$tmp/served.json" "$tmp/roberta-pred.jsonl"

if [ "$failures" -ne 0 ]; then echo "test_families_cli: $failures check(s) failed"; exit 1; fi
echo "test_families_cli: all checks passed"

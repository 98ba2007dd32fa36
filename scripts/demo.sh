#!/usr/bin/env bash
# make demo: the whole verto path on the spam-detection sample shipped in
# data/spam (SpamAssassin emails): a domain vocabulary, pretraining data from
# the training emails without their labels, a small BERT pretrained from
# scratch, fine-tuned on the labelled training emails, evaluated on the test
# emails, and a few predictions. Everything is written under build/demo.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
V="$root/$build/verto"
data="$root/data/spam"
out="$root/$build/demo"
steps=${DEMO_PRETRAIN_STEPS:-240}
epochs=${DEMO_FINETUNE_EPOCHS:-3}
windows=${DEMO_WINDOWS:-8} # an email is read as up to 8 windows of 128 tokens
rm -rf "$out"
mkdir -p "$out"
cd "$out"
stage() { printf '\n== %s\n' "$1"; }
start=$(date +%s)

stage "1. Domain vocabulary from the training emails"
python3 -c "
import json, sys
with open('$data/train.jsonl') as f, open('emails.txt', 'w') as out:
    for line in f:
        # one email per document: its non-empty lines, then a blank line
        text = json.loads(line)['text']
        out.write('\n'.join(l for l in text.splitlines() if l.strip()) + '\n\n')"
"$V" vocab --size 8000 -o vocab.txt emails.txt

stage "2. Pretraining data (masked LM + next sentence), labels unused"
"$V" prepare-pretraining --vocab vocab.txt -o shards --max-seq-length 128 --dupe-factor 3 --seed 1 emails.txt

stage "3. A small BERT (L4/H256/A4) pretrained from scratch"
"$V" init --config-json "$root/scripts/demo_bert.json" --vocab vocab.txt -o bert-init --seed 1
"$V" summary --model bert-init
"$V" pretrain --init bert-init --data shards -o bert-spam --steps "$steps" --batch-size 32 --lr 3e-4 \
    --warmup-steps $((steps / 10)) --log-every 20 --seed 1 --group-by-length 64

stage "4. Fine-tuning on the labelled training emails"
"$V" finetune --init bert-spam --train "$data/train.jsonl" --dev "$data/dev.jsonl" -o spam-classifier \
    --epochs "$epochs" --batch-size 32 --lr 2e-4 --max-seq-length 128 --max-windows "$windows" --seed 1

stage "5. Evaluation on the test emails"
"$V" eval --model spam-classifier --data "$data/test.jsonl"

stage "6. Predictions for a few test emails (two ham, two spam)"
python3 - "$data/test.jsonl" <<'PY' > examples.jsonl
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for label in ("ham", "spam"):
    for r in [r for r in rows if r["label"] == label][:2]:
        print(json.dumps({"text": r["text"], "label": r["label"]}))
PY
"$V" predict --model spam-classifier --jsonl --input examples.jsonl > predictions.jsonl
python3 - <<'PY'
import json
for example, pred in zip(map(json.loads, open("examples.jsonl")), map(json.loads, open("predictions.jsonl"))):
    subject = next((l for l in example["text"].splitlines() if l.lower().startswith("subject:")), "(no subject)")
    print(f"true {example['label']:4}  predicted {pred['label']:4} (p={pred['score']:.3f})  {subject[:70]}")
PY
printf '\ndemo finished in %d s; models, metrics.jsonl and data are in %s\n' $(( $(date +%s) - start )) "$out"

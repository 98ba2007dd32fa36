#!/usr/bin/env bash
# The bf16 loss-curve check of BENCHMARKS.md: BERT-mini (scripts/demo_bert.json)
# pretrained for 2,000 steps on the shipped spam sample three times — fp32 with
# seeds 1 and 2 (their difference is the run-to-run noise) and bf16 with seed 1
# — then a table of training loss per 250 steps and held-out MLM/NSP figures.
#   scripts/bf16_curve.sh WORK [STEPS]     (resumable: finished runs are kept)
set -euo pipefail
work=${1:?usage: scripts/bf16_curve.sh WORK [STEPS]}
steps=${2:-2000}
root=$(cd "$(dirname "$0")/.." && pwd)
V="$root/build/verto"
data="$root/data/spam"
mkdir -p "$work"
cd "$work"
emails() { # one email per document
    python3 -c "
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], 'w') as out:
    for line in f:
        text = json.loads(line)['text']
        out.write('\n'.join(l for l in text.splitlines() if l.strip()) + '\n\n')" "$1" "$2"
}
if [ ! -d init ]; then
    emails "$data/train.jsonl" train.txt
    emails "$data/dev.jsonl" dev.txt
    "$V" vocab --size 8000 -o vocab.txt train.txt
    "$V" prepare-pretraining --vocab vocab.txt -o shards --max-seq-length 128 --dupe-factor 3 --seed 1 train.txt
    "$V" prepare-pretraining --vocab vocab.txt -o dev_shards --max-seq-length 128 --dupe-factor 1 --seed 2 dev.txt
    "$V" init --config-json "$root/scripts/demo_bert.json" --vocab vocab.txt -o init --seed 1
fi
run() { # name, precision, seed
    [ -s "$1/model.safetensors" ] && return 0
    "$V" pretrain --init init --data shards --eval-data dev_shards -o "$1" --steps "$steps" --batch-size 8 \
        --lr 2e-4 --warmup-steps $((steps / 10)) --eval-every 250 --eval-batches 40 --log-every 10 \
        --precision "$2" --seed "$3"
}
run fp32-seed1 fp32 1
run fp32-seed2 fp32 2
run bf16-seed1 bf16 1
python3 - <<'PY'
import json
runs = ["fp32-seed1", "fp32-seed2", "bf16-seed1"]
train, evals = {}, {}
for r in runs:
    rows = [json.loads(l) for l in open(f"{r}/metrics.jsonl")]
    train[r] = [x for x in rows if not x.get("eval") and "loss" in x]
    evals[r] = {x["step"]: x for x in rows if x.get("eval")}
last = max(x["step"] for x in train[runs[0]])
print("| steps | fp32 seed 1 | fp32 seed 2 | bf16 seed 1 | bf16 - fp32 (seed 1) | fp32 seed 2 - seed 1 |")
print("| --- | --- | --- | --- | --- | --- |")
lo = 0
while lo < last:
    hi = lo + 250
    m = [sum(x["loss"] for x in train[r] if lo < x["step"] <= hi) / max(1, sum(lo < x["step"] <= hi for x in train[r])) for r in runs]
    print(f"| {lo + 1}-{hi} | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | {m[2] - m[0]:+.3f} | {m[1] - m[0]:+.3f} |")
    lo = hi
print()
keys = [k for k in evals[runs[0]][last] if k not in ("step", "eval")]
print("| held-out at step %d | " % last + " | ".join(runs) + " |")
print("| --- |" + " --- |" * len(runs))
for k in keys:
    print(f"| {k} | " + " | ".join(f"{evals[r][last][k]:.4f}" for r in runs) + " |")
PY

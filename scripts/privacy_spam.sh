#!/usr/bin/env bash
# The privacy-utility table of docs/privacy.md: the spam task with all 4,353
# training labels, fine-tuned without privacy and with DP-SGD at epsilon 8 and
# 1 (delta = 1 / n^1.1), from the same BERT pretrained by verto on the training
# emails (scripts/quality_spam.sh's pretraining), and TF-IDF + logistic
# regression, all evaluated on the test emails.
#
#   scripts/make_spam_split.py --out SPLIT --no-sample
#   scripts/privacy_spam.sh SPLIT PRETRAINED WORK [BUILD]
#
# Every run reads an email's first and last LEN/2 tokens (DP-SGD takes one row
# per example: a text read as several windows would be several examples) and
# keeps its best epoch on the dev emails, which the DP runs declare public
# (--dp-dev-public: the guarantee covers the 4,353 training emails, not the
# 484 dev ones that pick the epoch). DP-SGD:
# Poisson sampling at an expected batch of 256 (micro-batches of 32), clipping
# bound 1, the noise solved for the budget over the run's steps. The
# environment changes EPOCHS (default 6), LR (default 5e-4, DP and not),
# CLIP (1), PRECISION (bf16), LEN (256), FREEZE (default 0: the DP runs
# train every weight; K: they keep the embeddings and the first K layers
# frozen, so the noise spreads over fewer coordinates, and a non-private run
# with the same freezing is added to compare with). WORK/table.md and WORK/*.json hold the figures;
# a stage whose output exists is skipped.
set -euo pipefail
split=$(cd "${1:?usage: privacy_spam.sh SPLIT PRETRAINED WORK [BUILD]}" && pwd)
pretrained=$(cd "${2:?usage: privacy_spam.sh SPLIT PRETRAINED WORK [BUILD]}" && pwd)
mkdir -p "${3:?usage: privacy_spam.sh SPLIT PRETRAINED WORK [BUILD]}"
work=$(cd "$3" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
V="$root/${4:-build}/verto"
epochs=${EPOCHS:-6} lr=${LR:-5e-4} clip=${CLIP:-1} precision=${PRECISION:-bf16} len=${LEN:-256} freeze=${FREEZE:-0}
cd "$work"

common=(--init "$pretrained" --train "$split/train.jsonl" --dev "$split/dev.jsonl" --epochs "$epochs" --lr "$lr" --batch-size 32
        --grad-accum 8 --max-seq-length "$len" --keep-tail $((len / 2)) --max-windows 1 --seed 1 --precision "$precision")
run() { # NAME, extra options...
    local name=$1
    shift
    [ -s "eval-$name.json" ] && return 0
    local start=$(date +%s)
    "$V" finetune "${common[@]}" -o "ft-$name" "$@" > "ft-$name.log"
    printf '%s\t%d\n' "$name" $(($(date +%s) - start)) >> times.tsv
    "$V" eval --model "ft-$name" --data "$split/test.jsonl" --json > "eval-$name.json"
}
run nonprivate
frozen=()
if [ "$freeze" -gt 0 ]; then
    frozen=(--freeze-layers "$freeze")
    run nonprivate-frozen "${frozen[@]}"
fi
run eps8 --dp-epsilon 8 --dp-max-grad-norm "$clip" --dp-dev-public "${frozen[@]}"
run eps1 --dp-epsilon 1 --dp-max-grad-norm "$clip" --dp-dev-public "${frozen[@]}"
[ -s tfidf.json ] || python3 "$root/scripts/baseline_tfidf.py" --train "$split/train.jsonl" --dev "$split/dev.jsonl" \
    --test "$split/test.jsonl" --json > tfidf.json

python3 - "$work" "$epochs" "$len" "$freeze" <<'PY' | tee table.md
import json, os, sys
work, epochs, length, freeze = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def scores(path, tfidf=False):
    r = json.load(open(os.path.join(work, path)))
    return r["accuracy"], r["positive_f1"] if tfidf else r["per_class"]["spam"]["f1"]
def privacy(name):
    p = os.path.join(work, f"ft-{name}", "privacy.json")
    if not os.path.exists(p):
        return "none", ""
    j = json.load(open(p))
    return f"epsilon {j['epsilon']:.3g}, delta {j['delta']:.2g}", f"noise {j['noise_multiplier']:.3g}, q {j['sample_rate']:.3g}, {j['steps']} steps"
times = dict(l.split("\t") for l in open(os.path.join(work, "times.tsv")).read().split("\n") if l)
print("| run | guarantee | DP-SGD | test accuracy | spam F1 | fine-tuning s |")
print("| --- | --- | --- | --- | --- | --- |")
frozen = f", embeddings and {freeze} layers frozen" if freeze else ""
for name, label in (("nonprivate", "verto fine-tuning, no privacy, every weight"),
                    ("nonprivate-frozen", f"verto fine-tuning, no privacy{frozen}"),
                    ("eps8", f"verto DP-SGD, epsilon 8{frozen}"), ("eps1", f"verto DP-SGD, epsilon 1{frozen}")):
    if not os.path.exists(os.path.join(work, f"eval-{name}.json")):
        continue
    acc, f1 = scores(f"eval-{name}.json")
    g, how = privacy(name)
    print(f"| {label} ({epochs} epochs, {length} tokens) | {g} | {how} | {acc:.4f} | {f1:.4f} | {times.get(name, '').strip()} |")
acc, f1 = scores("tfidf.json", tfidf=True)
print(f"| TF-IDF + logistic regression, C on dev | none | | {acc:.4f} | {f1:.4f} | |")
PY

#!/usr/bin/env bash
# Fine-tuning on packed batches (the default: a batch's rows one after
# another, each attending over its own length) trains the model that padded
# batches (--padded-batches) train, for a sequence classifier (e-mail bodies
# of data/spam cut to 30..400 characters: rows of mixed lengths) and a token
# classifier (sentences of tests/data/pretrain/sotu_sample.txt, numbers and
# capitalised words tagged).
#
# Dropout is set to 0 in the initial model, so both runs compute the same
# function; then the step losses in metrics.jsonl agree within 1e-4 relative
# and predict's probabilities (classification) and eval's figures (both)
# within 1e-3 after 6 epochs: the runs differ only in the order of the
# products' sums (test_packed_train: 1e-5 on one step), which AdamW's
# normalised steps carry on. With the default dropout packed fine-tuning still
# learns the spam task: dev accuracy above the majority class's.
set -euo pipefail
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
source "$(dirname "$0")/check.sh"
trap 'rm -rf "$tmp"' EXIT

"$py" - "$tmp" <<'PY'
import json, random, re, sys
tmp = sys.argv[1]
rnd = random.Random(3)
for split, n in (("train", 128), ("dev", 48)):
    rows = [json.loads(l) for l in open(f"data/spam/{split}.jsonl")][:n]
    with open(f"{tmp}/cls-{split}.jsonl", "w") as f:
        for r in rows:
            body = r["text"].split("\n\n", 1)[-1][:rnd.randint(30, 400)]
            f.write(json.dumps({"text": body, "label": r["label"]}) + "\n")
    with open(f"{tmp}/cls-{split}.txt", "w") as f:
        for r in rows:
            f.write(r["text"].split("\n\n", 1)[-1][:200].replace("\n", " ").replace("\r", " ") + "\n")
sents = []
for line in open("tests/data/pretrain/sotu_sample.txt", encoding="utf-8"):
    words = re.findall(r"\w+(?:'\w+)?|[^\w\s]", line)
    if 3 <= len(words) <= 50:
        tags = ["B-NUM" if re.fullmatch(r"\d[\d,.]*", w) else "B-CAP" if i and w[:1].isupper() else "O"
                for i, w in enumerate(words)]
        sents.append((words, tags))
for split, part in (("train", sents[:160]), ("dev", sents[160:220])):
    with open(f"{tmp}/ner-{split}.jsonl", "w") as f:
        for words, tags in part:
            f.write(json.dumps({"tokens": words, "tags": tags}) + "\n")
PY
"$verto" init --config tiny --tokenizer tests/data/tokenizer/uncased/vocab.txt -o "$tmp/init" >/dev/null
cp -r "$tmp/init" "$tmp/init-nodrop"
"$py" - "$tmp/init-nodrop/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["hidden_dropout_prob"] = c["attention_probs_dropout_prob"] = 0.0
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY

common="--epochs 6 --batch-size 16 --lr 2e-3 --max-seq-length 64"
for kind in packed padded; do
    flag=$([ $kind = padded ] && echo --padded-batches || true)
    check "classifier, $kind: finetune" sh -c "'$verto' finetune --init '$tmp/init-nodrop' --train '$tmp/cls-train.jsonl' \
        --dev '$tmp/cls-dev.jsonl' -o '$tmp/cls-$kind' $common $flag >'$tmp/cls-$kind.log' 2>&1"
    check "classifier, $kind: predict" sh -c "'$verto' predict --model '$tmp/cls-$kind' --input '$tmp/cls-dev.txt' \
        >'$tmp/cls-$kind.pred'"
    check "classifier, $kind: eval" sh -c "'$verto' eval --model '$tmp/cls-$kind' --data '$tmp/cls-dev.jsonl' --json \
        >'$tmp/cls-$kind.eval'"
    check "tagger, $kind: finetune" sh -c "'$verto' finetune --task token-classification --init '$tmp/init-nodrop' \
        --train '$tmp/ner-train.jsonl' --dev '$tmp/ner-dev.jsonl' -o '$tmp/ner-$kind' $common $flag \
        >'$tmp/ner-$kind.log' 2>&1"
    check "tagger, $kind: eval" sh -c "'$verto' eval --model '$tmp/ner-$kind' --data '$tmp/ner-dev.jsonl' --json \
        >'$tmp/ner-$kind.eval'"
done

check "packed and padded batches train the same models (no dropout)" "$py" - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
def steps(path):
    return [r for r in map(json.loads, open(path)) if "loss" in r and "step" in r and "dev" not in json.dumps(r)]
def close(a, b, tol):
    return abs(a - b) <= tol * max(1.0, abs(b))
ok = True
for task in ("cls", "ner"):
    a, b = steps(f"{tmp}/{task}-packed/metrics.jsonl"), steps(f"{tmp}/{task}-padded/metrics.jsonl")
    worst = max(abs(x["loss"] - y["loss"]) / abs(y["loss"]) for x, y in zip(a, b))
    print(f"    {task}: {len(a)} logged steps, worst relative loss difference {worst:.2e} (tol 1e-4)")
    ok &= len(a) == len(b) > 0 and worst <= 1e-4
    ea, eb = json.load(open(f"{tmp}/{task}-packed.eval")), json.load(open(f"{tmp}/{task}-padded.eval"))
    diffs = {k: abs(ea[k] - eb[k]) for k in eb if isinstance(eb[k], float)}
    print(f"    {task}: eval figures, largest difference {max(diffs.values()):.2e} (tol 1e-3)")
    ok &= len(diffs) > 0 and all(d <= 1e-3 for d in diffs.values())
pa = [json.loads(l) for l in open(f"{tmp}/cls-packed.pred")]
pb = [json.loads(l) for l in open(f"{tmp}/cls-padded.pred")]
worst = max(abs(x["probs"][k] - y["probs"][k]) for x, y in zip(pa, pb) for k in y["probs"])
print(f"    classifier: {len(pa)} predictions, largest probability difference {worst:.2e} (tol 1e-3)")
ok &= len(pa) == len(pb) > 0 and worst <= 1e-3
sys.exit(0 if ok else 1)
PY

check "classifier, packed with dropout: finetune" sh -c "'$verto' finetune --init '$tmp/init' \
    --train '$tmp/cls-train.jsonl' --dev '$tmp/cls-dev.jsonl' -o '$tmp/cls-drop' $common >'$tmp/cls-drop.log' 2>&1"
check "classifier, packed with dropout: dev accuracy above the majority class's" "$py" - "$tmp" <<'PY'
import collections, json, sys
tmp = sys.argv[1]
labels = [json.loads(l)["label"] for l in open(f"{tmp}/cls-dev.jsonl")]
majority = collections.Counter(labels).most_common(1)[0][1] / len(labels)
best = max(r["dev_accuracy"] for r in map(json.loads, open(f"{tmp}/cls-drop/metrics.jsonl")) if "dev_accuracy" in r)
print(f"    best dev accuracy {best:.3f}, majority class {majority:.3f}")
sys.exit(0 if best > majority else 1)
PY

echo "test_packed_finetune: $failures failure(s)"
[ "$failures" -eq 0 ]

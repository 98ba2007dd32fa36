#!/usr/bin/env bash
# Token classification on real data: the Japanese IOB2 corpus that PyPI's
# hironsancorpus 0.1.2 ships (hironsan/corpus/iob_sents.txt: 500 sentences of
# morphemes, 8 entity types; MIT by the package's metadata), split by position
# into 350 training, 75 dev and 75 test sentences. verto: a WordPiece
# vocabulary of the training text, a BERT-mini from scratch (no pretraining),
# fine-tuned for token classification, the epoch best on dev; the baseline:
# scikit-learn's logistic regression per token on word features (the word,
# its first and last characters, its character type, its neighbours), C chosen
# on dev. Both scored on test with seqeval (default mode), as docs/ner.md
# reports. Usage: scripts/ner_real_data.sh [BUILD_DIR] (default build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
V=$root/${1:-build}/verto
py=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$py" -m pip download -q --no-deps hironsancorpus==0.1.2 -d pkg
tar xzf pkg/hironsancorpus-0.1.2.tar.gz
"$py" - hironsancorpus-0.1.2/hironsan/corpus/iob_sents.txt <<'PY'
import sys
sents, cur = [], []
for line in open(sys.argv[1], encoding="utf-8"):
    f = line.rstrip("\n").split("\t")
    if len(f) < 2:
        if cur:
            sents.append(cur)
        cur = []
        continue
    cur.append((f[0], f[-1]))
if cur:
    sents.append(cur)
assert len(sents) == 500, len(sents)
for name, part in (("train", sents[:350]), ("dev", sents[350:425]), ("test", sents[425:])):
    with open(f"{name}.conll", "w", encoding="utf-8") as out:
        for s in part:
            out.write("".join(f"{w}\t{t}\n" for w, t in s) + "\n")
with open("train.txt", "w", encoding="utf-8") as out:
    for s in sents[:350]:
        out.write(" ".join(w for w, _ in s) + "\n")
PY
start=$(date +%s)
"$V" vocab --size 4000 --cased -o vocab.txt train.txt >/dev/null
"$V" init --config mini --tokenizer vocab.txt --cased -o init --seed 1 >/dev/null
"$V" finetune --task token-classification --init init --train train.conll --dev dev.conll -o ner --epochs 20 \
    --batch-size 16 --lr 1e-3 --max-seq-length 128 --seed 1 | grep -E '^\[eval\]|best' | tail -3
"$V" eval --model ner --data test.conll --json >verto_test.json
echo "verto: $(($(date +%s) - start)) s (vocabulary, fine-tuning, test)"
"$py" - <<'PY'
import json, time, unicodedata
import seqeval.metrics as sm
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

def read(path):
    sents, cur = [], []
    for line in open(path, encoding="utf-8"):
        if line.strip():
            w, t = line.rstrip("\n").split("\t")
            cur.append((w, t))
        elif cur:
            sents.append(cur)
            cur = []
    return sents + ([cur] if cur else [])

def kind(c):
    n = unicodedata.name(c, "")
    return ("DIGIT" if c.isdigit() else "KANJI" if "CJK" in n else "HIRA" if "HIRAGANA" in n
            else "KATA" if "KATAKANA" in n else "LATIN" if "LATIN" in n else "OTHER")

def features(words, i):
    w = words[i]
    f = {"w=" + w: 1, "p1=" + w[:1]: 1, "s1=" + w[-1:]: 1, "p2=" + w[:2]: 1, "s2=" + w[-2:]: 1,
         "kind=" + kind(w[0]): 1, "len": min(len(w), 8) / 8}
    for d in (-2, -1, 1, 2):
        j = i + d
        f[f"w{d}=" + (words[j] if 0 <= j < len(words) else "<pad>")] = 1
        if 0 <= j < len(words):
            f[f"k{d}=" + kind(words[j][0])] = 1
    return f

def xy(sents):
    X = [features([w for w, _ in s], i) for s in sents for i in range(len(s))]
    return X, [t for s in sents for _, t in s]

train, dev, test = read("train.conll"), read("dev.conll"), read("test.conll")
start = time.time()
vec = DictVectorizer()
Xtr, ytr = xy(train)
Xtr = vec.fit_transform(Xtr)
def predict(model, sents):
    X, _ = xy(sents)
    flat, out, k = list(model.predict(vec.transform(X))), [], 0
    for s in sents:
        out.append(flat[k:k + len(s)])
        k += len(s)
    return out
best = None
for C in (0.1, 1, 10, 100):
    m = LogisticRegression(C=C, max_iter=2000).fit(Xtr, ytr)
    f1 = sm.f1_score([[t for _, t in s] for s in dev], predict(m, dev))
    if best is None or f1 > best[0]:
        best = (f1, C, m)
gold = [[t for _, t in s] for s in test]
pred = predict(best[2], test)
v = json.load(open("verto_test.json"))
print(f"baseline (logistic regression per token, C={best[1]} chosen on dev): {time.time() - start:.0f} s")
print("| model | test entity F1 | precision | recall | token accuracy |")
print("| --- | --- | --- | --- | --- |")
print(f"| verto BERT-mini from scratch, fine-tuned | {v['f1']:.3f} | {v['precision']:.3f} | {v['recall']:.3f} | "
      f"{v['accuracy']:.3f} |")
print(f"| logistic regression, word features | {sm.f1_score(gold, pred):.3f} | {sm.precision_score(gold, pred):.3f} | "
      f"{sm.recall_score(gold, pred):.3f} | {sm.accuracy_score(gold, pred):.3f} |")
PY

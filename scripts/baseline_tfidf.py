#!/usr/bin/env python3
"""The quality bar for verto's spam classifier: TF-IDF + logistic regression.

  scripts/baseline_tfidf.py --train TRAIN.jsonl --test TEST.jsonl [--dev DEV.jsonl]
                            [--labels N|all ...] [--seed S] [--repeats R] [--json]

Reads labelled JSONL ({"text", "label"} per line, as scripts/make_spam_split.py
writes), trains scikit-learn's TfidfVectorizer(sublinear_tf=True) +
LogisticRegression(max_iter=1000) (lbfgs, L2; C=1, the library default, or
with --dev the C of 0.1, 1, 10, 100, 1000 with the best dev accuracy, the
smaller on ties, as fine-tuning picks its best epoch on the same dev set;
never tuned on the test set) on N training examples drawn at random
(random.Random(seed + repeat), without replacement; "all" uses every one),
and prints accuracy, the positive class's F1 (--positive, default "spam"),
macro F1 and ROC-AUC on the test set. With --repeats R > 1 each figure is
the mean (and standard deviation) over R draws (seeds S, S+1, ...); with
--labels all the draw does not matter. --json prints one JSON object per
--labels value instead of the table.

Requires scikit-learn (pip install scikit-learn).
"""
import argparse
import json
import random
import statistics
import sys


def load(path):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                texts.append(row["text"])
                labels.append(str(row["label"]))
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"error: {path}:{n}: {e}")
    return texts, labels


C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)


def run_once(train, test, n, seed, positive, dev=None):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    texts, labels = train
    idx = list(range(len(texts)))
    if n is not None and n < len(idx):
        idx = random.Random(seed).sample(idx, n)
    if len({labels[i] for i in idx}) < 2:
        sys.exit(f"error: the {n} drawn training examples have one label only (seed {seed})")
    vec = TfidfVectorizer(sublinear_tf=True)
    x = vec.fit_transform([texts[i] for i in idx])
    y = [labels[i] for i in idx]
    C, clf = 1.0, None
    if dev is not None:
        xd = vec.transform(dev[0])
        best = -1.0
        for c in C_GRID:
            m = LogisticRegression(max_iter=1000, C=c).fit(x, y)
            acc = accuracy_score(dev[1], m.predict(xd))
            if acc > best:
                best, C, clf = acc, c, m
    if clf is None:
        clf = LogisticRegression(max_iter=1000, C=C).fit(x, y)
    xt = vec.transform(test[0])
    pred = clf.predict(xt)
    out = {
        "C": C,
        "accuracy": accuracy_score(test[1], pred),
        "positive_f1": f1_score(test[1], pred, pos_label=positive, average="binary")
        if len(set(test[1]) | set(pred)) <= 2 else float("nan"),
        "macro_f1": f1_score(test[1], pred, average="macro"),
    }
    if len(clf.classes_) == 2 and positive in clf.classes_ and len(set(test[1])) == 2:
        col = list(clf.classes_).index(positive)
        out["roc_auc"] = roc_auc_score([y == positive for y in test[1]], clf.predict_proba(xt)[:, col])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--dev", help="choose C on this labelled set (default: C=1)")
    ap.add_argument("--labels", nargs="+", default=["all"], help="training examples to use: N or all (several allowed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--positive", default="spam")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.repeats < 1:
        sys.exit("error: --repeats must be >= 1")
    train, test = load(a.train), load(a.test)
    dev = load(a.dev) if a.dev else None
    if not a.json:
        print(f"train {a.train}: {len(train[0])} examples; test {a.test}: {len(test[0])} examples")
        print(f"{'labels':>8} {'accuracy':>14} {a.positive + ' F1':>14} {'macro F1':>14} {'ROC-AUC':>14}")
    for spec in a.labels:
        if spec == "all":
            n = None
        else:
            try:
                n = int(spec)
            except ValueError:
                sys.exit(f"error: --labels takes numbers or 'all', not {spec!r}")
            if not 2 <= n <= len(train[0]):
                sys.exit(f"error: --labels {n} outside [2, {len(train[0])}]")
        repeats = 1 if n is None else a.repeats
        runs = [run_once(train, test, n, a.seed + r, a.positive, dev) for r in range(repeats)]
        keys = runs[0].keys()
        mean = {k: statistics.fmean(r[k] for r in runs) for k in keys}
        std = {k: statistics.pstdev(r[k] for r in runs) for k in keys}
        used = len(train[0]) if n is None else n
        if a.json:
            print(json.dumps({"labels": used, "repeats": repeats, "seed": a.seed, **mean,
                              **({"std": std} if repeats > 1 else {})}))
        else:
            cell = lambda k: (f"{mean[k]:.4f}" + (f" ±{std[k]:.4f}" if repeats > 1 else "")) if k in mean else "-"
            print(f"{used:>8} {cell('accuracy'):>14} {cell('positive_f1'):>14} {cell('macro_f1'):>14} {cell('roc_auc'):>14}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference TF-IDF + logistic regression from scikit-learn for
tests/unit/test_baseline.c and tests/scripts/test_baseline_cli.sh.

Usage: gen_baseline.py OUT_DIR  -> OUT_DIR/baseline_<case>.json (+ the
synthetic cases' OUT_DIR/baseline_<case>_{train,dev}.jsonl)

Cases:
  spam        the shipped sample data/spam/{train,dev}.jsonl, binary, min_df 2;
  topics      synthetic 3-class single-label texts (multinomial), min_df 1;
  multilabel  synthetic texts with 0-3 of 4 labels (one-vs-rest), min_df 1.
The synthetic texts mix ASCII words with accents (precomposed and combining),
German sharp s, Greek capitals (str.lower's Final_Sigma), Turkish dotted I
(a two-character lowercase), CJK and kana, a titlecase digraph, vulgar
fractions, digits, underscores, emoji and punctuation, so the vocabulary
checks Python's \\w and str.lower() as TfidfVectorizer uses them.

Each case: TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df)
fitted on train; for each C of the grid LogisticRegression(C, tol=TOL,
max_iter=MAX_ITER) (lbfgs; OneVsRestClassifier of it for multi-label) fitted
on train and scored on dev: accuracy of predict(), or for multi-label the
micro F1 at the best threshold over the dev probabilities (verto's rule,
vt_multilabel_best_threshold: every distinct score v as "score >= v", ties to
the largest v, the threshold at v/2 + w/2 with w the next lower score); the
best C wins, the earlier on ties. Written: labels (sorted, as verto numbers
them), vocab and idf (idf_), dev_scores, chosen C, threshold, and the dev
probabilities of the chosen model (predict_proba; per label for multi-label).
TOL is 1e-10 with MAX_ITER 100000 so both fits reach the objective's optimum
(sklearn's default tol 1e-4 stops where probabilities can differ by 0.07 on
spam at C=100 from the optimum): the comparison is then of two solvers of one
problem, not of two stopping points.
"""
import json
import random
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.multiclass import OneVsRestClassifier

TOL, MAX_ITER = 1e-10, 100000
GRID = [0.1, 1.0, 10.0, 100.0, 1000.0]
REPO = Path(__file__).resolve().parents[2]

NOISE = ["café", "cafe\u0301", "naïve", "Straße", "STRASSE", "ΟΔΟΣ", "ΣΊΣΥΦΟΣ", "İstanbul", "東京都", "データ",
         "x_y", "_", "½", "a1", "ǅemal", "2024", "🙂", "l'été", "don't", "e-mail", "ÉCOLE", "Ωmega", "q", "Z",
         "日本", "σοφία", "ΣΑΣ", "ﬁne", "Ⅻ", "٣٤", "x²", "the", "and", "of"]
TOPICS = {
    "sport": ["match", "goal", "team", "Spieler", "coach", "ΓΚΟΛ", "試合", "league", "score", "run"],
    "économie": ["market", "price", "bank", "Börse", "taux", "inflation", "経済", "trade", "stock", "run"],
    "science": ["atom", "cell", "Physik", "théorie", "energy", "データ解析", "lab", "gene", "orbit", "proof"],
}


def synth_text(rng, topics):
    words = []
    for _ in range(rng.randint(4, 28)):
        pool = TOPICS[rng.choice(topics)] if topics and rng.random() < 0.55 else NOISE
        w = rng.choice(pool)
        words.append(w.upper() if rng.random() < 0.1 else w.title() if rng.random() < 0.1 else w)
    seps = [" ", " ", " ", ", ", ". ", "\n", "\t", "—", "/", "!"]
    return "".join(w + rng.choice(seps) for w in words).strip()


def synth_single(rng, n):
    rows = []
    names = sorted(TOPICS)
    for i in range(n):
        label = names[i % len(names)] if i < len(names) else rng.choice(names)
        rows.append({"text": synth_text(rng, [label]), "label": label})
    rows.append({"text": "!!! ... ---", "label": names[0]})  # no term at all: a zero row
    return rows


def synth_multi(rng, n):
    names = ["billing", "technical", "urgent", "überfällig"]
    rows = []
    for i in range(n):
        labels = sorted(rng.sample(names, rng.choice([0, 1, 1, 2, 2, 3])))
        if i < len(names):
            labels = [names[i]]
        words = []
        for _ in range(rng.randint(4, 24)):
            if labels and rng.random() < 0.5:
                lab = rng.choice(labels)
                words.append(f"{lab[:4]}{rng.randint(0, 5)}" if rng.random() < 0.5 else lab.upper())
            else:
                words.append(rng.choice(NOISE))
        rows.append({"text": " ".join(words), "labels": labels})
    return rows


def load(path, key):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                texts.append(row["text"])
                labels.append(row[key] if key == "labels" else str(row[key]))
    return texts, labels


def best_threshold(y, s):
    """verto's micro-F1 threshold search (vt_multilabel_best_threshold)."""
    y, s = y.ravel(), s.ravel()
    T = int(y.sum())
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    tp = P = best_tp = best_P = 0
    best_end, g = 0, 0
    while g < len(ss):
        e = g
        while e < len(ss) and ss[e] == ss[g]:
            tp += int(ys[e])
            e += 1
        P += e - g
        if tp * (T + best_P) > best_tp * (T + P):
            best_tp, best_P, best_end = tp, P, e
        g = e
    if best_end == 0:
        return float(np.nextafter(ss[0], np.inf)), 0.0
    v = float(ss[best_end - 1])
    thr = v
    if best_end < len(ss):
        w = float(ss[best_end])
        mid = v / 2 + w / 2
        if w < mid <= v:
            thr = mid
    return thr, 2 * best_tp / (T + best_P)


def run_case(name, train_path, dev_path, multi, min_df, out):
    key = "labels" if multi else "label"
    tr, dv = load(train_path, key), load(dev_path, key)
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)
    X = vec.fit_transform(tr[0])
    Xd = vec.transform(dv[0])
    if multi:
        labels = sorted({l for ls in tr[1] for l in ls})
        Y = np.array([[int(l in ls) for l in labels] for ls in tr[1]])
        Yd = np.array([[int(l in ls) for l in labels] for ls in dv[1]])
    else:
        labels = sorted(set(tr[1]))
    scores, models, thresholds = [], [], []
    for C in GRID:
        lr = LogisticRegression(C=C, tol=TOL, max_iter=MAX_ITER)
        if multi:
            m = OneVsRestClassifier(lr).fit(X, Y)
            thr, f1 = best_threshold(Yd, m.predict_proba(Xd))
            pred = (m.predict_proba(Xd) >= thr).astype(int)
            if Yd.sum() and abs(f1 - f1_score(Yd, pred, average="micro", zero_division=0)) > 1e-12:
                sys.exit(f"{name}: the threshold search disagrees with f1_score")
            scores.append(f1)
            thresholds.append(thr)
        else:
            m = lr.fit(X, tr[1])
            assert list(m.classes_) == labels
            scores.append(accuracy_score(dv[1], m.predict(Xd)))
            thresholds.append(0.5)
        models.append(m)
    best = max(range(len(GRID)), key=lambda i: (scores[i], -i))  # the earlier on ties
    probs = models[best].predict_proba(Xd)
    ref = {
        "train": str(train_path), "dev": str(dev_path), "multi_label": multi, "min_df": min_df,
        "grid": GRID, "tol": TOL, "max_iter": MAX_ITER, "labels": labels,
        "vocab": [str(t) for t in vec.get_feature_names_out()], "idf": vec.idf_.tolist(),
        "dev_scores": scores, "chosen_c": GRID[best], "threshold": thresholds[best],
        "dev_probs": probs.tolist(),
    }
    (out / f"baseline_{name}.json").write_text(json.dumps(ref, ensure_ascii=False))
    print(f"  baseline {name}: {len(ref['vocab'])} terms, dev scores {['%.4f' % s for s in scores]}, C {GRID[best]}")


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/ref").resolve()
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(23)
    for split, n in (("train", 150), ("dev", 60)):
        write_jsonl(out / f"baseline_topics_{split}.jsonl", synth_single(rng, n))
        write_jsonl(out / f"baseline_multilabel_{split}.jsonl", synth_multi(rng, n))
    run_case("spam", REPO / "data/spam/train.jsonl", REPO / "data/spam/dev.jsonl", False, 2, out)
    run_case("topics", out / "baseline_topics_train.jsonl", out / "baseline_topics_dev.jsonl", False, 1, out)
    run_case("multilabel", out / "baseline_multilabel_train.jsonl", out / "baseline_multilabel_dev.jsonl", True, 1, out)


if __name__ == "__main__":
    main()

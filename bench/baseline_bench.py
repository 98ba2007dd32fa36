#!/usr/bin/env python3
"""verto baseline against scikit-learn in one run: fit (TF-IDF + the C search
on dev) and predict (the test set's probabilities), same data, same settings.

  bench/baseline_bench.py [--data DIR] [--verto build/verto] [--repeats 3] [--min-df 1]

DIR holds train.jsonl, dev.jsonl, test.jsonl (default data/spam, the shipped
sample; scripts/make_spam_split.py --out DIR writes the full corpus from
../shared/data). Each system does the whole job from the files:
  verto         `verto baseline --train --dev -o DIR` then `verto predict --jsonl
                --input test` (processes, so reading the files and starting up
                count), with OMP_NUM_THREADS 1 and 2;
  scikit-learn  reading the JSONL, TfidfVectorizer(ngram_range=(1, 2),
                sublinear_tf=True, min_df) fit on train, LogisticRegression(C,
                tol, max_iter) for each C of 0.1, 1, 10, 100, 1000 scored by dev
                accuracy, predict_proba on test: at tol 1e-8 (verto's default,
                the optimum) and at its default tol 1e-4.
Wall seconds, best of --repeats; the chosen C and test accuracy show the
systems did the same job. Prints a table and one JSON line.
"""
import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

GRID = [0.1, 1.0, 10.0, 100.0, 1000.0]


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def load(path):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                texts.append(r["text"])
                labels.append(str(r["label"]))
    return texts, labels


def run_sklearn(data, min_df, tol):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    t0 = time.perf_counter()
    tr, dv = load(data / "train.jsonl"), load(data / "dev.jsonl")
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)
    X = vec.fit_transform(tr[0])
    Xd = vec.transform(dv[0])
    best, best_c, model = -1.0, None, None
    for c in GRID:
        m = LogisticRegression(C=c, tol=tol, max_iter=10000).fit(X, tr[1])
        acc = (m.predict(Xd) == dv[1]).mean()
        if acc > best:
            best, best_c, model = acc, c, m
    t1 = time.perf_counter()
    te = load(data / "test.jsonl")
    p = model.predict_proba(vec.transform(te[0]))
    t2 = time.perf_counter()
    acc = (model.classes_[p.argmax(1)] == te[1]).mean()
    return t1 - t0, t2 - t1, best_c, acc


def run_verto(verto, data, min_df, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([verto, "baseline", "--train", data / "train.jsonl", "--dev", data / "dev.jsonl", "-o", tmp,
                        "--min-df", str(min_df)], env=env, check=True, stdout=subprocess.DEVNULL)
        t1 = time.perf_counter()
        out = subprocess.run([verto, "predict", "--model", tmp, "--jsonl", "--input", data / "test.jsonl"], env=env,
                             check=True, capture_output=True, text=True).stdout
        t2 = time.perf_counter()
        c = json.load(open(Path(tmp) / "config.json"))["C"]
    labels = load(data / "test.jsonl")[1]
    pred = [json.loads(l)["label"] for l in out.splitlines()]
    return t1 - t0, t2 - t1, c, sum(a == b for a, b in zip(pred, labels)) / len(labels)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/spam")
    ap.add_argument("--verto", default="build/verto")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--min-df", type=int, default=1)
    a = ap.parse_args()
    data = Path(a.data)
    systems = [
        ("verto, 1 thread", lambda: run_verto(a.verto, data, a.min_df, 1)),
        ("verto, 2 threads", lambda: run_verto(a.verto, data, a.min_df, 2)),
        ("scikit-learn, tol 1e-8", lambda: run_sklearn(data, a.min_df, 1e-8)),
        ("scikit-learn, tol 1e-4 (default)", lambda: run_sklearn(data, a.min_df, 1e-4)),
    ]
    rows = []
    for name, fn in systems:
        runs = [fn() for _ in range(a.repeats)]
        fit = min(r[0] for r in runs)
        pred = min(r[1] for r in runs)
        rows.append({"system": name, "fit_s": fit, "predict_s": pred, "C": runs[0][2], "test_accuracy": runs[0][3]})
    n = {s: sum(1 for l in open(data / f"{s}.jsonl") if l.strip()) for s in ("train", "dev", "test")}
    print(f"data {data}: train {n['train']}, dev {n['dev']}, test {n['test']}; min_df {a.min_df}; CPU {cpu_name()}, "
          f"{os.cpu_count()} cores; best of {a.repeats}")
    print(f"{'system':34} {'fit s':>8} {'predict s':>10} {'C':>7} {'test acc':>9}")
    for r in rows:
        print(f"{r['system']:34} {r['fit_s']:8.2f} {r['predict_s']:10.2f} {r['C']:7g} {r['test_accuracy']:9.4f}")
    print(json.dumps({"data": str(data), "sizes": n, "min_df": a.min_df, "cpu": cpu_name(), "rows": rows}))


if __name__ == "__main__":
    main()

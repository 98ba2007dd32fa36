#!/usr/bin/env python3
"""Reference multi-label and regression metrics from scikit-learn and SciPy for
tests/unit/test_mlreg_metrics.c.

Usage: gen_mlreg_metrics.py OUT_DIR  -> OUT_DIR/mlreg_metrics.safetensors

Multi-label cases ml0 .. ml{N-1} (N in "ml_cases", I32): seeded draws of many
sizes, including one row, one label, rows without labels, an all-zero y_true,
columns that are all 0 or all 1 in y_true, scores on a coarse grid (ties) and
continuous ones. Each has y_true (n, L) U8, score (n, L) F64, threshold (1)
F64 and, from predictions score >= threshold:
  subset_accuracy (accuracy_score), hamming_loss (hamming_loss),
  {micro,macro,weighted,samples}_{precision,recall,f1} from
      precision_recall_fscore_support(average=..., zero_division=0),
  precision, recall, f1, support (L) from precision_recall_fscore_support(average=None),
  roc_auc (L): roc_auc_score of each column, NaN where its y_true has one class,
  roc_auc_micro / roc_auc_macro: roc_auc_score(average="micro" / "macro"), NaN
      where sklearn returns NaN or raises (a column with one class),
  (One label: sklearn reads an (n, 1) indicator as binary data, so those
  figures come from the binary problem, average="binary", where micro = macro
  = weighted = the label's own, and the samples figures from the matrix with an
  all-zero column appended, which changes no example's counts.)
  best_threshold, best_f1: the exhaustive search over every distinct score v
      (predict score >= v) of micro F1 = 2 tp / (T + P) (checked equal to
      f1_score(average="micro") on every 97th candidate and the result), ties to the largest v,
      the threshold placed at v/2 + w/2 (w the next lower distinct score) as
      vt_multilabel_best_threshold documents; nextafter(max, inf) when y_true
      has no label.
Regression cases rg0 .. rg{M-1} (M in "rg_cases"): y_true, y_pred (n) F64 and
mse, rmse, mae, r2 (mean_squared_error, root_mean_squared_error,
mean_absolute_error, r2_score; r2 NaN for n < 2), pearson, spearman
(scipy.stats.pearsonr / spearmanr statistics; NaN for constant input and, where
SciPy raises, n < 2), as F64 of 1 element.
"""
import sys
import warnings
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

try:
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import (accuracy_score, f1_score, hamming_loss, mean_absolute_error, mean_squared_error,
                                 precision_recall_fscore_support, r2_score, roc_auc_score, root_mean_squared_error)
except ImportError:
    sys.exit("gen_mlreg_metrics.py needs scikit-learn and scipy: pip install scikit-learn scipy")

warnings.simplefilter("ignore")  # sklearn's and SciPy's warnings on the undefined cases are expected


def one(x):
    return np.array([x], dtype=np.float64)


def auc_or_nan(y, s, **kw):
    try:
        return float(roc_auc_score(y, s, **kw))
    except ValueError:
        return np.nan


def sklearn_micro_f1(y, pred):
    if y.shape[1] == 1:  # an (n, 1) indicator is binary data for sklearn
        return f1_score(y[:, 0], pred[:, 0], average="binary", zero_division=0)
    return f1_score(y, pred, average="micro", zero_division=0)


def best_threshold(y, s):
    values = np.unique(s)[::-1]  # distinct scores, highest first
    best_f1, best_k = 0.0, -1
    truth = y.astype(bool)
    T = int(truth.sum())
    for k, v in enumerate(values):  # micro F1 = 2 tp / (T + P), each candidate counted afresh
        pred = s >= v
        f = 2 * int((pred & truth).sum()) / (T + int(pred.sum()))
        if f > best_f1:
            best_f1, best_k = f, k
        if k % 97 == 0:  # the formula is sklearn's
            assert f == sklearn_micro_f1(y, pred.astype(int))
    if best_k < 0:
        return np.nextafter(values[0], np.inf), 0.0
    v = values[best_k]
    t = v
    if best_k + 1 < len(values):
        w = values[best_k + 1]
        mid = v / 2 + w / 2
        if w < mid <= v:
            t = mid
    assert sklearn_micro_f1(y, (s >= t).astype(int)) == best_f1
    return t, best_f1


def ml_case(out, name, y, s, threshold):
    y = np.ascontiguousarray(y, dtype=np.uint8)
    s = np.ascontiguousarray(s, dtype=np.float64)
    pred = (s >= threshold).astype(np.uint8)
    f = {"y_true": y, "score": s, "threshold": one(threshold),
         "subset_accuracy": one(accuracy_score(y, pred)), "hamming_loss": one(hamming_loss(y, pred))}
    L = y.shape[1]
    for avg in ("micro", "macro", "weighted", "samples"):
        if L > 1:
            p, r, f1, _ = precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        elif avg != "samples":  # sklearn reads an (n, 1) indicator as binary data: the label's own figures
            p, r, f1, _ = precision_recall_fscore_support(y[:, 0], pred[:, 0], average="binary", zero_division=0)
        else:  # an all-zero column changes no example's counts, and makes the data multi-label for sklearn
            z = np.zeros_like(y)
            p, r, f1, _ = precision_recall_fscore_support(np.hstack([y, z]), np.hstack([pred, z]), average=avg,
                                                          zero_division=0)
        f[f"{avg}_precision"], f[f"{avg}_recall"], f[f"{avg}_f1"] = one(p), one(r), one(f1)
    if L > 1:
        p, r, f1, sup = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    else:
        p, r, f1, sup = precision_recall_fscore_support(y[:, 0], pred[:, 0], labels=[1], average=None, zero_division=0)
    f["precision"], f["recall"], f["f1"], f["support"] = p, r, f1, sup.astype(np.float64)
    f["roc_auc"] = np.array([auc_or_nan(y[:, j], s[:, j]) if 0 < y[:, j].sum() < len(y) else np.nan
                             for j in range(L)])
    f["roc_auc_micro"] = one(auc_or_nan(y, s, average="micro") if 0 < y.sum() < y.size else np.nan)
    f["roc_auc_macro"] = one(auc_or_nan(y, s, average="macro") if L > 1 else f["roc_auc"][0])
    t, bf = best_threshold(y, s)
    f["best_threshold"], f["best_f1"] = one(t), one(bf)
    for k, v in f.items():
        out[f"{name}.{k}"] = np.ascontiguousarray(v if v.dtype == np.uint8 else v.astype(np.float64))


def rg_case(out, name, y, p):
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    n = len(y)
    f = {"y_true": y, "y_pred": p, "mse": mean_squared_error(y, p), "rmse": root_mean_squared_error(y, p),
         "mae": mean_absolute_error(y, p), "r2": r2_score(y, p)}
    if n >= 2:
        f["pearson"] = pearsonr(y, p).statistic
        f["spearman"] = spearmanr(y, p).statistic
    else:  # SciPy raises for pearsonr; both undefined
        f["pearson"] = f["spearman"] = np.nan
    for k, v in f.items():
        out[f"{name}.{k}"] = np.ascontiguousarray(np.asarray(v, dtype=np.float64).reshape(-1))


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20250607)
    out = {}
    ml = []
    sizes = [(1, 1), (1, 4), (2, 1), (5, 3), (7, 2), (30, 1), (40, 6), (100, 5), (250, 12), (600, 20), (1500, 8)]
    for n, L in sizes:
        for coarse in (True, False):
            rate = rng.uniform(0.05, 0.5, L)
            y = (rng.random((n, L)) < rate).astype(np.uint8)
            s = np.clip(0.35 * y + rng.normal(0.3, 0.25, (n, L)), 0, 1)
            if coarse:
                s = np.round(s, 1)  # ties
            ml.append((y, s, rng.choice([0.5, 0.3, 0.65, float(np.round(rng.uniform(0.1, 0.9), 2))])))
    # rows with no true labels and no predictions; a column all 0 and one all 1
    y = (rng.random((60, 5)) < 0.3).astype(np.uint8)
    y[:15] = 0
    y[:, 1] = 0
    y[:, 3] = 1
    s = np.round(rng.random((60, 5)), 2)
    s[:10] = 0.01
    ml.append((y, s, 0.5))
    # y_true all zero (every F1 0; ROC-AUC undefined; the "predict nothing" threshold)
    ml.append((np.zeros((20, 4), np.uint8), np.round(rng.random((20, 4)), 1), 0.5))
    # everything true, everything predicted
    ml.append((np.ones((9, 3), np.uint8), np.full((9, 3), 0.9), 0.5))
    # every score equal (one candidate), threshold above and below it
    y = (rng.random((25, 4)) < 0.4).astype(np.uint8)
    ml.append((y, np.full((25, 4), 0.4), 0.4))
    ml.append((y, np.full((25, 4), 0.4), 0.41))
    # logits rather than probabilities, threshold 0
    y = (rng.random((80, 7)) < 0.3).astype(np.uint8)
    ml.append((y, 2.0 * y + rng.normal(-1.0, 1.5, (80, 7)), 0.0))
    for k, (y, s, t) in enumerate(ml):
        ml_case(out, f"ml{k}", y, s, t)
    out["ml_cases"] = np.array([len(ml)], dtype=np.int32)

    rg = []
    for n in (1, 2, 3, 5, 10, 37, 100, 1000, 5000):
        y = rng.normal(2.0, 1.5, n)
        rg.append((y, y + rng.normal(0, 0.8, n)))
        rg.append((np.round(y), np.round(0.5 * y + rng.normal(0, 1, n))))  # ties
    y = rng.normal(0, 1, 50)
    rg.append((y, np.full(50, 0.3)))                   # constant predictions: Pearson/Spearman NaN
    rg.append((np.full(50, 1.5), y))                   # constant targets: R^2 0
    rg.append((np.full(6, 2.0), np.full(6, 2.0)))      # constant and exact: R^2 1
    rg.append((y, y.copy()))                           # exact
    rg.append((y, -3 * y + 1))                         # perfectly anti-correlated
    rg.append((1e6 + y, 1e6 + y + rng.normal(0, 0.1, 50)))  # large offset
    rg.append((1e-8 * y, 1e-8 * rng.normal(0, 1, 50)))       # small scale
    rg.append((np.array([1.0, 2.0]), np.array([2.0, 1.0])))
    for k, (y, p) in enumerate(rg):
        rg_case(out, f"rg{k}", y, p)
    out["rg_cases"] = np.array([len(rg)], dtype=np.int32)
    save_file(out, str(out_dir / "mlreg_metrics.safetensors"))


if __name__ == "__main__":
    main()

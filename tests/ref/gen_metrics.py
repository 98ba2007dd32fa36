#!/usr/bin/env python3
"""Reference classification metrics from scikit-learn for tests/unit/test_metrics.c.

Usage: gen_metrics.py OUT_DIR  -> OUT_DIR/metrics.safetensors

Cases (seeded numpy draws; each has y_true, y_pred (I32), k (I32, 1 element),
score (F64, two-class cases: the score of class 1, rounded to a coarse grid so
that ties occur) and the expected figures as F64):
  accuracy, macro_precision, macro_recall, macro_f1, micro_f1, weighted_f1
      from accuracy_score / precision_recall_fscore_support(average=...) /
      f1_score(average="macro"|"micro"|"weighted") with sklearn's default label
      set (the classes present in y_true or y_pred), zero_division=0
  precision, recall, f1, support (K) from precision_recall_fscore_support(labels=range(K))
  confusion (K, K) from confusion_matrix(labels=range(K))
  roc_auc (1 element; NaN if not a two-class case) from roc_auc_score
Names are "<case>.<field>".
"""
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

try:
    from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support,
                                 roc_auc_score)
except ImportError:
    sys.exit("gen_metrics.py needs scikit-learn: pip install scikit-learn")


def case(name, y_true, y_pred, k, score, out):
    y_true = np.asarray(y_true, dtype=np.int32)
    y_pred = np.asarray(y_pred, dtype=np.int32)
    labels = list(range(k))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    fields = {
        "y_true": y_true, "y_pred": y_pred, "k": np.array([k], dtype=np.int32),
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_precision": mp, "macro_recall": mr,
        "macro_f1": f1_score(y_true, y_pred, average="macro", zero_division=0),
        "micro_f1": f1_score(y_true, y_pred, average="micro", zero_division=0),
        "weighted_f1": f1_score(y_true, y_pred, average="weighted", zero_division=0),
        "precision": p, "recall": r, "f1": f, "support": s.astype(np.float64),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).astype(np.float64),
        "roc_auc": np.nan,
    }
    assert abs(mf - fields["macro_f1"]) < 1e-12
    if score is not None:
        fields["score"] = np.asarray(score, dtype=np.float64)
        fields["roc_auc"] = roc_auc_score(y_true, score)
    for key, v in fields.items():
        arr = np.asarray(v)
        if arr.dtype != np.int32:
            arr = arr.astype(np.float64)
        out[f"{name}.{key}"] = np.ascontiguousarray(arr if arr.ndim == 2 else arr.reshape(-1))

def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240917)
    out = {}
    # two classes, noisy predictions, tied scores
    n = 301
    y = rng.integers(0, 2, n)
    score = np.round(np.clip(0.3 * y + rng.normal(0.35, 0.25, n), 0, 1), 1)
    case("bin", y, (score > 0.5).astype(int), 2, score, out)
    # two classes, heavily imbalanced, continuous scores
    n = 500
    y = (rng.random(n) < 0.05).astype(int)
    score = rng.random(n) + 0.4 * y
    case("imb", y, (score > 0.7).astype(int), 2, score, out)
    # three classes
    n = 400
    y = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n))
    case("three", y, pred, 3, None, out)
    # five classes: class 4 never occurs, class 3 only in predictions
    n = 250
    y = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.5, y, rng.integers(0, 4, n))
    case("absent", y, pred, 5, None, out)
    # all one prediction (precision zero_division for the others)
    y = rng.integers(0, 4, 60)
    case("const", y, np.zeros(60, dtype=int), 4, None, out)
    save_file(out, str(out_dir / "metrics.safetensors"))


if __name__ == "__main__":
    main()

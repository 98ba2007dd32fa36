#!/usr/bin/env bash
# verto explain against Captum's LayerIntegratedGradients and a NumPy
# attention rollout on random BERT, RoBERTa and DistilBERT classifiers
# (single-label, multi-label, regression; tolerances in
# tests/scripts/explain_reference.py), and its bad-input errors.
set -euo pipefail
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/check.sh"

"$py" tests/scripts/explain_reference.py "$verto" "$tmp" || failures=$((failures + 1))

fails_with() { # fails_with MESSAGE COMMAND...: a non-zero exit and MESSAGE on stderr
    local want=$1; shift
    ! "$@" >/dev/null 2>"$tmp/err" && grep -q -- "$want" "$tmp/err"
}
check "an unknown --target is refused" fails_with "neither a label" "$verto" explain --model "$tmp/bert" --target nope hi
check "an unknown --method is refused" fails_with "integrated-gradients or rollout" "$verto" explain --model "$tmp/bert" --method shap hi
check "riemann with 1 step is refused" fails_with "at least 2 steps" "$verto" explain --model "$tmp/bert" --rule riemann_left --steps 1 hi
check "a directory without a classifier is refused" fails_with "error:" "$verto" explain --model "$tmp/raw-bpe" hi
html_page() { # the page holds the words escaped, their attributions, and nothing fetched from elsewhere
    "$verto" explain --model "$tmp/bert" --steps 8 --html "$tmp/page.html" 'free <money> & more' >/dev/null &&
        grep -q 'data-attribution' "$tmp/page.html" && grep -q '>&lt;<' "$tmp/page.html" &&
        ! grep -Eq '(src|href)="?(https?:)?//' "$tmp/page.html"
}
check "--html writes a self-contained page" html_page
[ "$failures" -eq 0 ]

#!/usr/bin/env bash
# The reference tests of whole models pass with every GEMM backend forced
# (VT_GEMM=onednn|blis|openblas), not only with the table's pick; verto
# --version names the libraries, and a VT_GEMM it does not know stops every
# command with one error line naming the value.
set -uo pipefail
build=${VT_BUILD:-build}
verto="$build/verto"
export VT_REF_DIR=${VT_REF_DIR:-$build/ref}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

for gemm in onednn blis openblas; do
    for t in test_bert_ref test_batch_exact test_kernels_matmul; do
        VT_GEMM=$gemm "$build/tests/$t" >"$tmp/out" 2>&1
        rc=$?
        check "$t with VT_GEMM=$gemm" test $rc -eq 0
        [ $rc -eq 0 ] || tail -20 "$tmp/out"
    done
done

"$verto" --version >"$tmp/v" 2>&1
check "--version names BLIS and OpenBLAS" grep -Eq '^f32 products: .*\(BLIS [0-9.]+ \(.*\), OpenBLAS [0-9.]+ \(.*\)\)$' "$tmp/v"
VT_GEMM=mkl "$verto" --version >"$tmp/bad" 2>&1
check "VT_GEMM=mkl fails" test $? -ne 0
check "the error names the value" grep -q 'VT_GEMM=mkl' "$tmp/bad"
exit $((failures > 0))

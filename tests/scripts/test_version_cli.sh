#!/usr/bin/env bash
# verto --version names verto's and oneDNN's versions, the CPU and the
# instruction sets in use; VERTO_MAX_ISA caps them (and says so), and a value
# verto does not know stops every command with one error line naming it.
set -uo pipefail
build=${VT_BUILD:-build}
verto="$build/verto"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

env -u VERTO_MAX_ISA "$verto" --version >"$tmp/v" 2>&1
check "--version exits 0" test $? -eq 0
cat "$tmp/v" | sed 's/^/    /'
check "names verto's version" grep -Eq '^verto [0-9]+\.[0-9]+\.[0-9]+$' "$tmp/v"
check "names oneDNN's version" grep -Eq '^oneDNN [0-9]+\.[0-9]+\.[0-9]+ \(kernels: [a-z0-9_]+\)$' "$tmp/v"
check "names the CPU" grep -q '^CPU: ' "$tmp/v"
check "names the kernels' ISA" grep -Eq '^verto kernels: (avx2|avx512)$' "$tmp/v"
check "says how bf16 runs" grep -Eq '^bf16 products: ' "$tmp/v"
if grep -q avx512bw /proc/cpuinfo && grep -q avx512vl /proc/cpuinfo && grep -q avx512dq /proc/cpuinfo; then
    check "an AVX-512 CPU runs the AVX-512 kernels" grep -q '^verto kernels: avx512$' "$tmp/v"
else
    check "an AVX2 CPU runs the AVX2 kernels, bf16 emulated" \
        sh -c "grep -q '^verto kernels: avx2\$' '$tmp/v' && grep -q 'emulated' '$tmp/v'"
fi

VERTO_MAX_ISA=AVX2 "$verto" --version >"$tmp/capped" 2>&1
check "capped: AVX2 kernels, naming the cap" grep -q '^verto kernels: avx2 (VERTO_MAX_ISA=AVX2)$' "$tmp/capped"
check "capped: oneDNN capped too" grep -Eq '^oneDNN .*\(kernels: avx2[a-z_]*\)$' "$tmp/capped"
check "capped: bf16 emulated" grep -q '^bf16 products: emulated' "$tmp/capped"

VERTO_MAX_ISA=sse4 "$verto" --version >"$tmp/out" 2>"$tmp/err"
rc=$?
check "unknown VERTO_MAX_ISA: non-zero exit" test $rc -ne 0
check "unknown VERTO_MAX_ISA: one error line naming it" \
    sh -c "test \$(wc -l <'$tmp/err') -eq 1 && grep -q \"^error: VERTO_MAX_ISA='sse4'\" '$tmp/err'"
check "unknown VERTO_MAX_ISA: nothing on stdout" test ! -s "$tmp/out"

echo "test_version_cli: $failures failure(s)"
[ "$failures" -eq 0 ]

#!/usr/bin/env bash
# libverto.so exports exactly the functions include/verto/ declares (VT_API):
# every declared one is there, and nothing else is (the library is built
# with -fvisibility=hidden, so internals such as bert_linear_forward or the
# kernels' per-ISA builds stay inside).
set -uo pipefail
build=${VT_BUILD:-build}
lib="$build/libverto.so"
[ -f "$lib" ] || { echo "error: $lib not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

# declared: the name before the first '(' of every VT_API declaration
ls include/verto/*.h | grep -v /export.h | xargs cat | tr '\n' ' ' | grep -o 'VT_API [^(;]*(' | sed 's/($//; s/.*[ *]//' | sort -u >"$tmp/declared"
# exported: defined dynamic symbols, less the sanitizers' and the compiler's own (__*, .*)
nm -D --defined-only "$lib" | awk '{print $NF}' | grep -v '^__\|^\.\|^_init$\|^_fini$' | sort -u >"$tmp/exported"
echo "  $(wc -l <"$tmp/declared") functions declared with VT_API, $(wc -l <"$tmp/exported") symbols exported"
comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/missing"
comm -13 "$tmp/declared" "$tmp/exported" >"$tmp/extra"
sed 's/^/    declared, not exported: /' "$tmp/missing" | head -20
sed 's/^/    exported, not declared: /' "$tmp/extra" | head -20
check "every declared function is exported" test ! -s "$tmp/missing"
check "nothing else is exported" test ! -s "$tmp/extra"
check "internals are hidden (bert_linear_forward, vt_layernorm_forward_avx2)" \
    sh -c "! grep -qx 'bert_linear_forward\|vt_layernorm_forward_avx2' '$tmp/exported'"
# a prototype at the start of a line without VT_API would be hidden by mistake
grep -nE '^[a-z_][a-z0-9_ ]*[ *]+(vt|verto)_[a-z0-9_]+\(' include/verto/*.h | grep -v ':VT_API \|:typedef \|:static ' >"$tmp/unmarked"
sed 's/^/    declared without VT_API: /' "$tmp/unmarked" | head -20
check "every prototype in include/verto carries VT_API" test ! -s "$tmp/unmarked"
check "the API is not empty" test "$(wc -l <"$tmp/declared")" -gt 200

echo "test_exports: $failures failure(s)"
[ "$failures" -eq 0 ]

#!/usr/bin/env bash
# verto prepare-pretraining --objective clm as a user runs it: text, JSONL and
# --text-from inputs, --verify, and the failures (invalid UTF-8 naming
# file:line, a tokenizer without an end-of-text token, --eos-token with
# another objective, a corpus shorter than one block), each with a non-zero
# exit and one "error: ..." line. The tokenizer is the byte-level BPE of
# tests/ref/gen_pretrain_clm.py, whose blocks test_pretrain_clm compares.
set -uo pipefail
build=${VT_BUILD:-build}
verto="$build/verto"
ref=${VT_REF_DIR:-$build/ref}
tok="$ref/clm/tokenizer.json"
corpus=tests/data/pretrain/sotu_sample.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

expect_error() { # description, expected text, args...
    local what=$1 want=$2; shift 2
    "$verto" prepare-pretraining "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    echo "    -> $(cat "$tmp/err")"
    check "$what: non-zero exit" test "$rc" -ne 0
    check "$what: one error line" test "$(wc -l <"$tmp/err")" -eq 1
    check "$what: says '$want'" grep -qF -- "$want" "$tmp/err"
}

check "the reference tokenizer exists ($tok)" test -f "$tok"
"$verto" prepare-pretraining --help | grep -q -- '--eos-token'
check "--help lists --eos-token" test $? -eq 0

"$verto" prepare-pretraining -q --objective clm --tokenizer "$tok" -o "$tmp/text" --max-seq-length 64 \
    --instances-per-shard 300 "$corpus" >"$tmp/out"
check "text corpus: exit 0" test $? -eq 0
cat "$tmp/out"
check "text corpus: 782 blocks of 64, 40 tokens dropped" grep -q "782 blocks of 64 tokens, 3 shards (clm; the last 40 tokens" "$tmp/out"
check "manifest says clm" grep -q '"objective":.*"clm"' "$tmp/text/manifest.json"
"$verto" prepare-pretraining --verify "$tmp/text" --tokenizer "$tok" >"$tmp/out"
check "--verify: exit 0" test $? -eq 0
check "--verify reports the blocks" grep -q "ok: clm, 3 shards, 782 blocks of 64" "$tmp/out"

python3 - "$corpus" "$tmp/docs.jsonl" "$tmp/docs.csv" <<'PY'
import csv, json, sys
docs = [d.strip("\n") for d in open(sys.argv[1], encoding="utf-8").read().split("\n\n") if d.strip()]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for d in docs:
        f.write(json.dumps({"body": d}) + "\n")
with open(sys.argv[3], "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    for i, d in enumerate(docs):
        w.writerow([d.replace("\n", " "), i % 2])
PY
"$verto" prepare-pretraining -q --objective clm --tokenizer "$tok" -o "$tmp/jsonl" --max-seq-length 64 --jsonl \
    --text-field body "$tmp/docs.jsonl" >"$tmp/out"
check "JSONL: exit 0" test $? -eq 0
check "JSONL: the same 782 blocks" grep -q "782 blocks of 64 tokens" "$tmp/out"
"$verto" prepare-pretraining -q --objective clm --tokenizer "$tok" -o "$tmp/set" --max-seq-length 64 --text-from \
    "$tmp/docs.csv" >"$tmp/out"
check "--text-from a labelled CSV: exit 0" test $? -eq 0
check "--text-from: 96 documents" grep -q "96 documents" "$tmp/out"

printf 'good line\n\nbad \xff line\n' >"$tmp/bad.txt"
expect_error "invalid UTF-8" "bad.txt:3: invalid UTF-8" --objective clm --tokenizer "$tok" -o "$tmp/x" "$tmp/bad.txt"
expect_error "no end-of-text token" "no end-of-text token" --objective clm \
    --tokenizer tests/data/tokenizer/uncased/vocab.txt -o "$tmp/x" "$corpus"
expect_error "--eos-token not in the vocabulary" 'no token "<eot>"' --objective clm --eos-token '<eot>' \
    --tokenizer "$tok" -o "$tmp/x" "$corpus"
expect_error "--eos-token with mlm" "--eos-token is for --objective clm" --objective mlm --eos-token '</s>' \
    --tokenizer "$tok" -o "$tmp/x" "$corpus"
printf 'a few words\n' >"$tmp/short.txt"
expect_error "shorter than a block" "fewer than one block of 128" --objective clm --tokenizer "$tok" -o "$tmp/x" \
    "$tmp/short.txt"
check "failed runs wrote nothing" test ! -e "$tmp/x/manifest.json"
[ "$failures" -eq 0 ]

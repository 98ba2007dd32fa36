#!/usr/bin/env bash
# verto prepare-pretraining as a user runs it: a good run (text and JSONL),
# --help, --verify, then every failure — malformed JSONL, an empty corpus, a
# missing or malformed vocabulary, a vocabulary that does not match the
# shards, an output directory that cannot be made, bad options — each with a
# non-zero exit, exactly one "error: ..." line, and the earlier outputs intact.
set -uo pipefail
build=${VT_BUILD:-build}
verto="$build/verto"
vocab=tests/data/tokenizer/uncased/vocab.txt
corpus=tests/data/pretrain/sotu_sample.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

# A failing run: exit status non-zero, exactly one stderr line "error: ...",
# which contains $2; prints it.
expect_error() { # description, expected text, args...
    local what=$1 want=$2; shift 2
    "$verto" prepare-pretraining "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    echo "    -> $(cat "$tmp/err")"
    check "$what: non-zero exit" test "$rc" -ne 0
    check "$what: one error line" test "$(wc -l <"$tmp/err")" -eq 1
    check "$what: starts with error:" grep -q '^error: ' "$tmp/err"
    check "$what: says '$want'" grep -qF -- "$want" "$tmp/err"
}

snapshot() { (cd "$1" && ls -A && cat manifest.json shard-*.vtpt) | sha256sum; }

# ---- good runs
"$verto" prepare-pretraining --help >"$tmp/help"
check "--help exits 0" test $? -eq 0
check "--help lists --whole-word-mask" grep -q -- '--whole-word-mask' "$tmp/help"
check "listed in verto --help" sh -c "'$verto' --help | grep -q prepare-pretraining"
out="$tmp/out1"
"$verto" prepare-pretraining --vocab "$vocab" -o "$out" --dupe-factor 2 --instances-per-shard 300 --seed 7 \
    "$corpus" >"$tmp/summary" 2>"$tmp/bar"
check "text corpus prepared" test $? -eq 0
cat "$tmp/summary"
check "summary names documents, instances, tokens, shards" \
    grep -qE '96 documents, [0-9]+ instances, [0-9]+ tokens, [0-9]+ shards' "$tmp/summary"
check "progress line counts the input bytes" grep -q "$(wc -c <"$corpus")/$(wc -c <"$corpus")" "$tmp/bar"
check "several shards + manifest" test -f "$out/shard-00001.vtpt" -a -f "$out/manifest.json"
check "no staging folder left" sh -c "! ls -A '$out' | grep -q staging"
check "--verify reads every shard" "$verto" prepare-pretraining --verify "$out" --vocab "$vocab"
again="$tmp/again"
"$verto" prepare-pretraining -q --vocab "$vocab" -o "$again" --dupe-factor 2 --instances-per-shard 300 --seed 7 "$corpus" >/dev/null
check "same seed, same bytes" test "$(snapshot "$out")" = "$(snapshot "$again")"
printf '%s\n' '{"id": 1, "text": "The first document.\nIts second sentence."}' '' \
    '{"id": 2, "body": "ignored", "text": "Another document, with one line."}' >"$tmp/docs.jsonl"
check "JSONL with --text-field" "$verto" prepare-pretraining -q --vocab "$vocab" -o "$tmp/j" --jsonl --text-field text \
    --whole-word-mask --dynamic-masking "$tmp/docs.jsonl"
check "dynamic manifest" grep -q '"masking":.*"dynamic"' "$tmp/j/manifest.json"

before=$(snapshot "$out")
# ---- failures, each into the directory of the first run
printf '%s\n' '{"text": "good line"}' '{"text": "unterminated' >"$tmp/bad.jsonl"
expect_error "malformed JSONL" "bad.jsonl:2: malformed JSON" --vocab "$vocab" -o "$out" --jsonl "$tmp/bad.jsonl"
printf '%s\n' '{"title": "x"}' >"$tmp/nofield.jsonl"
expect_error "JSONL without the field" 'nofield.jsonl:1: no "body" field' --vocab "$vocab" -o "$out" --jsonl \
    --text-field body "$tmp/nofield.jsonl"
printf '\n\n   \n' >"$tmp/empty.txt"
expect_error "empty corpus" "no text in" --vocab "$vocab" -o "$out" "$tmp/empty.txt"
: >"$tmp/zero.txt"
expect_error "zero-byte corpus" "no text in" --vocab "$vocab" -o "$out" "$tmp/zero.txt"
expect_error "missing input" "missing.txt" --vocab "$vocab" -o "$out" "$tmp/missing.txt"
expect_error "missing vocabulary" "nope/vocab.txt" --vocab "$tmp/nope/vocab.txt" -o "$out" "$corpus"
printf 'hello\nworld\n' >"$tmp/tiny_vocab.txt"
expect_error "vocabulary without special tokens" "tiny_vocab.txt: tokenizer: the vocabulary has no [PAD]" --vocab "$tmp/tiny_vocab.txt" -o "$out" "$corpus"
printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n' >"$tmp/nomask_vocab.txt"
expect_error "vocabulary without [MASK]" "[MASK]" --vocab "$tmp/nomask_vocab.txt" -o "$out" "$corpus"
printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n' >"$tmp/other_vocab.txt"
expect_error "shards checked against another vocabulary" "different vocabulary" --verify "$out" \
    --vocab "$tmp/other_vocab.txt"
expect_error "output under a regular file" "Not a directory" --vocab "$vocab" -o "$corpus/sub" "$corpus"
touch "$tmp/afile"
expect_error "output is a regular file" "afile" --vocab "$vocab" -o "$tmp/afile" "$corpus"
expect_error "max-seq-length out of range" "--max-seq-length must be between" --vocab "$vocab" -o "$out" \
    --max-seq-length 4 "$corpus"
expect_error "masked-lm-prob not a number" "--masked-lm-prob expects a number" --vocab "$vocab" -o "$out" \
    --masked-lm-prob abc "$corpus"
expect_error "no input files" "at least one input file" --vocab "$vocab" -o "$out"
expect_error "unknown option" "unknown option" --vocab "$vocab" -o "$out" --frobnicate "$corpus"
check "earlier outputs intact after every failure" test "$(snapshot "$out")" = "$before"
check "no staging folder left after failures" sh -c "! ls -A '$out' | grep -q staging"

# ---- a corrupted shard is reported with its file and place
cp -r "$out" "$tmp/corrupt"
printf 'X' | dd of="$tmp/corrupt/shard-00001.vtpt" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_error "corrupted shard" "shard-00001.vtpt" --verify "$tmp/corrupt" --vocab "$vocab"
[ "$failures" -eq 0 ]

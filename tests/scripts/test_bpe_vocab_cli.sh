#!/usr/bin/env bash
# verto vocab --type bpe (tests/ref/gen_bpe_train.py's mixed text) against
# tokenizers' ByteLevelBPETokenizer(add_prefix_space=False).train:
#   - tokenizer.json, vocab.json and merges.txt are the bytes tokenizers'
#     save / save_model write;
#   - tokenizers.Tokenizer.from_file, PreTrainedTokenizerFast(tokenizer_file=),
#     GPT2TokenizerFast(tokenizer_file=) load verto's tokenizer.json and
#     GPT2Tokenizer.from_pretrained the vocab.json + merges.txt directory, and
#     all give tokenizers' ids on the held-out lines (exact);
#   - verto tokenize on the tokenizer.json and on the directory with only
#     vocab.json + merges.txt prints those ids, and with --json
#     GPT2Tokenizer's character offsets;
#   - invalid UTF-8 (file:line), a size below 256 + specials, an unreadable
#     file: a non-zero status and an error naming the problem.
set -uo pipefail
build=${VT_BUILD:-build}
verto=$build/verto
ref=${VT_REF_DIR:-$build/ref}/bpe_train
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check.sh"

[ -f "$ref/train.txt" ] || { echo "error: $ref/train.txt missing (run tests/ref/gen_bpe_train.py)"; exit 1; }

check "verto vocab --type bpe trains" "$verto" vocab --type bpe --size 900 --min-frequency 2 \
    --special-tokens '<|endoftext|>,<pad>' --vocab-json-merges "$tmp/files" -o "$tmp/tokenizer.json" "$ref/train.txt"

check "tokenizers and transformers load verto's files and give tokenizers' ids" \
    "$py" - "$tmp" "$ref" <<'PY'
import json
import sys
from pathlib import Path
from tokenizers import ByteLevelBPETokenizer, Tokenizer
from transformers import GPT2Tokenizer, GPT2TokenizerFast, PreTrainedTokenizerFast
from transformers.utils import logging
logging.set_verbosity_error()
tmp, ref = Path(sys.argv[1]), Path(sys.argv[2])
t = ByteLevelBPETokenizer(add_prefix_space=False)
t.train([str(ref / "train.txt")], vocab_size=900, min_frequency=2, special_tokens=["<|endoftext|>", "<pad>"],
        show_progress=False)
(tmp / "py").mkdir()
t.save(str(tmp / "py" / "tokenizer.json"))
t.save_model(str(tmp / "py"))
ok = True
for name, mine in (("tokenizer.json", tmp / "tokenizer.json"), ("vocab.json", tmp / "files" / "vocab.json"),
                   ("merges.txt", tmp / "files" / "merges.txt")):
    same = (tmp / "py" / name).read_bytes() == mine.read_bytes()
    print(f"    {name}: {'the same bytes' if same else 'DIFFERS'} as tokenizers'")
    ok &= same
lines = open(ref / "heldout.txt", encoding="utf-8", newline="").read().split("\n")[:-1]  # \r kept
want = [Tokenizer.from_file(str(tmp / "py" / "tokenizer.json")).encode(s).ids for s in lines]
loaders = {
    "Tokenizer.from_file": lambda s, t=Tokenizer.from_file(str(tmp / "tokenizer.json")): t.encode(s).ids,
    "PreTrainedTokenizerFast": lambda s, t=PreTrainedTokenizerFast(tokenizer_file=str(tmp / "tokenizer.json")): t(s)["input_ids"],
    "GPT2TokenizerFast": lambda s, t=GPT2TokenizerFast(tokenizer_file=str(tmp / "tokenizer.json")): t(s)["input_ids"],
    "GPT2Tokenizer (vocab.json + merges.txt)": lambda s, t=GPT2Tokenizer.from_pretrained(str(tmp / "files")): t(s)["input_ids"],
}
for name, enc in loaders.items():
    same = sum(enc(s) == w for s, w in zip(lines, want))
    print(f"    {name}: {same}/{len(lines)} held-out lines with tokenizers' ids")
    ok &= same == len(lines)
# lines verto tokenize reads as they are (it drops a trailing \r; no NUL in a C line)
plain = [s for s in lines if "\r" not in s and "\0" not in s]
(tmp / "lines.txt").write_text("".join(s + "\n" for s in plain), encoding="utf-8")
(tmp / "want.txt").write_text("".join(" ".join(map(str, w)) + "\n" for s, w in zip(lines, want) if s in plain))
# ids and character offsets as GPT2Tokenizer gives them for the vocab.json + merges.txt directory
slow = GPT2Tokenizer.from_pretrained(str(tmp / "files"))
with open(tmp / "want_offsets.jsonl", "w") as f:
    for s in plain:
        e = slow(s, return_offsets_mapping=True)
        f.write(json.dumps({"ids": e["input_ids"], "offsets": [list(o) for o in e["offset_mapping"]]}) + "\n")
print(f"    {len(plain)} lines for verto tokenize")
sys.exit(0 if ok and len(plain) >= 300 else 1)
PY

"$verto" tokenize --tokenizer "$tmp/tokenizer.json" --input "$tmp/lines.txt" >"$tmp/got_json.txt"
check "verto tokenize on tokenizer.json: tokenizers' ids" cmp "$tmp/got_json.txt" "$tmp/want.txt"
"$verto" tokenize --tokenizer "$tmp/files" --input "$tmp/lines.txt" >"$tmp/got_files.txt"
check "verto tokenize on vocab.json + merges.txt: the same ids" cmp "$tmp/got_files.txt" "$tmp/want.txt"
"$verto" tokenize --tokenizer "$tmp/files" --json --input "$tmp/lines.txt" >"$tmp/got_offsets.jsonl"
check "verto tokenize --json on vocab.json + merges.txt: GPT2Tokenizer's ids and character offsets" \
    "$py" -c 'import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
same = sum(x == y for x, y in zip(a, b))
print(f"    {same}/{len(b)} lines with the same ids and offsets")
sys.exit(0 if len(a) == len(b) and same == len(b) else 1)' "$tmp/got_offsets.jsonl" "$tmp/want_offsets.jsonl"

fails_with() { # fails_with PATTERN COMMAND...: a non-zero status and PATTERN in stderr
    local pat=$1; shift
    if "$@" >/dev/null 2>"$tmp/err"; then echo "    exit 0"; return 1; fi
    grep -q -- "$pat" "$tmp/err" || { echo "    stderr: $(cat "$tmp/err")"; return 1; }
}
check "invalid UTF-8 names file:line" fails_with "bad_utf8.txt:2: invalid UTF-8" \
    "$verto" vocab --type bpe --size 1000 -o "$tmp/x.json" "$ref/train.txt" "$ref/bad_utf8.txt"
check "a size below the alphabet + specials is refused" fails_with "below the 256 byte characters" \
    "$verto" vocab --type bpe --size 256 --special-tokens '<|endoftext|>' -o "$tmp/x.json" "$ref/train.txt"
check "an unreadable file is named" fails_with "$tmp/missing.txt" \
    "$verto" vocab --type bpe --size 1000 -o "$tmp/x.json" "$tmp/missing.txt"
check "--type other than wordpiece|bpe is refused" fails_with "wordpiece or bpe" \
    "$verto" vocab --type unigram --size 1000 -o "$tmp/x.json" "$ref/train.txt"
check "--cased is refused with --type bpe" fails_with "go with --type wordpiece" \
    "$verto" vocab --type bpe --cased --size 1000 -o "$tmp/x.json" "$ref/train.txt"
check "nothing written after a failure" test ! -e "$tmp/x.json"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"

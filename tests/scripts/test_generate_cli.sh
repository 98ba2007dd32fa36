#!/usr/bin/env bash
# verto generate against transformers:
# - greedy --json: token-identical to GPT2LMHeadModel.generate(do_sample=False)
#   for 64 new tokens (each prompt run alone there) on five prompts of
#   different lengths, run by verto in batches of 2 and 5 (continuous
#   batching: a finished prompt's place goes to the next one);
# - sampling with a fixed seed: the same run twice gives the same tokens, a
#   prompt gives the same tokens alone as in a batch with others, another
#   seed gives others;
# - a stop string: the text is the greedy text cut before its first
#   occurrence, finish_reason "stop"; one prompt's streamed text equals its
#   --json text;
# - --precision bf16 (bf16 decode weights): most greedy tokens equal fp32's;
# - bad input: a missing model, a prompt too long for the positions, int8.
set -uo pipefail
build=${VT_BUILD:-build}
V="$(pwd)/$build/verto"
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
. "$root/tests/scripts/check.sh"

# A byte-level BPE (tokenizers) and a small GPT-2 with weights large enough
# (initializer_range 0.3) that greedy choices are not near-ties.
python3 "$root/tests/scripts/gpt2_bpe.py" "$root/tests/data/tokenizer/mixed.txt" 400 bpe.json
cat > cfg.json <<'JSON'
{"model_type": "gpt2", "vocab_size": 400, "n_positions": 256, "n_embd": 48, "n_layer": 3, "n_head": 4,
 "activation_function": "gelu_new", "initializer_range": 0.3, "bos_token_id": 0, "eos_token_id": 0}
JSON
check "init a GPT-2 with the tokenizer" "$V" init --config-json cfg.json --tokenizer bpe.json --seed 11 -o m

cat > prompts.txt <<'TXT'
Hello
The quick brown fox jumps over the lazy dog, and then it runs away into the forest.
日本語のテキスト 🙂 mixed
  spaces   and	tabs
a
TXT
"$V" generate --model m --input prompts.txt --greedy --max-new-tokens 64 --json --batch-size 2 > greedy2.jsonl 2> err.txt
"$V" generate --model m --input prompts.txt --greedy --max-new-tokens 64 --json --batch-size 5 > greedy5.jsonl 2>> err.txt
check "greedy: batches of 2 and 5 give the same output" bash -c "[ \$(wc -l < greedy2.jsonl) -eq 5 ] && cmp greedy2.jsonl greedy5.jsonl"
check "greedy token ids equal transformers' generate(do_sample=False), 64 new tokens, each prompt alone" python3 - <<'PY'
import json, torch
from tokenizers import Tokenizer
from transformers import GPT2LMHeadModel
tok = Tokenizer.from_file("m/tokenizer.json")
model = GPT2LMHeadModel.from_pretrained("m").eval()
rows = [json.loads(l) for l in open("greedy2.jsonl")]
prompts = open("prompts.txt", encoding="utf-8").read().split("\n")[:-1]
assert len(rows) == len(prompts) == 5
for p, r in zip(prompts, rows):
    ids = tok.encode(p).ids
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             do_sample=False, max_new_tokens=64, pad_token_id=model.config.eos_token_id)
    ref = out[0, len(ids):].tolist()
    text = tok.decode(ref[:-1] if ref and ref[-1] == model.config.eos_token_id else ref)
    print(f"    prompt of {len(ids)} tokens: {len(ref)} new, verto {len(r['token_ids'])}, finish {r['finish_reason']}")
    assert r["prompt_tokens"] == len(ids), (r["prompt_tokens"], len(ids))
    assert r["token_ids"] == ref, (r["token_ids"], ref)
    assert r["text"] == text, (r["text"], text)
    assert r["finish_reason"] == ("eos" if ref[-1] == model.config.eos_token_id else "length")
PY

sample() { "$V" generate --model m --max-new-tokens 40 --json --temperature 0.9 --top-k 50 --top-p 0.95 --repetition-penalty 1.1 "$@"; }
sample --seed 7 --input prompts.txt --batch-size 3 > s1.jsonl
sample --seed 7 --input prompts.txt --batch-size 3 > s2.jsonl
check "sampling with a fixed seed is reproducible ($(wc -l < s1.jsonl) rows)" bash -c "[ \$(wc -l < s1.jsonl) -eq 5 ] && cmp s1.jsonl s2.jsonl"
sed -n 2p prompts.txt > one.txt
sample --seed 7 --input one.txt > alone.jsonl
check "a prompt sampled alone gives the tokens it got in a batch of 3" bash -c 'cmp alone.jsonl <(sed -n 2p s1.jsonl)'
sample --seed 8 --input one.txt > other.jsonl
check "another seed gives other tokens" bash -c '! cmp -s alone.jsonl other.jsonl'

# bf16 decode weights: the same greedy run reading half the bytes; tokens
# agree with fp32's until rounding flips a near-tie (not at all, in most runs).
"$V" generate --model m --input prompts.txt --greedy --max-new-tokens 64 --json --batch-size 2 --precision bf16 \
    > greedy_bf16.jsonl 2>> err.txt
check "--precision bf16: most greedy tokens equal fp32's ($(python3 - <<'PY'
import json
a = [json.loads(l)["token_ids"] for l in open("greedy2.jsonl")]
b = [json.loads(l)["token_ids"] for l in open("greedy_bf16.jsonl")]
same = sum(next((i for i, (x, y) in enumerate(zip(p, q)) if x != y), min(len(p), len(q))) for p, q in zip(a, b))
print(f"{same} of {sum(map(len, a))} before each prompt's first difference")
PY
))" python3 - <<'PY'
import json
a = [json.loads(l)["token_ids"] for l in open("greedy2.jsonl")]
b = [json.loads(l)["token_ids"] for l in open("greedy_bf16.jsonl")]
assert len(a) == len(b) == 5
same = sum(next((i for i, (x, y) in enumerate(zip(p, q)) if x != y), min(len(p), len(q))) for p, q in zip(a, b))
assert same >= sum(map(len, a)) // 2, same  # a kernel reading wrong weights would differ from the first token
PY

# Stop strings: pick a piece of the greedy text of prompt 2 and stop at it.
stop=$(python3 -c '
import json
t = [json.loads(l) for l in open("greedy2.jsonl")][1]["text"]
print(t[len(t) // 2:len(t) // 2 + 2], end="")')
"$V" generate --model m --greedy --max-new-tokens 64 --json --stop "$stop" --stop "never-there" --input one.txt > stop.jsonl
check "--stop '$stop': the greedy text cut before its first occurrence, finish_reason stop" python3 - "$stop" <<'PY'
import json, sys
stop = sys.argv[1]
full = [json.loads(l) for l in open("greedy2.jsonl")][1]
r = json.loads(open("stop.jsonl").read())
want = full["text"][:full["text"].index(stop)]
print(f"    {len(r['text'])} characters kept, {len(r['token_ids'])} tokens")
assert r["text"] == want and r["finish_reason"] == "stop", (r, want)
assert r["token_ids"] == full["token_ids"][:len(r["token_ids"])]
PY
"$V" generate --model m --greedy --max-new-tokens 64 --stop "$stop" "$(cat one.txt)" > streamed.txt
check "one prompt streamed in plain text equals its --json text" python3 -c '
import json
r = json.loads(open("stop.jsonl").read())
assert open("streamed.txt", encoding="utf-8").read() == r["text"] + "\n"'

fails() { # WHAT NEEDLE COMMAND...
    local what=$1 needle=$2; shift 2
    "$@" > out.txt 2> err.txt
    local rc=$?
    check "$what: non-zero status ($rc) naming '$needle': $(head -c 200 err.txt)" \
        bash -c "[ $rc -ne 0 ] && grep -qF -- '$needle' err.txt"
}
fails "no such model" "nowhere" "$V" generate --model nowhere "hi"
fails "prompt + new tokens over n_positions" "positions" "$V" generate --model m --max-new-tokens 300 "hi"
fails "--stop without a string" "--stop" "$V" generate --model m "hi" --stop
fails "--precision int8" "--precision" "$V" generate --model m "hi" --precision int8
[ "$failures" -eq 0 ]

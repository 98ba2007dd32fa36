#!/usr/bin/env bash
# Extractive question answering through finetune, eval, predict and serve,
# against transformers and the reference logic of tests/ref/gen_squad.py.
#
# Data (tests/scripts/qa_fixture.py): 60 training and 20 dev questions over
# contexts of State of the Union sentences; v1 asks for the word after a given
# one, v2 for a speaker's name that every fourth context lacks (learnable in
# four epochs, so the v2 model answers some questions and leaves others
# empty, and both kinds go through every check below). Contexts are longer
# than the 96-token features, so questions are read as windows (stride 32).
# For each run (BERT v1, BERT v2, RoBERTa v1; a few epochs of a tiny model:
# for v1 the point is the path, not accuracy): transformers loads the
# directory with AutoModelForQuestionAnswering (no missing or unexpected
# keys); run_qa's evaluation (utils_qa's postprocessing, rewritten in
# gen_squad.py) of transformers' logits gives verto eval's predictions
# (logits agree within ~1e-6: a flip is accepted only between candidates
# within 1e-4 of each other); verto eval --json equals the official scripts'
# logic on those predictions (1e-9); the question-answering pipeline's answer
# (select_starts_ends from transformers, the rest as gen_squad.py) of
# transformers' logits equals verto predict's: the same text, start and end,
# scores within 1e-4 relative (verto prints 8 digits; float32 logits differ
# by ~1e-6). v2 eval again with --null-score-diff-threshold -0.5 (it must
# change some predictions) against the same reference with that threshold.
# serve's /v1/question-answering equals predict (v1 and v2 models).
set -euo pipefail
export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1
build=${VT_BUILD:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
source "$(dirname "$0")/check.sh"
trap 'kill_server; rm -rf "$tmp"' EXIT

"$py" tests/scripts/qa_fixture.py "$tmp"
"$py" - "$tmp" <<'PY'
import sys
from tokenizers import ByteLevelBPETokenizer
import transformers as tf
tmp = sys.argv[1]
corpus = [l for l in open("tests/data/pretrain/sotu_sample.txt", encoding="utf-8").read().split("\n") if l.strip()]
bpe = ByteLevelBPETokenizer()
bpe.train_from_iterator(corpus, vocab_size=1500, min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
import os; os.makedirs(f"{tmp}/raw-bpe")
bpe.save_model(f"{tmp}/raw-bpe")
tf.RobertaTokenizer.from_pretrained(f"{tmp}/raw-bpe", model_max_length=512).save_pretrained(f"{tmp}/roberta-tok")
PY
"$verto" init --config tiny --tokenizer tests/data/tokenizer/uncased/vocab.txt -o "$tmp/bert" >/dev/null
"$verto" init --config roberta-tiny --tokenizer "$tmp/roberta-tok" -o "$tmp/roberta" >/dev/null

for run in bert-v1 bert-v2 roberta-v1; do
    echo "--- $run"
    init=$tmp/${run%-*} v=${run#*-} m=$tmp/$run
    schedule="--epochs 2 --lr 1e-3"
    [ "$v" = v2 ] && schedule="--epochs 4 --lr 3e-3"
    check "$run: finetune --task question-answering" sh -c "'$verto' finetune --task question-answering --init '$init' \
        --train '$tmp/$v-train.json' --dev '$tmp/$v-dev.json' -o '$m' $schedule --batch-size 16 \
        --max-seq-length 96 --doc-stride 32 >'$tmp/ft.log'"
    check "$run: the dev figures are logged each epoch" grep -q "dev_f1" "$m/metrics.jsonl"
    check "$run: eval" sh -c "'$verto' eval --model '$m' --data '$tmp/$v-dev.json' --json --predictions '$tmp/preds.json' \
        >'$tmp/eval.json'"
    "$py" -c 'import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as q:
    for a in json.load(f)["data"]:
        p = a["paragraphs"][0]
        q.write(json.dumps({"question": p["qas"][0]["question"], "context": p["context"]}) + "\n")' \
        "$tmp/$v-dev.json" "$tmp/$v-questions.jsonl"
    check "$run: predict" sh -c "'$verto' predict --model '$m' --jsonl --input '$tmp/$v-questions.jsonl' >'$tmp/$run-predict.jsonl'"
    check "$run: transformers agrees (loading, eval, predict)" "$py" tests/scripts/qa_reference.py "$m" "$tmp/$v-dev.json" \
        "$tmp/eval.json" "$tmp/preds.json" "$tmp/$run-predict.jsonl"
    [ "$v" = v2 ] || continue
    cp "$tmp/preds.json" "$tmp/v2-preds.json"
    check "$run: eval and predict give both empty and non-empty answers" "$py" -c '
import json, sys
preds, answers = list(json.load(open(sys.argv[1])).values()), [json.loads(l) for l in open(sys.argv[2])]
for kinds in ([bool(p) for p in preds], [bool(a["answer"]) for a in answers]):
    assert 0 < sum(kinds) < len(kinds), kinds' "$tmp/v2-preds.json" "$tmp/$run-predict.jsonl"
    check "$run: eval --null-score-diff-threshold -0.5" sh -c "'$verto' eval --model '$m' --data '$tmp/$v-dev.json' --json \
        --predictions '$tmp/preds.json' --null-score-diff-threshold -0.5 >'$tmp/eval.json'"
    check "$run: the threshold changes predictions" sh -c "! cmp -s '$tmp/preds.json' '$tmp/v2-preds.json'"
    check "$run: transformers agrees with the threshold" "$py" tests/scripts/qa_reference.py "$m" "$tmp/$v-dev.json" \
        "$tmp/eval.json" "$tmp/preds.json" "$tmp/$run-predict.jsonl" -0.5
done
check "v1 predictions are spans of the context, v2's too or empty at 0" "$py" -c '
import json, sys
for v1, questions, answers in ((True, sys.argv[1], sys.argv[2]), (False, sys.argv[3], sys.argv[4])):
    for l, a in zip(open(questions), open(answers)):
        q, a = json.loads(l), json.loads(a)
        assert (a["answer"] or not v1) and q["context"][a["start"]:a["end"]] == a["answer"], (q, a)' \
    "$tmp/v1-questions.jsonl" "$tmp/bert-v1-predict.jsonl" "$tmp/v2-questions.jsonl" "$tmp/bert-v2-predict.jsonl"

echo "--- serve (bert-v1)"
start_server "$tmp/bert-v1" "$tmp/server.log"
url=http://127.0.0.1:$port
"$py" -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump({"inputs": rows}, open(sys.argv[2], "w")); json.dump(rows[5], open(sys.argv[3], "w"))' \
    "$tmp/v1-questions.jsonl" "$tmp/req-all.json" "$tmp/req-one.json"
curl -s --data-binary @"$tmp/req-all.json" "$url/v1/question-answering" >"$tmp/served-all.json"
curl -s --data-binary @"$tmp/req-one.json" "$url/v1/question-answering" >"$tmp/served-one.json"
curl -s "$url/v1/model" >"$tmp/model.json"
for body in '{"question": "x"}' '{"question": "x", "context": ""}' '{"question": "x", "context": "y", "text": "z"}' \
    '{"inputs": [{"question": "x", "context": 3}]}' '{"question": "x", "context": "y", "inputs": []}'; do
    curl -s -o /dev/null -w '%{http_code}\n' --data-binary "$body" "$url/v1/question-answering"
done >"$tmp/codes.txt"
curl -s -o /dev/null -w '%{http_code}\n' --data-binary '{"text": "x"}' "$url/v1/classify" >>"$tmp/codes.txt"
stop_server
check "serve /v1/question-answering equals verto predict (all 20 in one request, and one alone)" "$py" -c '
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
assert json.load(open(sys.argv[2]))["results"] == want
assert json.load(open(sys.argv[3])) == want[5]' "$tmp/bert-v1-predict.jsonl" "$tmp/served-all.json" "$tmp/served-one.json"
start_server "$tmp/bert-v2" "$tmp/server.log"
"$py" -c 'import json, sys
json.dump({"inputs": [json.loads(l) for l in open(sys.argv[1])]}, open(sys.argv[2], "w"))' \
    "$tmp/v2-questions.jsonl" "$tmp/req-v2.json"
curl -s --data-binary @"$tmp/req-v2.json" "http://127.0.0.1:$port/v1/question-answering" >"$tmp/served-v2.json"
stop_server
check "serve /v1/question-answering of the v2 model equals verto predict (empty answers too)" "$py" -c '
import json, sys
assert json.load(open(sys.argv[2]))["results"] == [json.loads(l) for l in open(sys.argv[1])]' \
    "$tmp/bert-v2-predict.jsonl" "$tmp/served-v2.json"
check "serve /v1/model names the task and its endpoint" "$py" -c '
import json, sys; m = json.load(open(sys.argv[1]))
assert m["task"] == "question-answering" and "/v1/question-answering" in m["endpoints"], m' "$tmp/model.json"
check "serve: bad questions and /v1/classify get 400" sh -c "[ \"\$(sort -u '$tmp/codes.txt')\" = 400 ]"

echo "--- bad input"
refused() { # DESCRIPTION PATTERN COMMAND...: fails, naming PATTERN on stderr
    local what=$1 pattern=$2; shift 2
    if "$@" >/dev/null 2>"$tmp/err.txt"; then echo "  FAILED: $what was accepted"; failures=$((failures + 1)); return; fi
    check "$what: refused ($(head -c 100 "$tmp/err.txt"))" grep -q -- "$pattern" "$tmp/err.txt"
}
printf '{"question": "Which word?", "context": "Some words here."}\n{"question": "", "context": "x"}\n' >"$tmp/bad1.jsonl"
refused "predict: an empty question" "bad1.jsonl:2" "$verto" predict --model "$tmp/bert-v1" --jsonl --input "$tmp/bad1.jsonl"
printf '{"question": "Which word?"}\n' >"$tmp/bad2.jsonl"
refused "predict: no context" 'bad2.jsonl:1: "context" missing' "$verto" predict --model "$tmp/bert-v1" --jsonl --input "$tmp/bad2.jsonl"
printf '{"question": "Which word?", "context": "a\xffb"}\n' >"$tmp/bad3.jsonl"
refused "predict: invalid UTF-8" "bad3.jsonl:1" "$verto" predict --model "$tmp/bert-v1" --jsonl --input "$tmp/bad3.jsonl"
printf '{"question": "Which word?", "context": "Some words.", "question": "Another?"}\n' >"$tmp/bad5.jsonl"
refused "predict: a question given twice" 'bad5.jsonl:1: "question" given twice' "$verto" predict --model "$tmp/bert-v1" --jsonl --input "$tmp/bad5.jsonl"
printf 'not json\n' >"$tmp/bad4.jsonl"
refused "predict: not JSON" "bad4.jsonl:1" "$verto" predict --model "$tmp/bert-v1" --jsonl --input "$tmp/bad4.jsonl"
"$py" -c 'import json, sys
d = json.load(open(sys.argv[1])); d["version"] = "1.1"
for a in d["data"]:
    a["paragraphs"][0]["qas"][0].pop("is_impossible", None)
json.dump(d, open(sys.argv[2], "w"))' "$tmp/v2-train.json" "$tmp/v1-unanswered.json"
refused "finetune: a v1 question without answers" "q3" "$verto" finetune --task question-answering \
    --init "$tmp/bert" --train "$tmp/v1-unanswered.json" --dev "$tmp/v1-dev.json" -o "$tmp/x"
refused "finetune: a stride as long as the window" "stride" "$verto" finetune --task question-answering \
    --init "$tmp/bert" --train "$tmp/v1-train.json" --dev "$tmp/v1-dev.json" -o "$tmp/x" --max-seq-length 40 --doc-stride 30
head -c 300 "$tmp/v1-dev.json" >"$tmp/cut.json"
refused "eval: a truncated SQuAD file" "cut.json" "$verto" eval --model "$tmp/bert-v1" --data "$tmp/cut.json"
refused "eval: a classifier's data on a QA model" "" "$verto" eval --model "$tmp/bert-v1" --data "$tmp/v1-questions.jsonl"
echo "$failures failures"; exit $((failures > 0))

#!/usr/bin/env bash
# Question answering on the only real SQuAD-style data found inside a package
# (see docs/question-answering.md, "Real data"): the test fixtures that
# PyPI's allennlp==0.9.0 wheel ships (allennlp/tests/fixtures/data/):
#   squad.json              5 questions of SQuAD v1.1 (real, crowd-written)
#   quac_sample.json        QuAC dialogue questions (6 distinct, long answers)
#   quoref/quoref_sample.json  4 Quoref questions
# verto: a tiny BERT (verto init --config tiny, random weights, the uncased
# WordPiece vocabulary of tests/data/tokenizer) fine-tuned on the QuAC and
# Quoref questions, evaluated on the 5 SQuAD ones; against the SQuAD paper's
# sliding-window baseline (scripts/qa_sliding_window.py) on the same 5,
# scored with the official v1.1 logic (tests/ref/gen_squad.py).
# Usage: scripts/qa_real_data.sh [BUILD_DIR]   (default build)
set -euo pipefail
build=${1:-build}
verto=$build/verto
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pip download --quiet --no-deps allennlp==0.9.0 -d "$tmp" >/dev/null
"$py" - "$tmp" <<'PY'
import glob, json, sys, zipfile
tmp = sys.argv[1]
z = zipfile.ZipFile(glob.glob(f"{tmp}/allennlp-0.9.0-*.whl")[0])
fx = "allennlp/tests/fixtures/data/"
load = lambda name: json.loads(z.read(fx + name))
squad = load("squad.json")
json.dump({"version": "1.1", "data": squad["data"]}, open(f"{tmp}/test.json", "w"))
# training questions: QuAC (distinct ids, answerable, first answer as gold) and Quoref
train, seen = [], set()
for name in ("quac_sample.json", "quoref/quoref_sample.json"):
    for art in load(name)["data"]:
        for p in art["paragraphs"]:
            qas = []
            for q in p["qas"]:
                a = [x for x in q["answers"] if x["text"] != "CANNOTANSWER"]
                if not a or q["id"] in seen:
                    continue
                seen.add(q["id"])
                qas.append({"id": q["id"], "question": q["question"], "answers": a[:1]})
            if qas:
                train.append({"title": art.get("title", name), "paragraphs": [{"context": p["context"], "qas": qas}]})
json.dump({"version": "1.1", "data": train}, open(f"{tmp}/train.json", "w"))
n = lambda d: sum(len(p["qas"]) for a in d["data"] for p in a["paragraphs"])
print(f"data: {n({'data': train})} training questions (QuAC + Quoref samples), {n(squad)} SQuAD v1.1 test questions")
PY

"$verto" init --config tiny --tokenizer tests/data/tokenizer/uncased/vocab.txt -o "$tmp/init" >/dev/null
start=$(date +%s)
"$verto" finetune --task question-answering --init "$tmp/init" --train "$tmp/train.json" --dev "$tmp/test.json" \
    -o "$tmp/qa" --epochs 10 --batch-size 8 --lr 1e-3 --max-seq-length 256 --doc-stride 64 >"$tmp/ft.log" 2>&1
seconds=$(( $(date +%s) - start ))
"$verto" eval --model "$tmp/qa" --data "$tmp/test.json" --json --predictions "$tmp/verto-preds.json" >"$tmp/verto.json"
"$py" scripts/qa_sliding_window.py "$tmp/test.json" "$tmp/sw-preds.json"
"$py" - "$tmp" "$seconds" <<'PY'
import json, os, platform, sys
sys.path.insert(0, "tests/ref")
import gen_squad
tmp, seconds = sys.argv[1], sys.argv[2]
data = json.load(open(f"{tmp}/test.json"))["data"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
print(f"CPU: {cpu}, {os.cpu_count()} cores; verto fine-tuning took {seconds} s")
print(f"{'system (5 SQuAD v1.1 questions)':40} {'EM':>6} {'F1':>6}")
for name, path in (("sliding window (Rajpurkar et al. 2016)", "sw-preds.json"), ("verto tiny BERT from scratch", "verto-preds.json")):
    s = gen_squad.evaluate_v1(data, json.load(open(f"{tmp}/{path}")))
    print(f"{name:40} {s['exact']:6.1f} {s['f1']:6.1f}")
v = json.load(open(f"{tmp}/verto.json"))
print(f"(verto eval's own figures: EM {v['exact']:.1f}, F1 {v['f1']:.1f})")
for path in ("sw-preds.json", "verto-preds.json"):
    print(path, json.dumps(json.load(open(f"{tmp}/{path}")), ensure_ascii=False))
PY

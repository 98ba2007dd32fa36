#!/usr/bin/env python3
"""SQuAD-style data for tests/scripts/test_qa_cli.sh: contexts of 3 to 6
consecutive State of the Union sentences (tests/data/pretrain/sotu_sample.txt),
templated questions whose answer is a word of the context ("Which word comes
after ...?"), and (v2) impossible questions about words the context does not
hold. Usage: qa_fixture.py OUT_DIR; writes {v1,v2}-{train,dev}.json (SQuAD
JSON) and questions.jsonl (the v2 dev questions as {"question", "context"})."""
import json
import random
import re
import sys

out = sys.argv[1]
sentences = [l.strip() for l in open("tests/data/pretrain/sotu_sample.txt", encoding="utf-8") if len(l.strip()) > 40]
rng = random.Random(19)


def example(i, impossible):
    start = rng.randrange(0, len(sentences) - 6)
    context = " ".join(sentences[start:start + rng.randint(3, 6)])
    words = [(m.group(), m.start()) for m in re.finditer(r"[A-Za-z]{5,}", context)]
    (prev, _), (word, at) = rng.choice(list(zip(words, words[1:])))
    q = {"id": f"q{i}", "question": f"Which word comes after \"{prev}\"?", "answers": [{"text": word, "answer_start": at}]}
    if impossible:  # a word from elsewhere that this context lacks
        other = next(w for w in (m.group() for s in rng.sample(sentences, 20) for m in re.finditer(r"[A-Za-z]{7,}", s))
                     if w not in context)
        q = {"id": f"q{i}", "question": f"Which word comes after \"{other}\"?", "answers": [], "is_impossible": True}
    return {"title": f"t{i}", "paragraphs": [{"context": context, "qas": [q]}]}


for version in ("v1", "v2"):
    for split, n in (("train", 60), ("dev", 20)):
        data = [example(i, version == "v2" and i % 4 == 3) for i in range(n)]
        with open(f"{out}/{version}-{split}.json", "w", encoding="utf-8") as f:
            json.dump({"version": "v2.0" if version == "v2" else "1.1", "data": data}, f, ensure_ascii=False)
with open(f"{out}/v2-dev.json", encoding="utf-8") as f, open(f"{out}/questions.jsonl", "w", encoding="utf-8") as q:
    for art in json.load(f)["data"]:
        p = art["paragraphs"][0]
        q.write(json.dumps({"question": p["qas"][0]["question"], "context": p["context"]}, ensure_ascii=False) + "\n")

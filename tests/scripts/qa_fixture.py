#!/usr/bin/env python3
"""SQuAD-style data for tests/scripts/test_qa_cli.sh: contexts of 3 to 6
consecutive State of the Union sentences (tests/data/pretrain/sotu_sample.txt),
templated questions whose answer is a word of the context ("Which word comes
after ...?"; v1, which a tiny model does not learn in a test's time), and for v2
a task a tiny model learns in a few epochs, so that its answers are both empty
and not: "Who was the speaker?", answered by a name in a sentence "The speaker
was NAME." put between two of the context's sentences, impossible (every
fourth question) where the context has no such sentence. Usage: qa_fixture.py OUT_DIR; writes {v1,v2}-{train,dev}.json (SQuAD
JSON) and questions.jsonl (the v2 dev questions as {"question", "context"})."""
import json
import random
import re
import sys

out = sys.argv[1]
sentences = [l.strip() for l in open("tests/data/pretrain/sotu_sample.txt", encoding="utf-8") if len(l.strip()) > 40]
rng = random.Random(19)


def example(i):
    start = rng.randrange(0, len(sentences) - 6)
    context = " ".join(sentences[start:start + rng.randint(3, 6)])
    words = [(m.group(), m.start()) for m in re.finditer(r"[A-Za-z]{5,}", context)]
    (prev, _), (word, at) = rng.choice(list(zip(words, words[1:])))
    q = {"id": f"q{i}", "question": f"Which word comes after \"{prev}\"?", "answers": [{"text": word, "answer_start": at}]}
    return {"title": f"t{i}", "paragraphs": [{"context": context, "qas": [q]}]}


NAMES = ["Lincoln", "Roosevelt", "Truman", "Kennedy", "Reagan", "Carter", "Wilson", "Adams", "Jefferson", "Madison",
         "Monroe", "Jackson", "Grant", "Hoover", "Nixon", "Ford", "Taft", "Polk", "Pierce", "Hayes"]


def speaker_example(i, impossible):
    start = rng.randrange(0, len(sentences) - 6)
    parts = sentences[start:start + rng.randint(3, 6)]
    q = {"id": f"q{i}", "question": "Who was the speaker?", "answers": [], "is_impossible": True}
    if not impossible:
        name = rng.choice(NAMES)
        parts.insert(rng.randint(0, len(parts)), f"The speaker was {name}.")
        context = " ".join(parts)
        at = context.index(f"The speaker was {name}.") + len("The speaker was ")
        q = {"id": f"q{i}", "question": "Who was the speaker?", "answers": [{"text": name, "answer_start": at}],
             "is_impossible": False}
    return {"title": f"t{i}", "paragraphs": [{"context": " ".join(parts), "qas": [q]}]}


for version in ("v1", "v2"):
    for split, n in (("train", 60), ("dev", 20)):
        data = [speaker_example(i, i % 4 == 3) if version == "v2" else example(i) for i in range(n)]
        with open(f"{out}/{version}-{split}.json", "w", encoding="utf-8") as f:
            json.dump({"version": "v2.0" if version == "v2" else "1.1", "data": data}, f, ensure_ascii=False)
with open(f"{out}/v2-dev.json", encoding="utf-8") as f, open(f"{out}/questions.jsonl", "w", encoding="utf-8") as q:
    for art in json.load(f)["data"]:
        p = art["paragraphs"][0]
        q.write(json.dumps({"question": p["qas"][0]["question"], "context": p["context"]}, ensure_ascii=False) + "\n")

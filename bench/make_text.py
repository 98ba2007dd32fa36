#!/usr/bin/env python3
"""Writes the tokenizer benchmark's text: SpamAssassin emails, one per line.

Usage: bench/make_text.py OUT [--mb 20] [--source TGZ]

The emails (headers and body, decoded as scripts/make_spam_split.py decodes
them: UTF-8 with errors replaced) are taken in a seeded shuffled order, so
that ham and spam are mixed, until --mb million bytes are reached. Line
breaks inside an email become spaces (verto tokenize and the peer both read
one text per line) and NUL bytes are dropped. Only the standard library is
used, so this runs before the Python peers are installed.
"""
import argparse
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import make_spam_split  # noqa: E402  (the one reader of the corpus)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--source", default=str(REPO.parent / "shared" / "data" / make_spam_split.TGZ_NAME))
    args = ap.parse_args()
    emails = make_spam_split.read_emails(args.source)
    random.Random(0).shuffle(emails)
    limit, size, lines = int(args.mb * 1e6), 0, []
    for _, _, text in emails:
        line = " ".join(text.replace("\0", "").splitlines()).encode("utf-8")
        if size + len(line) + 1 > limit and lines:
            break
        lines.append(line)
        size += len(line) + 1
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(lines)} emails, {size / 1e6:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()

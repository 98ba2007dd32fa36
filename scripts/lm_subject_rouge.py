#!/usr/bin/env python3
"""ROUGE-L F1 of generated subject lines against the true subjects (rouge-score, Porter stemming).

Usage: lm_subject_rouge.py PAIRS.jsonl NAME=GENERATED.jsonl... [--json OUT]
PAIRS.jsonl is lm_subject_pairs.py's output ("completion" the reference, "first_sentence" the extractive
baseline, scored as the first row); each GENERATED.jsonl is `verto generate --json`'s output in the same
order (its "text" up to the first newline or tab is the prediction). Prints a table: system, emails, mean F1.
"""
import json
import sys

from rouge_score import rouge_scorer


def first_line(text):
    return text.replace("\t", "\n").split("\n")[0].strip()


def main():
    args = sys.argv[1:]
    out_json = None
    if "--json" in args:
        i = args.index("--json")
        out_json = args[i + 1]
        del args[i:i + 2]
    if len(args) < 1:
        sys.exit(__doc__)
    pairs = [json.loads(l) for l in open(args[0], encoding="utf-8") if l.strip()]
    refs = [p["completion"].strip() for p in pairs]
    systems = [("body's first sentence", [p["first_sentence"] for p in pairs])]
    for spec in args[1:]:
        name, path = spec.split("=", 1)
        preds = [first_line(json.loads(l)["text"]) for l in open(path, encoding="utf-8") if l.strip()]
        if len(preds) != len(refs):
            sys.exit(f"{path}: {len(preds)} generations for {len(refs)} emails")
        systems.append((name, preds))
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    results = {}
    print(f"{'system':32} {'emails':>6} {'ROUGE-L F1':>10}")
    for name, preds in systems:
        f1 = sum(scorer.score(r, p)["rougeL"].fmeasure for r, p in zip(refs, preds)) / len(refs)
        results[name] = f1
        print(f"{name:32} {len(refs):6d} {f1:10.4f}")
    for i in range(min(5, len(refs))):
        print(f"  true: {refs[i][:60]!r}\n    " + "\n    ".join(f"{n[:20]:20}: {p[i][:60]!r}" for n, p in systems))
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"emails": len(refs), "rougeL_f1": results}, f)


if __name__ == "__main__":
    main()

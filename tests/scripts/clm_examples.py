"""Prompt/completion JSONL for the causal-LM fine-tuning tests: 24 seeded
e-mail-like bodies (with non-ASCII words) as prompts, each body's first two
words as the completion; train.jsonl holds all 24, dev.jsonl the first 6.

usage: clm_examples.py DIR"""
import json
import os
import random
import sys

random.seed(3)
words = ["free", "money", "meeting", "lunch", "offer", "report", "ünïcode", "東京", "win", "now"]
rows = []
for i in range(24):
    body = " ".join(random.choice(words) for _ in range(random.randint(3, 12)))
    rows.append({"prompt": f"Email: {body}\nSubject:", "completion": " " + " ".join(body.split()[:2])})
for name, part in (("train.jsonl", rows), ("dev.jsonl", rows[:6])):
    with open(os.path.join(sys.argv[1], name), "w", encoding="utf-8") as f:
        for r in part:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

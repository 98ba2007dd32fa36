#!/usr/bin/env python3
"""A byte-level BPE tokenizer.json of exactly VOCAB ids for the generation
benchmark: trained by tokenizers on TEXT (as GPT-2's), then filled up with
unmergeable placeholder tokens ("<v123>", decoded as that text) so that a
GPT-2-shaped model of GPT-2's vocabulary can emit any id.

Usage: generate_tokenizer.py TEXT VOCAB OUT.json"""
import json
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

text, vocab, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=min(vocab, 2000), special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train([text], trainer)
doc = json.loads(tok.to_str())
ids = doc["model"]["vocab"]
# <|endoftext|> moves to the last id, as GPT-2's 50256
eot = ids.pop("<|endoftext|>")
ids = {t: (i if i < eot else i - 1) for t, i in ids.items()}
for i in range(len(ids), vocab - 1):
    ids[f"<v{i}>"] = i
ids["<|endoftext|>"] = vocab - 1
doc["model"]["vocab"] = ids
for a in doc["added_tokens"]:
    if a["content"] == "<|endoftext|>":
        a["id"] = vocab - 1
with open(out, "w", encoding="utf-8") as f:
    json.dump(doc, f, ensure_ascii=False)
check = Tokenizer.from_file(out)
assert check.get_vocab_size() == vocab and check.token_to_id("<|endoftext|>") == vocab - 1

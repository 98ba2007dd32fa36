#!/usr/bin/env python3
"""Reference causal-LM blocks for `prepare-pretraining --objective clm`
(tests/unit/test_pretrain_clm.c).

Builds a GPT-2-like byte-level BPE (tokenizers' ByteLevelBPETokenizer, vocab
1500, special token <|endoftext|>, trained on tests/data/pretrain/sotu_sample.txt)
and groups the corpus the way transformers' run_clm.py does (group_texts:
concatenate everything, cut into blocks of block_size, drop the last partial
block), with <|endoftext|> after every document:

  documents  the text file split at blank lines (a line Python's strip()
             empties); a document's text is its lines joined by "\\n"
  ids        tokenizer.encode(document).ids + [eos], concatenated in file order

Writes OUT/clm/tokenizer.json, OUT/clm/docs.jsonl (the same documents, one
{"text": ...} record each) and OUT/clm_blocks.safetensors with
  blocks64 (I32, N64 x 64), blocks128 (I32, N128 x 128): the blocks for
  block sizes 64 and 128; total (I32, 1): the length of the concatenation;
  documents (I32, 1).

Usage: gen_pretrain_clm.py OUT_DIR"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file
from tokenizers.implementations import ByteLevelBPETokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(ROOT, "tests", "data", "pretrain", "sotu_sample.txt")
EOT = "<|endoftext|>"


def documents():
    with open(CORPUS, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the file's final newline ends the last line, it is not an empty line
    docs, cur = [], []
    for line in lines:
        if not line.strip():
            if cur:
                docs.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    if cur:
        docs.append("\n".join(cur))
    return docs


def group_texts(ids, block_size):
    """transformers' examples/pytorch/language-modeling/run_clm.py group_texts, on one concatenation."""
    total = (len(ids) // block_size) * block_size
    return [ids[i:i + block_size] for i in range(0, total, block_size)]


def main():
    out = sys.argv[1]
    tok_dir = os.path.join(out, "clm")
    os.makedirs(tok_dir, exist_ok=True)
    docs = documents()
    bl = ByteLevelBPETokenizer()
    bl.train_from_iterator(docs, vocab_size=1500, min_frequency=2, special_tokens=[EOT])
    bl.save(os.path.join(tok_dir, "tokenizer.json"))
    eos = bl.token_to_id(EOT)
    ids = []
    for d in docs:
        ids.extend(bl.encode(d).ids)
        ids.append(eos)
    with open(os.path.join(tok_dir, "docs.jsonl"), "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"text": d}) + "\n")
    res = {"total": np.array([len(ids)], np.int32), "documents": np.array([len(docs)], np.int32)}
    for bs in (64, 128):
        res[f"blocks{bs}"] = np.array(group_texts(ids, bs), dtype=np.int32).reshape(-1, bs)
    save_file(res, os.path.join(out, "clm_blocks.safetensors"))


if __name__ == "__main__":
    main()

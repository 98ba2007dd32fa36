#!/usr/bin/env python3
"""Reference encodings from Hugging Face BertTokenizerFast for test_tokenizer_parity.c.

Usage: gen_tokenizer.py OUT_DIR. Writes into OUT_DIR:
  tokenizer_random.txt, tokenizer_long.txt   generated inputs (one text per line)
  tok_cased/vocab.txt (+ tokenizer_config.json)   a cased WordPiece vocabulary
                                                  trained here with tokenizers
  tok_json_<config>/   each configuration as BertTokenizerFast.save_pretrained
                       writes it (tokenizer.json, tokenizer_config.json)
  tokenizer_<config>.safetensors   per configuration (uncased, cased, uncased_accents):
      <corpus>.ids I32, <corpus>.splits I64 (lines + 1), <corpus>.offsets I32 (tokens, 2)
      for the corpora emails, mixed, invalid, random (single sequences, [CLS] .. [SEP],
      character offsets); pairs.* (truncation + padding to max_length), batch.*
      (padding to the longest), decode.* (decode with skip_special_tokens)
  tokenizer_codepoints.safetensors  per code point c, how "a" c "a" normalizes and
      pre-tokenizes (words joined by one space) under the uncased and cased
      settings, listed only where that is not "a" c "a" itself.
Canonical reordering of surviving marks is covered by a line of mixed.txt.
Lines are the input files split at b"\\n"; each is decoded with errors="replace".
"""
import json
import os
import random
import sys

import numpy as np
from safetensors.numpy import save_file
from tokenizers import BertWordPieceTokenizer
from transformers import BertTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "tokenizer")


def read_lines(path):
    data = open(path, "rb").read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def random_lines(n, seed):
    rng = random.Random(seed)
    pools = [
        (30, lambda: chr(rng.randrange(0x21, 0x7F))),
        (10, lambda: " "),
        (8, lambda: chr(rng.randrange(0xC0, 0x250))),
        (6, lambda: chr(rng.randrange(0x300, 0x370))),  # combining marks (reordering)
        (4, lambda: chr(rng.choice([0x591, 0x5B0, 0x64B, 0x93C, 0x94D, 0xE31, 0x1AB0, 0x1DC0, 0x20D0, 0x302A, 0xFE20]))),
        (6, lambda: chr(rng.randrange(0x4E00, 0x9FFF))),
        (4, lambda: chr(rng.randrange(0xAC00, 0xD7A4))),
        (4, lambda: chr(rng.randrange(0x1F300, 0x1FAFF))),
        (3, lambda: chr(rng.randrange(0x370, 0x530))),
        (3, lambda: chr(rng.randrange(0x2000, 0x2070))),
        (3, lambda: chr(rng.randrange(0x0, 0x20)) if rng.random() < 0.9 else chr(rng.randrange(0x7F, 0xA0))),
        (3, lambda: chr(rng.choice([0x130, 0x1E9E, 0x3A3, 0x1C89, 0xA7CB, 0x10D50, 0x11938, 0x1734, 0x166D, 0x2E43]))),
        (4, lambda: chr(rng.randrange(0xFF00, 0xFFF0))),
        (2, lambda: chr(rng.randrange(0x10000, 0x110000))),
        (2, lambda: chr(rng.randrange(0x800, 0x2000))),
    ]
    total = sum(w for w, _ in pools)
    out = []
    for _ in range(n):
        chars = []
        for _ in range(rng.randrange(1, 80)):
            r = rng.randrange(total)
            for w, f in pools:
                if r < w:
                    c = f()
                    break
                r -= w
            if c == "\n" or 0xD800 <= ord(c) <= 0xDFFF:
                c = " "
            chars.append(c)
        if rng.random() < 0.05:  # a long word
            chars.append("".join(rng.choice("abcdefé") for _ in range(rng.randrange(90, 130))))
        out.append("".join(chars).encode("utf-8"))
    return out


def make_long_lines(corpora):
    """Long texts for truncation: runs of consecutive e-mail lines joined by spaces, then the mixed lines."""
    rng = random.Random(99)
    em = corpora["emails"]
    out = []
    for _ in range(300):
        i = rng.randrange(len(em))
        out.append(b" ".join(em[i:i + rng.randrange(1, 40)]))
    return out + corpora["mixed"]


def encode_corpus(tok, lines, prefix, tensors):
    texts = [l.decode("utf-8", errors="replace") for l in lines]
    enc = tok(texts, add_special_tokens=True, return_offsets_mapping=True, return_token_type_ids=False,
              return_attention_mask=False)
    ids, splits, offs = [], [0], []
    for i in range(len(texts)):
        ids.extend(enc["input_ids"][i])
        offs.extend(o for pair in enc["offset_mapping"][i] for o in pair)
        splits.append(len(ids))
    tensors[prefix + ".ids"] = np.array(ids, dtype=np.int32)
    tensors[prefix + ".splits"] = np.array(splits, dtype=np.int64)
    tensors[prefix + ".offsets"] = np.array(offs, dtype=np.int32).reshape(-1, 2)
    return len(ids)


def flat(rows, dtype=np.int32):
    vals, splits = [], [0]
    for r in rows:
        vals.extend(r)
        splits.append(len(vals))
    return np.array(vals, dtype=dtype), np.array(splits, dtype=np.int64)


PAIR_LENGTHS = (2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 32, 64, 128, 256, 512)
SINGLE_LENGTHS = (1, 2, 3, 5, 10, 50, 200)


def encode_pairs(tok, long_lines, tensors, pair_lengths=PAIR_LENGTHS, single_lengths=SINGLE_LENGTHS):
    """400 pairs and 100 single texts truncated and padded to a max_length drawn from the lengths given
    (a tokenizer whose template adds more special tokens needs longer ones), and one padded batch."""
    rng = random.Random(7)
    texts = [l.decode("utf-8", errors="replace") for l in long_lines]
    # tokenizers keeps every overflowing window, for pairs their cross product:
    # a small max_length only gets short texts, or this takes minutes
    short = [i for i, t in enumerate(texts) if len(t) < 400]
    reqs = []  # (a, b or -1, max_length)
    for k in range(400):
        m = rng.choice(pair_lengths)
        pool = short if m < 32 else range(len(texts))
        reqs.append((rng.choice(pool), rng.choice(pool), m))
    for k in range(100):  # single sequences, truncated and padded
        reqs.append((rng.randrange(len(texts)), -1, rng.choice(single_lengths)))
    # one call per (max_length, pair or not): changing the settings per call is slow
    res = {}
    for m in sorted({r[2] for r in reqs}):
        for pair in (True, False):
            ks = [k for k, r in enumerate(reqs) if r[2] == m and (r[1] >= 0) == pair]
            if not ks:
                continue
            a = [texts[reqs[k][0]] for k in ks]
            b = [texts[reqs[k][1]] for k in ks] if pair else None
            e = tok(a, b, truncation=True, max_length=m, padding="max_length", return_token_type_ids=True)
            for n, k in enumerate(ks):
                res[k] = (e["input_ids"][n], e["token_type_ids"][n], e["attention_mask"][n])
    a_idx = [r[0] for r in reqs]
    b_idx = [r[1] for r in reqs]
    maxlen = [r[2] for r in reqs]
    ids = [res[k][0] for k in range(len(reqs))]
    types = [res[k][1] for k in range(len(reqs))]
    masks = [res[k][2] for k in range(len(reqs))]
    tensors["pairs.a"] = np.array(a_idx, dtype=np.int32)
    tensors["pairs.b"] = np.array(b_idx, dtype=np.int32)
    tensors["pairs.max_length"] = np.array(maxlen, dtype=np.int32)
    tensors["pairs.ids"], tensors["pairs.splits"] = flat(ids)
    tensors["pairs.type_ids"], _ = flat(types)
    tensors["pairs.mask"], _ = flat(masks)
    # one batch padded to its longest member
    bi = [rng.randrange(len(texts)) for _ in range(16)]
    bj = [rng.randrange(len(texts)) for _ in range(16)]
    e = tok([texts[i] for i in bi], [texts[j] for j in bj], truncation=True, max_length=96, padding=True,
            return_token_type_ids=True)
    tensors["batch.a"] = np.array(bi, dtype=np.int32)
    tensors["batch.b"] = np.array(bj, dtype=np.int32)
    tensors["batch.ids"] = np.array(e["input_ids"], dtype=np.int32)
    tensors["batch.type_ids"] = np.array(e["token_type_ids"], dtype=np.int32)
    tensors["batch.mask"] = np.array(e["attention_mask"], dtype=np.int32)


def encode_decode(tok, lines, tensors):
    texts = [l.decode("utf-8", errors="replace") for l in lines[:300]]
    outs = []
    for t in texts:
        ids = tok(t)["input_ids"]
        outs.append(list(tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False).encode()))
    tensors["decode.text"], tensors["decode.splits"] = flat(outs, np.uint8)


def codepoints(out_dir):
    tensors = {}
    for name, lower in (("uncased", True), ("cased", False)):
        tok = BertTokenizerFast(vocab={"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}, do_lower_case=lower)
        norm, pre = tok.backend_tokenizer.normalizer, tok.backend_tokenizer.pre_tokenizer
        cps, outs = [], []
        for c in range(0x110000):
            if 0xD800 <= c <= 0xDFFF:
                continue
            s = "a" + chr(c) + "a"
            words = " ".join(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(s)))
            if words != s:
                cps.append(c)
                outs.append([ord(x) for x in words])
        tensors[name + ".cp"] = np.array(cps, dtype=np.int32)
        tensors[name + ".out"], tensors[name + ".splits"] = flat(outs)
    save_file(tensors, os.path.join(out_dir, "tokenizer_codepoints.safetensors"))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    corpora = {
        "emails": read_lines(os.path.join(DATA, "spamassassin_sample.txt")),
        "mixed": read_lines(os.path.join(DATA, "mixed.txt")),
        "invalid": read_lines(os.path.join(DATA, "invalid_utf8.txt")),
        "random": random_lines(3000, 1234),
    }
    with open(os.path.join(out, "tokenizer_random.txt"), "wb") as f:
        f.write(b"".join(l + b"\n" for l in corpora["random"]))
    long_lines = make_long_lines(corpora)
    with open(os.path.join(out, "tokenizer_long.txt"), "wb") as f:
        f.write(b"".join(l + b"\n" for l in long_lines))

    # a cased vocabulary trained on the test text; a small alphabet leaves [UNK]s
    cased_dir = os.path.join(out, "tok_cased")
    os.makedirs(cased_dir, exist_ok=True)
    trainer_text = [l.decode("utf-8", errors="replace") for c in ("emails", "mixed") for l in corpora[c]]
    bw = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    bw.train_from_iterator(trainer_text, vocab_size=8000, min_frequency=2, limit_alphabet=400)
    bw.save_model(cased_dir)
    with open(os.path.join(cased_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False, "tokenize_chinese_chars": True, "strip_accents": None,
                   "model_max_length": 512}, f)

    configs = {
        "uncased": (os.path.join(DATA, "uncased"), {}),
        "cased": (cased_dir, {}),
        "uncased_accents": (os.path.join(DATA, "uncased"), {"strip_accents": False}),
    }
    for name, (vdir, kw) in configs.items():
        tok = BertTokenizerFast.from_pretrained(vdir, **kw)
        # what transformers 5 saves: tokenizer.json and tokenizer_config.json, no vocab.txt
        json_dir = os.path.join(out, f"tok_json_{name}")
        tok.save_pretrained(json_dir)
        if os.path.exists(os.path.join(json_dir, "vocab.txt")):
            os.remove(os.path.join(json_dir, "vocab.txt"))
        tensors = {}
        counts = {}
        for cname, lines in corpora.items():
            counts[cname] = encode_corpus(tok, lines, cname, tensors)
        encode_pairs(tok, long_lines, tensors)
        encode_decode(tok, corpora["emails"], tensors)
        meta = {"vocab_size": str(len(tok.get_vocab())), "config": json.dumps(kw)}
        save_file(tensors, os.path.join(out, f"tokenizer_{name}.safetensors"), metadata=meta)
        print(f"  tokenizer_{name}: tokens " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    codepoints(out)


if __name__ == "__main__":
    main()

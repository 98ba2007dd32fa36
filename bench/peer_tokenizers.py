#!/usr/bin/env python3
"""Peer of bench/tok_bench.c: MB/s of Hugging Face `tokenizers` on one thread.

Usage: bench/peer_tokenizers.py (--vocab DIR | --tokenizer FILE) --input FILE [--rounds 3]
                                [--name wordpiece] [--check-ids IDS --check-lines 1000]

Builds the same WordPiece tokenizer from DIR/vocab.txt (as BertWordPieceTokenizer:
lowercase, accents stripped, Chinese characters split, [CLS]/[SEP] added, no
truncation: what verto tokenize does with an uncased vocabulary), or reads
FILE (a tokenizer.json, as tok_bench reads the same file), and times
encode_batch over every line of FILE, the file already in memory, with
Rayon held to one thread; then encode_batch_fast (tokenizers >= 0.21), which
skips the character offsets that encode_batch and verto compute. MB = 10^6
bytes of the file, as tok_bench counts. With --check-ids (the output of
`verto tokenize` on the same file), counts the lines among the first
--check-lines whose ids differ. Prints one JSON line per mode.
"""
import os

# Before tokenizers is imported: its Rust thread pool reads these once.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import tokenizers  # noqa: E402
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors  # noqa: E402


def bert_wordpiece(vocab):
    """What tokenizers' BertWordPieceTokenizer(vocab, lowercase=True) builds,
    as a plain Tokenizer (which has encode_batch_fast)."""
    tok = Tokenizer(models.WordPiece.from_file(vocab, unk_token="[UNK]"))
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab")
    ap.add_argument("--tokenizer")
    ap.add_argument("--name", default="wordpiece")
    ap.add_argument("--input", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--check-ids")
    ap.add_argument("--check-lines", type=int, default=1000)
    args = ap.parse_args()
    if args.tokenizer:
        tok = Tokenizer.from_file(args.tokenizer)
    elif args.vocab:
        tok = bert_wordpiece(os.path.join(args.vocab, "vocab.txt") if os.path.isdir(args.vocab) else args.vocab)
    else:
        ap.error("--vocab or --tokenizer is required")
    with open(args.input, "rb") as f:
        data = f.read()
    lines = data.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line, as verto reads it

    modes = ["encode_batch"] + (["encode_batch_fast"] if hasattr(tok, "encode_batch_fast") else [])
    for mode in modes:
        encode = getattr(tok, mode)
        rates, encs = [], None
        for _ in range(args.rounds):
            encs = None  # free the last round's encodings outside the timed part
            t0 = time.perf_counter()
            encs = encode(lines)
            rates.append(len(data) * 1e-6 / (time.perf_counter() - t0))
        result = {
            "bench": "tokenize", "tokenizer": args.name, "system": "tokenizers", "mode": mode, "threads": 1,
            "bytes": len(data), "lines": len(lines), "tokens": sum(len(e.ids) for e in encs),
            "mb_per_s_rounds": rates,
            "mb_per_s": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)},
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "versions": {"tokenizers": tokenizers.__version__},
        }
        if args.check_ids:
            result["id_check"] = check_ids(args.check_ids, args.check_lines, encs)
        print(json.dumps(result), flush=True)


def check_ids(path, max_lines, encs):
    """Lines among the first max_lines whose ids (verto tokenize's output) differ."""
    checked = mismatched = 0
    with open(path) as f:
        for i, row in enumerate(f):
            if i >= min(max_lines, len(encs)):
                break
            checked += 1
            mismatched += [int(x) for x in row.split()] != encs[i].ids
    return {"lines": checked, "mismatched_lines": mismatched}

if __name__ == "__main__":
    main()

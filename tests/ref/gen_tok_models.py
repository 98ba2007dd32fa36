#!/usr/bin/env python3
"""References for test_tok_models.c: tokenizers' BPE and Unigram models word by
word, and its Precompiled normalizer (SentencePiece's charsmap) line by line.

Usage: gen_tok_models.py OUT_DIR. Writes into OUT_DIR/tok_models/:
  <model>.json          the model as tokenizers saves it (Tokenizer.to_str:
                        model.vocab, model.merges, options)
  <model>.safetensors   words.bytes U8 + words.splits I64 (each distinct
                        pre-tokenized word of the corpora, UTF-8), seq I32 (the
                        corpora's words in order, as indices into words),
                        tok.ids I32, tok.splits I64 (per word), tok.offsets I32
                        (tokens, 2): model.tokenize(word), byte offsets
  precompiled_<rule>.b64          a SentencePiece charsmap, base64 (as tokenizer.json holds it;
                        nmt_nfkc's as transformers' XLMRobertaConverter writes it)
  precompiled_<rule>.safetensors  lines.bytes/.splits (every line, UTF-8),
                        norm.bytes/.splits (Precompiled.normalize_str(line)),
                        chars.offsets I32 (normalized characters, 2) + chars.splits
                        I64 (per line): each normalized character's original
                        byte range as tokenizers' alignments give it
  base64_cases.json     {"prefix": P, "cases": [[suffix, accepted], ...]}: whether
                        tokenizers loads a Precompiled normalizer whose charsmap
                        is P + suffix (a real charsmap's last base64 group varied)
Models: BPE byte-level (trained here; also with ignore_merges), BPE with "##"
prefix, "</w>" suffix, [UNK] fused or not, BPE with byte fallback (all 256
<0xXX> tokens, or some missing), Unigram from a SentencePiece model trained
here (character_coverage < 1, so unknown characters occur) with and without
byte fallback. Corpora: the e-mails, mixed.txt, invalid_utf8.txt (decoded
with errors="replace"), random Unicode lines (gen_tokenizer.random_lines) and
edge_lines() (long words, grapheme clusters the charsmap replaces whole).
"""
import base64
import json
import os
import random
import struct
import sys
import tempfile

import types

import numpy as np
import sentencepiece as spm
from safetensors.numpy import save_file
from sentencepiece import sentencepiece_model_pb2 as spm_pb
from tokenizers import PreTokenizedString, Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_tokenizer import DATA, random_lines, read_lines  # noqa: E402


def edge_lines():
    """Long words (past the word cache's limit and the models' stack scratch)
    and grapheme clusters the charsmap treats specially (a grapheme under 6
    bytes whose start is mapped is replaced whole, marks and all)."""
    rng = random.Random(99)
    out = ["a" * 300, "ab" * 2000, "\u00e9" * 300, "\u4e2d\u6587" * 150, "x" * 255 + " " + "y" * 256 + " " + "z" * 257,
           "".join(rng.choice("abcdefghij\u00e9") for _ in range(5000)),
           " ".join("".join(rng.choice("etaoinshrdlu") for _ in range(rng.randrange(250, 700))) for _ in range(6)),
           "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 \U0001F1EB\U0001F1F7\U0001F1E9\U0001F1EA\U0001F1FA",
           "\U0001F44D\U0001F3FD \u2764\ufe0f \u0915\u094d\u0937\u093f \u1100\u1161\u11a8 \uac01\u11a8 a\r\nb \r\r\n\n",
           "\u013f\u1add \u013f\u0301 \u013f\u0301\u0302 \uff21\u0301 \uff21\u0301\u0301 \u2460\u0308 \ufb01\u0301 \u2122\u0301",
           "\uff8a\uff9f \uff76\uff9e \u30ab\u3099 \u3131\u314f e\u0301\u0302\u0323 \u1e9b\u0323 \u2126\u0301",
           "a\x00b \x00\u013f \u013f\x00 \u200b\u200d\ufeff \u00ad\u0301 \x1e\u2122 \u2122\x1e\u2122 \U000E0001\U000E0041",
           "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F \u0600\u0661 \u0e01\u0e33 \u0e33"]
    return out


def corpus_texts():
    lines = []
    for name in ("spamassassin_sample.txt", "mixed.txt", "invalid_utf8.txt"):
        lines += read_lines(os.path.join(DATA, name))
    lines += random_lines(2000, 4242)
    return [l.decode("utf-8", errors="replace") for l in lines] + edge_lines()


def flat_bytes(strs):
    data = b"".join(s.encode("utf-8") for s in strs)
    splits = [0]
    for s in strs:
        splits.append(splits[-1] + len(s.encode("utf-8")))
    return np.frombuffer(data, dtype=np.uint8).copy(), np.array(splits, dtype=np.int64)


def word_refs(model, words_in_order):
    """Distinct words, the order as indices, and model.tokenize of each."""
    index, words, seq = {}, [], []
    for w in words_in_order:
        if w not in index:
            index[w] = len(words)
            words.append(w)
        seq.append(index[w])
    ids, splits, offs = [], [0], []
    for w in words:
        for t in model.tokenize(w):
            ids.append(t.id)
            offs.extend(t.offsets)
        splits.append(len(ids))
    t = {}
    t["words.bytes"], t["words.splits"] = flat_bytes(words)
    t["seq"] = np.array(seq, dtype=np.int32)
    t["tok.ids"] = np.array(ids, dtype=np.int32)
    t["tok.splits"] = np.array(splits, dtype=np.int64)
    t["tok.offsets"] = np.array(offs, dtype=np.int32).reshape(-1, 2)
    return t, len(words), len(ids)


def save_model(out, name, model, words):
    tok = Tokenizer(model)
    with open(os.path.join(out, name + ".json"), "w") as f:
        f.write(tok.to_str())
    t, nw, nt = word_refs(model, words)
    save_file(t, os.path.join(out, name + ".safetensors"))
    print(f"  {name}: {len(words)} words, {nw} distinct, {nt} tokens")


def split_words(pretok, texts):
    return [w for text in texts for w, _ in pretok.pre_tokenize_str(text)]


def bpe_models(out, texts, train_texts):
    # byte-level: the model sees the byte alphabet's characters
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = bl
    tok.train_from_iterator(train_texts, trainers.BpeTrainer(
        vocab_size=8000, min_frequency=2, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    words = split_words(bl, texts)
    m = json.loads(tok.to_str())["model"]
    vocab, merges = m["vocab"], [tuple(x) for x in m["merges"]]
    save_model(out, "bpe_bytelevel", models.BPE(vocab=vocab, merges=merges), words)
    save_model(out, "bpe_bytelevel_ignore", models.BPE(vocab=vocab, merges=merges, ignore_merges=True), words)

    # "##" prefix, "</w>" suffix, a small alphabet so [UNK] occurs
    ws = pre_tokenizers.Whitespace()
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.pre_tokenizer = ws
    tok.train_from_iterator(train_texts, trainers.BpeTrainer(
        vocab_size=6000, min_frequency=2, limit_alphabet=150, special_tokens=["[UNK]"],
        continuing_subword_prefix="##", end_of_word_suffix="</w>", show_progress=False))
    words = split_words(ws, texts)
    m = json.loads(tok.to_str())["model"]
    vocab, merges = m["vocab"], [tuple(x) for x in m["merges"]]
    kw = dict(vocab=vocab, merges=merges, unk_token="[UNK]", continuing_subword_prefix="##",
              end_of_word_suffix="</w>")
    save_model(out, "bpe_suffix_fuse", models.BPE(fuse_unk=True, **kw), words)
    save_model(out, "bpe_suffix", models.BPE(fuse_unk=False, **kw), words)

    # byte fallback: <0x00>..<0xFF> in the vocabulary, a small alphabet
    byte_toks = [f"<0x{b:02X}>" for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = ws
    tok.train_from_iterator(train_texts, trainers.BpeTrainer(
        vocab_size=4000, min_frequency=2, limit_alphabet=120, special_tokens=["<unk>"] + byte_toks,
        show_progress=False))
    m = json.loads(tok.to_str())["model"]
    vocab, merges = m["vocab"], [tuple(x) for x in m["merges"]]
    save_model(out, "bpe_bytefallback",
               models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True), words)
    # some byte tokens missing: characters with those bytes fall back to unk
    # (tokenizers then emits a pending unk after later byte tokens)
    partial = dict(vocab)
    for b in (0xE4, 0xE5, 0x9F, 0xF0):
        partial[f"<missing{b:02X}>"] = partial.pop(f"<0x{b:02X}>")
    save_model(out, "bpe_bytefallback_partial",
               models.BPE(vocab=partial, merges=merges, unk_token="<unk>", byte_fallback=True), words)


def train_spm(train_texts, tmp, name, **kw):
    """Trains a SentencePiece model; its proto (the file stays in tmp as <name>.model)."""
    prefix = os.path.join(tmp, name)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(train_texts), model_prefix=prefix, model_type="unigram",
                                   minloglevel=2, num_threads=2, **kw)
    proto = spm_pb.ModelProto()
    with open(prefix + ".model", "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def unigram_of(proto):
    vocab = [(p.piece, p.score) for p in proto.pieces]
    return models.Unigram(vocab, proto.trainer_spec.unk_id, proto.trainer_spec.byte_fallback)


def unigram_models(out, texts, train_texts, tmp):
    protos = {}
    protos["nmt_nfkc"] = train_spm(train_texts, tmp, "uni", vocab_size=8000, character_coverage=0.995)
    protos["bf"] = train_spm(train_texts, tmp, "uni_bf", vocab_size=3000, character_coverage=0.99,
                             byte_fallback=True)
    # what an XLM-R-like tokenizer feeds its model: the charsmap, then Metaspace
    norm = normalizers.Precompiled(protos["nmt_nfkc"].normalizer_spec.precompiled_charsmap)
    meta = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    words = split_words(meta, [norm.normalize_str(t) for t in texts])
    save_model(out, "unigram", unigram_of(protos["nmt_nfkc"]), words)
    save_model(out, "unigram_bytefallback", unigram_of(protos["bf"]), words)
    # charsmaps of other rules (the vocabulary is beside the point)
    for rule in ("nfkc_cf", "nmt_nfkc_cf"):
        protos[rule] = train_spm(train_texts[:2000], tmp, "rule_" + rule, vocab_size=300,
                                 normalization_rule_name=rule)
    charsmaps = {r: protos[r].normalizer_spec.precompiled_charsmap for r in ("nmt_nfkc", "nfkc_cf", "nmt_nfkc_cf")}
    return charsmaps, transformers_charsmap(os.path.join(tmp, "uni.model"))


def transformers_charsmap(model_file):
    """The charsmap as transformers' converter writes it into tokenizer.json
    (XLMRobertaConverter: a Precompiled normalizer, base64)."""
    from transformers.convert_slow_tokenizer import XLMRobertaConverter
    conv = XLMRobertaConverter(types.SimpleNamespace(vocab_file=model_file))
    tok = Tokenizer(models.WordLevel({"a": 0}, unk_token="a"))
    tok.normalizer = conv.normalizer(conv.proto)
    norm = json.loads(tok.to_str())["normalizer"]
    return [n for n in norm["normalizers"] if n["type"] == "Precompiled"][0]["precompiled_charsmap"]


def precompiled_refs(out, rule, charsmap, texts, b64=None):
    b64 = b64 or base64.b64encode(charsmap).decode("ascii")
    assert base64.b64decode(b64) == charsmap
    with open(os.path.join(out, f"precompiled_{rule}.b64"), "w") as f:
        f.write(b64)
    norm = normalizers.Precompiled(charsmap)
    each_char = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    normed, offs, splits = [], [], [0]
    changed = 0
    for t in texts:
        n = norm.normalize_str(t)
        normed.append(n)
        changed += n != t
        pts = PreTokenizedString(t)
        pts.normalize(lambda ns: norm.normalize(ns))
        each_char.pre_tokenize(pts)
        parts = pts.get_splits(offset_referential="original", offset_type="byte")
        assert "".join(p[0] for p in parts) == n
        for p in parts:
            offs.extend(p[1])
        splits.append(len(offs) // 2)
    t = {}
    t["lines.bytes"], t["lines.splits"] = flat_bytes(texts)
    t["norm.bytes"], t["norm.splits"] = flat_bytes(normed)
    t["chars.offsets"] = np.array(offs, dtype=np.int32).reshape(-1, 2)
    t["chars.splits"] = np.array(splits, dtype=np.int64)
    save_file(t, os.path.join(out, f"precompiled_{rule}.safetensors"))
    print(f"  precompiled_{rule}: {len(charsmap)} bytes, {len(texts)} lines, {changed} changed")


def loads_precompiled(b64):
    j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
         "normalizer": {"type": "Precompiled", "precompiled_charsmap": b64}, "pre_tokenizer": None,
         "post_processor": None, "decoder": None,
         "model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}}
    # a bad charsmap is a Rust panic (PanicException): keep its backtrace off stderr
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        Tokenizer.from_str(json.dumps(j))
        return True
    except BaseException:
        return False
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def base64_cases(out, charsmap):
    b64 = base64.b64encode(charsmap).decode("ascii")
    assert b64.endswith("AA=="), "the last byte of a charsmap is its last replacement's NUL"
    prefix = b64[:-4]
    sufs = ["AA==", "AA=", "AA", "AA===", "AB==", "AC==", "AQ==", "AAA=", "AAA", "AAE=", "AAB=", "AAAA", "AAAA=",
            "AAA==", "A===", "A==", "A", "", "AA=A", "AA==AAAA", " AA==", "AA==\n", "A A==", "-_AA", "+/AA",
            "AA\u00e9=", "AAAAAA==", "AAAAAAA", "AAAAAAA=", "AAAAAAA==", "AA==="[:4]]
    cases = [[s, loads_precompiled(prefix + s)] for s in sufs]
    with open(os.path.join(out, "base64_cases.json"), "w") as f:
        json.dump({"prefix": prefix, "cases": cases}, f)
    print(f"  base64_cases: {sum(c[1] for c in cases)} of {len(cases)} accepted")


def tiny_models(out):
    """Hand-made models for the corner cases: two merges making one token
    (tokenizers checks a queued merge by its result only), fused and unfused
    unk, byte fallback of prefixed characters (offsets past the word), and
    Unigram ties, a repeated piece, a literal "<unk>" and fused unknown
    characters that spell a piece."""
    rng = random.Random(77)

    def words(parts, n):
        return ["".join(rng.choice(parts) for _ in range(rng.randrange(1, 10))) for _ in range(n)]

    toks = ["[UNK]", "a", "b", "c", "ab", "bc", "abc", "ca", "cab", "bb", "bbb"]
    vocab = {t: i for i, t in enumerate(toks)}
    merges = [("b", "b"), ("a", "b"), ("b", "c"), ("c", "a"), ("bb", "b"), ("ab", "c"), ("a", "bc"), ("ca", "b"),
              ("c", "ab")]
    ws = words(["a", "b", "c", "x", "xy"], 3000)
    save_model(out, "bpe_tiny", models.BPE(vocab=vocab, merges=merges, unk_token="[UNK]"), ws)
    save_model(out, "bpe_tiny_fuse", models.BPE(vocab=vocab, merges=merges, unk_token="[UNK]", fuse_unk=True), ws)

    toks = ["[UNK]", "a", "##a", "b", "##b", "ab", "##ab", "<0x23>", "<0x63>", "<0xC3>", "<0xA9>", "c</w>",
            "##c</w>", "a</w>", "##b</w>", "##ab</w>", "ab</w>"]
    vocab = {t: i for i, t in enumerate(toks)}
    merges = [("a", "##b"), ("##a", "##b"), ("a", "##b</w>"), ("##a", "##b</w>")]
    ws = words(["a", "b", "c", "\u00e9", "x", "#"], 3000)
    save_model(out, "bpe_tiny_prefix_bf", models.BPE(vocab=vocab, merges=merges, unk_token="[UNK]",
                                                     continuing_subword_prefix="##", byte_fallback=True), ws)
    save_model(out, "bpe_tiny_prefix_suffix", models.BPE(vocab=vocab, merges=merges, unk_token="[UNK]",
                                                         continuing_subword_prefix="##", end_of_word_suffix="</w>",
                                                         fuse_unk=True), ws)

    pieces = [("<unk>", 0.0), ("a", -1.0), ("b", -1.0), ("ab", -2.0), ("c", -1.5), ("bc", -2.5), ("abc", -3.5),
              ("b", -1.25), ("<0x78>", -1.0), ("xy", -40.0), ("ca", -2.5), ("cab", -3.0), ("\u00e9", -2.0),
              ("a\u00e9", -2.0), ("", -0.5)]
    ws = words(["a", "b", "c", "x", "y", "z", "<unk>", "\u00e9", "\u00e8"], 3000)
    save_model(out, "unigram_tiny", models.Unigram(pieces, 0, False), ws)
    save_model(out, "unigram_tiny_bf", models.Unigram(pieces, 0, True), ws)


def main():
    out = os.path.join(sys.argv[1], "tok_models")
    os.makedirs(out, exist_ok=True)
    texts = corpus_texts()
    n_train = len(read_lines(os.path.join(DATA, "spamassassin_sample.txt"))) + len(
        read_lines(os.path.join(DATA, "mixed.txt")))
    train_texts = texts[:n_train]
    tiny_models(out)
    bpe_models(out, texts, train_texts)
    with tempfile.TemporaryDirectory() as tmp:
        charsmaps, nmt_b64 = unigram_models(out, texts, train_texts, tmp)
    for rule, cm in charsmaps.items():
        # nmt_nfkc (XLM-R's rule) as transformers converted it, the others straight from the model
        precompiled_refs(out, rule, cm, texts, nmt_b64 if rule == "nmt_nfkc" else None)
    base64_cases(out, charsmaps["nmt_nfkc"])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference encodings of tokenizer.json pipelines other than BERT's, for
test_tokenizer_parity.c: each tokenizer is trained here on the test text by
`tokenizers` or `sentencepiece` and saved by transformers as a user's model
directory holds it.

Usage: gen_tok_pipelines.py OUT_DIR. Writes into OUT_DIR:
  tok_pipe_<name>/  tokenizer.json + tokenizer_config.json (transformers' save_pretrained)
  tokenizer_pipe_<name>.safetensors  the corpora of gen_tokenizer.py (emails,
      mixed, invalid, random) and `added` (e-mail lines with the added tokens
      put in odd places: inside words, beside spaces, doubled), each as
      <corpus>.ids / .splits / .offsets; pairs.* and batch.* (truncation and
      padding); decode.* (decode with skip_special_tokens)
  tokenizer_added.txt  the `added` corpus (one text per line)
  tok_pipelines.txt  the names, one per line
  tok_pipe_raw_bpe/ + tokenizer_pipe_raw_bpe.safetensors  the byte-level BPE's vocab.json +
      merges.txt alone, and the corpora as transformers' RobertaTokenizer encodes them from there
  tok_pipe_raw_spm/ + tokenizer_pipe_raw_spm.safetensors  the sentencepiece Unigram's
      sentencepiece.bpe.model alone, and every corpus, pairs, batch and decode as transformers'
      XLMRobertaTokenizer encodes them from there (its scores are the model's floats, not
      serde_json's reading of them as in tok_pipe_xlmr, and it has no user-added tokens);
      tokenizer_pipe_raw_spm.json: that tokenizer's tokenizer.json
Pipelines: roberta (byte-level BPE, RobertaProcessing), gpt2 (byte-level BPE,
ByteLevel post-processor, no special tokens but <|endoftext|>), xlmr (a
sentencepiece Unigram as transformers 5 converts it: Precompiled,
WhitespaceSplit + Metaspace, template), xlmr_hub (the same model with the
pipeline of XLM-R's published tokenizer.json: Precompiled + Replace(" {2,}"),
Metaspace, <mask> with lstrip), char_bpe (tokenizers' CharBPETokenizer:
BertNormalizer, BPE with </w> and [UNK], BPE decoder), sp_bpe (a BPE with byte
fallback in Llama's pipeline: Prepend + Replace, ByteFallback, Fuse, Strip
decoders), steps (WordPiece behind Lowercase, Strip, Replace, StripAccents, and
Whitespace, Digits, Punctuation, Split, CharDelimiterSplit pre-tokenizers).
"""
import io
import json
import os
import random
import sys

from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_tokenizer import (DATA, encode_corpus, encode_decode, encode_pairs, make_long_lines,  # noqa: E402
                           random_lines, read_lines)  # noqa: E402

import sentencepiece as spm  # noqa: E402
from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers,  # noqa: E402
                        processors, trainers)
from tokenizers.implementations import ByteLevelBPETokenizer, CharBPETokenizer  # noqa: E402
from transformers import (GPT2TokenizerFast, PreTrainedTokenizerFast, RobertaTokenizer,  # noqa: E402
                          XLMRobertaTokenizer)

ADDED = ["<ent>", "[DOSE]", "mg/kg", "Ünïcode"]


def added_tokens():
    """The user-added tokens, each with other flags."""
    return [AddedToken(ADDED[0], lstrip=True, rstrip=False, single_word=False, normalized=False, special=True),
            AddedToken(ADDED[1], single_word=True, normalized=False),
            AddedToken(ADDED[2], rstrip=True, normalized=True),
            AddedToken(ADDED[3], lstrip=True, rstrip=True, normalized=True)]


def added_lines(lines, mask, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(1500):
        s = rng.choice(lines).decode("utf-8", errors="replace")
        for _ in range(rng.randrange(1, 5)):
            tok = rng.choice(ADDED + [mask, mask.lower(), " " + mask + " ", ADDED[0] * 2, ADDED[1].lower()])
            at = rng.randrange(len(s) + 1)
            pad = rng.choice(["", " ", "  ", "\t"])
            s = s[:at] + rng.choice([pad, ""]) + tok + rng.choice([pad, ""]) + s[at:]
        out.append(s.encode("utf-8"))
    return out


def train_text(corpora):
    """Training text without NUL: a token holding one is refused by verto's JSON reader (named, at its byte)."""
    return [l.decode("utf-8", errors="replace").replace("\0", "") for c in ("emails", "mixed") for l in corpora[c]]


def roberta_dirs(out, text):
    """A byte-level BPE as RoBERTa's, and the same vocabulary as GPT-2's."""
    bl = ByteLevelBPETokenizer()
    bl.train_from_iterator(text, vocab_size=6000, min_frequency=2,
                           special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    raw = os.path.join(out, "tok_pipe_raw_bpe")
    os.makedirs(raw, exist_ok=True)
    bl.save_model(raw)
    rob = RobertaTokenizer.from_pretrained(raw)
    gpt = GPT2TokenizerFast.from_pretrained(raw, unk_token="<|endoftext|>", bos_token="<|endoftext|>",
                                            eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    return {"roberta": rob, "gpt2": gpt}


def unigram_dirs(out, text):
    m = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=m, vocab_size=5000,
                                   model_type="unigram", character_coverage=0.9995, minloglevel=2)
    raw = os.path.join(out, "tok_pipe_raw_spm")
    os.makedirs(raw, exist_ok=True)
    with open(os.path.join(raw, "sentencepiece.bpe.model"), "wb") as f:
        f.write(m.getvalue())
    return {"xlmr": XLMRobertaTokenizer.from_pretrained(raw)}


def hub_style_xlmr(tok):
    """XLM-R's published tokenizer.json pipeline over the same model."""
    j = json.loads(tok.backend_tokenizer.to_str())
    precompiled = j["normalizer"]
    j["normalizer"] = {"type": "Sequence", "normalizers": [
        precompiled, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    for a in j["added_tokens"]:
        if a["content"] == "<mask>":
            a["lstrip"] = True
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(j)), bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>", sep_token="</s>", cls_token="<s>",
                                   pad_token="<pad>", mask_token="<mask>")


def char_bpe(text):
    t = CharBPETokenizer(unk_token="[UNK]", lowercase=True)
    t.train_from_iterator(text, vocab_size=5000, min_frequency=2, limit_alphabet=300,
                          special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    t.post_processor = processors.BertProcessing(("[SEP]", t.token_to_id("[SEP]")), ("[CLS]", t.token_to_id("[CLS]")))
    return PreTrainedTokenizerFast(tokenizer_object=t._tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def sp_bpe(text):
    """A BPE with byte fallback in Llama's pipeline (Prepend + Replace, no pre-tokenizer)."""
    t = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    t.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    tr = trainers.BpeTrainer(vocab_size=5000, min_frequency=2, limit_alphabet=200,
                             special_tokens=["<unk>", "<s>", "</s>", "<pad>"] + bytes_)
    t.train_from_iterator(text, tr)
    t.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 1, 0)])
    t.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s>:1 $B:1",
                                                     special_tokens=[("<s>", t.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=t, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")


def steps(text):
    """WordPiece behind many normalizers and pre-tokenizers."""
    t = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=40))
    # (NFC, NFKC and NFD before StripAccents are left out: verto's offsets differ from tokenizers' on a few
    # lines of random combining sequences; see docs/model-directories.md)
    t.normalizer = normalizers.Sequence([normalizers.Lowercase(), normalizers.Strip(),
                                         normalizers.Replace(Regex(r"\s+"), " "), normalizers.StripAccents()])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"https?://\S+"), behavior="isolated"),
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="contiguous"),
        pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.CharDelimiterSplit("_"),
        pre_tokenizers.Split("--", behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"[A-Z]"), behavior="merged_with_next", invert=False),
        pre_tokenizers.Whitespace()])
    tr = trainers.WordPieceTrainer(vocab_size=5000, min_frequency=2, limit_alphabet=300,
                                   special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    t.train_from_iterator(text, tr)
    t.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", t.token_to_id("[CLS]")), ("[SEP]", t.token_to_id("[SEP]"))])
    t.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=t, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    corpora = {
        "emails": read_lines(os.path.join(DATA, "spamassassin_sample.txt")),
        "mixed": read_lines(os.path.join(DATA, "mixed.txt")),
        "invalid": read_lines(os.path.join(DATA, "invalid_utf8.txt")),
        "random": random_lines(3000, 1234),  # as gen_tokenizer.py's tokenizer_random.txt
    }
    text = train_text(corpora)
    toks = {}
    toks.update(roberta_dirs(out, text))
    toks.update(unigram_dirs(out, text))
    toks["xlmr_hub"] = hub_style_xlmr(toks["xlmr"])
    toks["char_bpe"] = char_bpe(text)
    toks["sp_bpe"] = sp_bpe(text)
    toks["steps"] = steps(text)
    long_lines = make_long_lines(corpora)  # tokenizer_long.txt
    corpora["added"] = added_lines(corpora["emails"], "<mask>", 5)
    with open(os.path.join(out, "tokenizer_added.txt"), "wb") as f:
        f.write(b"".join(l + b"\n" for l in corpora["added"]))
    for name, tok in toks.items():
        tok.add_tokens(added_tokens())
        d = os.path.join(out, f"tok_pipe_{name}")
        tok.save_pretrained(d)
        tok = PreTrainedTokenizerFast.from_pretrained(d)  # exactly what the directory holds
        tensors = {}
        for corpus, lines in corpora.items():
            encode_corpus(tok, lines, corpus, tensors)
        # max_length 8 and up: room for every template's special tokens (RoBERTa's pair has four)
        encode_pairs(tok, long_lines, tensors, pair_lengths=(8, 9, 16, 17, 32, 64, 128, 256, 512),
                     single_lengths=(4, 5, 10, 50, 200))
        encode_decode(tok, corpora["emails"], tensors)
        save_file(tensors, os.path.join(out, f"tokenizer_pipe_{name}.safetensors"),
                  metadata={"vocab_size": str(len(tok))})
        print(f"  {name}: {len(tok)} tokens")
    # the directory of vocab.json + merges.txt alone, as transformers' RobertaTokenizer reads it
    raw = RobertaTokenizer.from_pretrained(os.path.join(out, "tok_pipe_raw_bpe"))
    tensors = {}
    for corpus in ("emails", "mixed", "invalid", "random"):
        encode_corpus(raw, corpora[corpus], corpus, tensors)
    save_file(tensors, os.path.join(out, "tokenizer_pipe_raw_bpe.safetensors"), metadata={"vocab_size": str(len(raw))})
    # the directory of sentencepiece.bpe.model alone, as transformers' XLMRobertaTokenizer reads it
    spm_dir = os.path.join(out, "tok_pipe_raw_spm")
    assert os.listdir(spm_dir) == ["sentencepiece.bpe.model"], f"{spm_dir} should hold the model alone"
    raw = XLMRobertaTokenizer.from_pretrained(spm_dir)
    tensors = {}
    for corpus, lines in corpora.items():
        encode_corpus(raw, lines, corpus, tensors)
    encode_pairs(raw, long_lines, tensors, pair_lengths=(8, 9, 16, 17, 32, 64, 128, 256, 512),
                 single_lengths=(4, 5, 10, 50, 200))
    encode_decode(raw, corpora["emails"], tensors)
    save_file(tensors, os.path.join(out, "tokenizer_pipe_raw_spm.safetensors"), metadata={"vocab_size": str(len(raw))})
    with open(os.path.join(out, "tokenizer_pipe_raw_spm.json"), "w", encoding="utf-8") as f:
        f.write(raw.backend_tokenizer.to_str())  # the tokenizer.json verto should write beside the model
    with open(os.path.join(out, "tok_pipelines.txt"), "w") as f:
        f.write("".join(n + "\n" for n in toks))


if __name__ == "__main__":
    main()

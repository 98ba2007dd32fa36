#!/usr/bin/env python3
"""Writes the tokenizer benchmark's other tokenizers, trained on its text:

  OUT/bpe/tokenizer.json      a byte-level BPE as RoBERTa's (tokenizers' ByteLevelBPETokenizer,
                              50,000 tokens, saved by transformers' RobertaTokenizer)
  OUT/unigram/tokenizer.json  a SentencePiece Unigram as XLM-R's (32,000 pieces, converted by
                              transformers' XLMRobertaTokenizer: Precompiled, Metaspace, Unigram)

Usage: make_tokenizers.py TEXT OUT. Both verto (tok_bench) and the peer
(peer_tokenizers.py) then read the same tokenizer.json.
"""
import io
import os
import sys

import sentencepiece as spm
from tokenizers.implementations import ByteLevelBPETokenizer
from transformers import RobertaTokenizer, XLMRobertaTokenizer


def main():
    text, out = sys.argv[1], sys.argv[2]
    lines = [l for l in open(text, encoding="utf-8").read().split("\n") if l]
    raw = os.path.join(out, "bpe-files")
    os.makedirs(raw, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(lines, vocab_size=50000, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(raw)
    RobertaTokenizer.from_pretrained(raw).save_pretrained(os.path.join(out, "bpe"))
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=32000,
                                   model_type="unigram", character_coverage=0.9995, minloglevel=2,
                                   input_sentence_size=200000, shuffle_input_sentence=True)
    raw = os.path.join(out, "unigram-files")
    os.makedirs(raw, exist_ok=True)
    with open(os.path.join(raw, "sentencepiece.bpe.model"), "wb") as f:
        f.write(model.getvalue())
    XLMRobertaTokenizer.from_pretrained(raw).save_pretrained(os.path.join(out, "unigram"))


if __name__ == "__main__":
    main()

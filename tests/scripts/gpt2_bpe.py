#!/usr/bin/env python3
"""A GPT-2-style byte-level BPE tokenizer.json trained by tokenizers (the
reference the generative tests build their models on).

Usage: gpt2_bpe.py TEXT VOCAB_SIZE OUT.json"""
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

text, vocab, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train([text], trainer)
tok.save(out)

#!/usr/bin/env python3
"""Writes the inference benchmark's models, so that verto (infer_bench),
PyTorch (peer_torch.py) and ONNX Runtime (peer_onnx.py) load the same weights:

  OUT/bert-small/        BertForSequenceClassification, BERT-small (L4/H512/A8/I2048)
  OUT/all-MiniLM-L6-v2/  BertForSequenceClassification from all-MiniLM-L6-v2 (L6/H384/A12/I1536)
  OUT/roberta-base/      RobertaForSequenceClassification, roberta-base's shape (L12/H768/A12/I3072,
                         50,265 tokens, 514 positions, one token type, pad 1)
  OUT/distilbert-base/   DistilBertForSequenceClassification, distilbert-base's shape (L6/H768/A12/I3072)

Usage: make_models.py OUT MINILM_DIR [NAME ...] (default: all). Every model has
2 labels and is transformers' random initialisation under torch.manual_seed(42)
(MiniLM: its encoder with such a head), saved with save_pretrained."""
import os
import sys

import peer_common as pc


def build(name, minilm):
    import torch
    import transformers as tf
    torch.manual_seed(42)
    if name == "bert-small":
        return tf.BertForSequenceClassification(pc.bert_config("small", num_labels=2))
    if name == "all-MiniLM-L6-v2":
        return tf.BertForSequenceClassification.from_pretrained(minilm, num_labels=2)
    if name == "roberta-base":
        return tf.RobertaForSequenceClassification(tf.RobertaConfig(
            vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
            layer_norm_eps=1e-5, num_labels=2))
    if name == "distilbert-base":
        return tf.DistilBertForSequenceClassification(tf.DistilBertConfig(
            vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072, max_position_embeddings=512,
            num_labels=2))
    sys.exit(f"make_models: unknown model {name!r}")


MODELS = ("bert-small", "all-MiniLM-L6-v2", "roberta-base", "distilbert-base")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, minilm = sys.argv[1], sys.argv[2]
    from transformers.utils import logging
    logging.set_verbosity_error()  # MiniLM's "newly initialized" classifier is the point
    logging.disable_progress_bar()
    for name in sys.argv[3:] or MODELS:
        build(name, minilm).eval().save_pretrained(os.path.join(out, name))


if __name__ == "__main__":
    main()

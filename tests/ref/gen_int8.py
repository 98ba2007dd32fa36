#!/usr/bin/env python3
"""Reference outputs for verto's int8 models (tests/unit/test_bert_int8.c).

Usage: gen_int8.py OUT_DIR

Writes OUT_DIR/int8_<name>/ (a Hugging Face sequence classifier from
transformers, random weights drawn with std 0.1 so that quantization matters,
biases and LayerNorm moved away from 0 / 1) and OUT_DIR/int8_<name>_io.safetensors:

  input_ids, attention_mask, token_type_ids (B, T) int64: 5 sequences of 16,
      11, 4, 16 and 7 tokens, padded
  logits_fp32 (B, L)          transformers in float32
  logits_emulated (B, L)      verto's int8 scheme emulated here: each quantized
      nn.Linear (the encoder layers' Q/K/V, attention output, FFN up and down)
      has weights q = round(w / s_o), s_o = max|w_o| / 63 per
      output channel, and quantizes its input per row (token): range [min, max]
      widened to hold 0, s = (max - min) / 255, z = round(-min / s),
      q = clamp(round(x / s) + z, 0, 255); the integer sums exact (float64),
      y = (acc - z * rowsum) * (s * s_o) + b. Everything else float32, as verto.
  logits_qd_tensor (B, L)     torch.ao.quantization.quantize_dynamic with its
      default qconfig (weights qint8 per tensor, symmetric) on the same
      modules, x86 engine (fbgemm: activations quint8 per tensor, i.e. over
      the whole (B*T, in) input, with reduce_range = 7 bits)
  logits_qd_channel (B, L)    the same with per_channel_dynamic_qconfig
      (weights qint8 per output channel, 8 bits)

The pooler (DistilBERT's pre_classifier) and the final classifier stay float32
in every variant, as verto keeps them.
"""
import os
import sys
import warnings

import torch
from safetensors.torch import save_file
from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic
from transformers import BertConfig, BertForSequenceClassification, DistilBertConfig, DistilBertForSequenceClassification

LENGTHS = [16, 11, 4, 16, 7]
T = 16


def quantized_module_names(model):
    """The nn.Linear modules verto quantizes: the encoder layers' (not the pooler, pre_classifier, classifier)."""
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
            and (".layer." in n) and "pooler" not in n]


class EmulatedInt8Linear(torch.nn.Module):
    """verto's int8 dense layer, computed in float32 and exact integers (float64)."""

    def __init__(self, lin):
        super().__init__()
        w = lin.weight.detach().float()
        amax = w.abs().amax(dim=1)
        s_w = torch.where(amax > 0, amax / 63.0, torch.ones_like(amax))
        self.q_w = torch.clamp(torch.round(w / s_w[:, None]), -63, 63)
        self.s_w = s_w
        self.bias = lin.bias.detach().float()

    def forward(self, x):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).float()
        lo = torch.clamp(x2.amin(dim=1), max=0.0)
        hi = torch.clamp(x2.amax(dim=1), min=0.0)
        s = torch.where(hi > lo, (hi - lo) / 255.0, torch.ones_like(hi))
        inv = 1.0 / s
        z = torch.clamp(torch.round(-lo * inv), 0, 255)
        q = torch.clamp(torch.round(x2 * inv[:, None]) + z[:, None], 0, 255)
        acc = q.double() @ self.q_w.double().T  # exact: integers below 2^53
        d = (acc - z.double()[:, None] * self.q_w.double().sum(dim=1)[None, :]).float()
        y = d * (s[:, None] * self.s_w[None, :]) + self.bias
        return y.reshape(*shape[:-1], -1)


def emulate(model):
    import copy
    m = copy.deepcopy(model)
    for name in quantized_module_names(m):
        parent_name, _, child = name.rpartition(".")
        parent = m.get_submodule(parent_name)
        setattr(parent, child, EmulatedInt8Linear(getattr(parent, child)))
    return m


def perturb(model, gen):
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "LayerNorm" in n or "layer_norm" in n:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def make(name, model, out_dir, gen, vocab):
    perturb(model, gen)
    model.eval()
    d = os.path.join(out_dir, f"int8_{name}")
    model.save_pretrained(d, safe_serialization=True)
    B = len(LENGTHS)
    ids = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    for i, n in enumerate(LENGTHS):
        ids[i, :n] = torch.randint(1, vocab, (n,), generator=gen)
        mask[i, :n] = 1
    types = torch.zeros(B, T, dtype=torch.long)
    kw = dict(input_ids=ids, attention_mask=mask)
    if isinstance(model, BertForSequenceClassification):
        kw["token_type_ids"] = types
    names = quantized_module_names(model)
    with torch.no_grad():
        out = {"logits_fp32": model(**kw).logits}
        out["logits_emulated"] = emulate(model)(**kw).logits
        torch.backends.quantized.engine = "x86"
        for key, qc in (("logits_qd_tensor", default_dynamic_qconfig), ("logits_qd_channel", per_channel_dynamic_qconfig)):
            qm = quantize_dynamic(model, qconfig_spec={n: qc for n in names}, dtype=torch.qint8, inplace=False)
            out[key] = qm(**kw).logits
    tensors = {k: v.float().contiguous() for k, v in out.items()}
    tensors.update(input_ids=ids, attention_mask=mask, token_type_ids=types)
    save_file(tensors, os.path.join(out_dir, f"int8_{name}_io.safetensors"))


def main():
    warnings.filterwarnings("ignore")  # quantize_dynamic's deprecation notices
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    bert = BertConfig(vocab_size=120, hidden_size=96, num_hidden_layers=3, num_attention_heads=4,
                      intermediate_size=256, max_position_embeddings=40, num_labels=3,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    make("bert", BertForSequenceClassification(bert), out_dir, gen, 120)
    distil = DistilBertConfig(vocab_size=110, dim=64, n_layers=2, n_heads=4, hidden_dim=160,
                              max_position_embeddings=32, num_labels=2, dropout=0.0, attention_dropout=0.0,
                              seq_classif_dropout=0.0)
    make("distilbert", DistilBertForSequenceClassification(distil), out_dir, gen, 110)


if __name__ == "__main__":
    main()

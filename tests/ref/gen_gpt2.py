#!/usr/bin/env python3
"""Reference GPT-2 models and outputs from transformers for tests/unit/test_gpt2.c.

Usage:
  gen_gpt2.py OUT_DIR
      writes the model directories and reference outputs below into OUT_DIR.
  gen_gpt2.py --check MODEL_DIR OUTPUTS.safetensors [MODEL_DIR OUTPUTS.safetensors ...]
      for each pair: loads MODEL_DIR (written by verto) with GPT2LMHeadModel.from_pretrained,
      fails unless there are no missing, unexpected or mismatched keys and its
      logits on the batch in OUTPUTS (input_ids, attention_mask) agree with
      verto's there (logits) to 1e-4, and unless sum(p.numel() for p in
      model.parameters()) equals OUTPUTS' n_params. Exit status 0 on success.

Models (random weights, dropout 0, LayerNorm parameters and biases perturbed
away from 1 / 0, saved with save_pretrained as safetensors):
  gpt2_a   n_embd 24, 3 heads, 2 layers, 40 positions, vocabulary 77, n_inner 52, gelu_new, eps 1e-5
  gpt2_b   n_embd 36, 4 heads, 3 layers, 96 positions, vocabulary 101, n_inner null (144), gelu, eps 1e-6
Variants of gpt2_a (same weights):
  gpt2_a_base/     saved from GPT2Model: names without "transformer."
  gpt2_a_lmhead/   GPT2LMHeadModel's names plus a stored lm_head.weight (= wte)
  gpt2_a_badshape/ transformer.h.1.mlp.c_fc.weight cut to (24, 51)
  gpt2_a_missing/  without transformer.h.0.attn.c_proj.bias

<name>_io.safetensors:
  input_ids, attention_mask, labels (B, T) int64: B=3, T=12, right-padded
    sequences of 12, 7 and 4 tokens; labels the ids with -100 at padding
  logits (B, T, V); loss (1,) float64 (transformers' labels= loss);
  grad.<name> for every parameter, <name> without "transformer." in
    transformers' layout (Conv1D weights (in, out)); wte's includes the tied
    lm_head's share
    (outputs and gradients computed in float64 from the float32 weights)
  prompt_ids (P, Tp) int64 right-padded with 0, prompt_lengths (P,):
    prompts of 5, 9, 1 and 3 tokens
  greedy (P, N) int64: model.generate(do_sample=False, max_new_tokens=N) on
    each prompt alone (float32, as verto computes), -1 after an early eos;
    N = 64 for gpt2_b, 24 for gpt2_a (40 positions)
  n_params (1,) float64: sum(p.numel() for p in model.parameters())
"""
import shutil
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model
from transformers.utils import logging

logging.set_verbosity_error()

CONFIGS = {
    "gpt2_a": dict(vocab_size=77, n_positions=40, n_embd=24, n_layer=2, n_head=3, n_inner=52,
                   activation_function="gelu_new", layer_norm_epsilon=1e-5, bos_token_id=76, eos_token_id=76),
    "gpt2_b": dict(vocab_size=101, n_positions=96, n_embd=36, n_layer=3, n_head=4, n_inner=None,
                   activation_function="gelu", layer_norm_epsilon=1e-6, bos_token_id=100, eos_token_id=100),
}
NEW_TOKENS = {"gpt2_a": 24, "gpt2_b": 64}
LENGTHS = [12, 7, 4]
PROMPT_LENGTHS = [5, 9, 1, 3]
CHECK_TOL = 1e-4


def build(name, seed):
    torch.manual_seed(seed)
    cfg = GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **CONFIGS[name])
    model = GPT2LMHeadModel(cfg)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.ndim == 1:  # biases and LayerNorm parameters away from 0 / 1
                p.add_(0.1 * torch.randn_like(p))
            else:  # weights at a scale where the layers matter
                p.copy_(0.2 * torch.randn_like(p))
    model.eval()
    return model


def batch(V, gen):
    B, T = len(LENGTHS), max(LENGTHS)
    ids = torch.randint(0, V, (B, T), generator=gen)
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(LENGTHS):
        mask[b, :n] = 1
    ids = ids * mask  # padding id 0
    labels = ids.masked_fill(mask == 0, -100)
    return ids, mask, labels


def references(name, model, out):
    V = model.config.vocab_size
    gen = torch.Generator().manual_seed(11)
    ids, mask, labels = batch(V, gen)
    m64 = GPT2LMHeadModel(model.config).double()
    m64.load_state_dict(model.state_dict())
    m64.eval()
    res = m64(input_ids=ids, attention_mask=mask, labels=labels)
    res.loss.backward()
    tensors = {"input_ids": ids, "attention_mask": mask, "labels": labels,
               "logits": res.logits.detach().float(), "loss": res.loss.detach().reshape(1)}
    for pname, p in m64.named_parameters():
        tensors["grad." + pname.removeprefix("transformer.")] = p.grad.float()
    P, Tp = len(PROMPT_LENGTHS), max(PROMPT_LENGTHS)
    prompts = torch.zeros(P, Tp, dtype=torch.long)
    for i, n in enumerate(PROMPT_LENGTHS):
        prompts[i, :n] = torch.randint(0, V, (n,), generator=gen)
    N = NEW_TOKENS[name]
    greedy = torch.full((P, N), -1, dtype=torch.long)
    for i, n in enumerate(PROMPT_LENGTHS):
        p = prompts[i:i + 1, :n]
        with torch.no_grad():
            g = model.generate(input_ids=p, attention_mask=torch.ones_like(p), do_sample=False, max_new_tokens=N,
                               pad_token_id=model.config.eos_token_id)
        new = g[0, n:]
        greedy[i, :len(new)] = new
    tensors.update(prompt_ids=prompts, prompt_lengths=torch.tensor(PROMPT_LENGTHS), greedy=greedy,
                   n_params=torch.tensor([float(sum(p.numel() for p in model.parameters()))], dtype=torch.float64))
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / f"{name}_io.safetensors"))


def variants(model, out):
    src = out / "gpt2_a"
    base = out / "gpt2_a_base"
    model.transformer.save_pretrained(base)
    shutil.copy(src / "config.json", base / "config.json")  # GPT2Model's own names GPT2Model as its class
    with safe_open(str(src / "model.safetensors"), "pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}

    def variant(dirname, tensors):
        d = out / dirname
        d.mkdir(exist_ok=True)
        shutil.copy(src / "config.json", d / "config.json")
        save_file(tensors, str(d / "model.safetensors"), metadata={"format": "pt"})

    variant("gpt2_a_lmhead", {**state, "lm_head.weight": state["transformer.wte.weight"].clone()})
    bad = dict(state)
    bad["transformer.h.1.mlp.c_fc.weight"] = bad["transformer.h.1.mlp.c_fc.weight"][:, :51].contiguous()
    variant("gpt2_a_badshape", bad)
    missing = {k: v for k, v in state.items() if k != "transformer.h.0.attn.c_proj.bias"}
    variant("gpt2_a_missing", missing)


def check(model_dir, outputs):
    model, info = GPT2LMHeadModel.from_pretrained(model_dir, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        print(f"{model_dir}: loading problems {problems}")
        return 1
    model.eval()
    with safe_open(outputs, "pt") as f:
        ids, mask, want = f.get_tensor("input_ids").long(), f.get_tensor("attention_mask").long(), f.get_tensor("logits")
        n_params = int(f.get_tensor("n_params").item())
    with torch.no_grad():
        got = model(input_ids=ids, attention_mask=mask).logits
    real = mask.bool()
    diff = (got[real] - want.reshape(got.shape)[real]).abs().max().item()
    count = sum(p.numel() for p in model.parameters())
    print(f"{model_dir}: max |logits transformers - verto| {diff:.3g} (tolerance {CHECK_TOL}); "
          f"parameters {count}, verto {n_params}")
    return 0 if diff <= CHECK_TOL and count == n_params else 1


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "--check" and len(sys.argv) % 2 == 0:
        pairs = sys.argv[2:]
        sys.exit(max(check(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)))
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(CONFIGS):
        model = build(name, 100 + seed)
        model.save_pretrained(out / name)
        references(name, model, out)
        if name == "gpt2_a":
            variants(model, out)


if __name__ == "__main__":
    main()

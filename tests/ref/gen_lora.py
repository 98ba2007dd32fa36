#!/usr/bin/env python3
"""Reference LoRA adapters and outputs from PEFT for tests/unit/test_lora.c.

Usage:
  gen_lora.py OUT_DIR
      writes the directories and reference outputs below into OUT_DIR.
  gen_lora.py --check BASE_DIR ADAPTER_DIR OUTPUTS.safetensors
      loads BASE_DIR with GPT2LMHeadModel and ADAPTER_DIR (written by verto)
      with peft.PeftModel.from_pretrained; fails unless the adapter loads with
      no missing or unexpected LoRA keys and its logits on OUTPUTS' batch
      (input_ids, attention_mask) agree with verto's (logits) to 1e-4 abs.

Base (random weights at scale 0.2, biases and LayerNorms perturbed, dropout 0):
  lora_base/   n_embd 24, 3 heads, 2 layers, 40 positions, vocabulary 77, n_inner 52, gelu_new
Adapters (get_peft_model, fan_in_fan_out, then lora_A and lora_B set to normal(0, 0.3)
so that both branches matter; saved with save_pretrained):
  lora_adapter/     r 3, lora_alpha 5, target_modules ["c_attn", "c_proj", "c_fc"]
                    ("c_proj" is attn.c_proj and mlp.c_proj by PEFT's suffix match)
  lora_adapter_q/   r 2, lora_alpha 8, target_modules ["c_attn"]
  lora_merged/      lora_base + lora_adapter merged by merge_and_unload(), save_pretrained
Broken copies of lora_adapter: lora_bad_missing/ (no h.1 mlp.c_fc lora_B), lora_bad_shape/
(h.0 attn.c_attn lora_A cut to (3, 23)), lora_bad_rank/ (config r 4), lora_bad_type/
(peft_type PREFIX_TUNING), lora_bad_extra/ (an extra tensor for layer 5).

lora_io.safetensors (model in float64 from the float32 weights, lora_adapter attached, dropout 0):
  input_ids, attention_mask, labels (B, T) int64: B=3, T=11, right-padded
    sequences of 11, 7, 4 tokens; labels = ids with -100 at padding and on each
    sequence's first 3 tokens (the "prompt": loss on the completion only)
  logits (B, T, V); loss (1,) float64 (transformers' labels= loss through PeftModel)
  grad.<name> for every LoRA parameter, name as in the adapter file without
    "base_model.model." (A (r, in), B (out, r))
  logits_q (B, T, V): the same batch with lora_adapter_q
"""
import json
import shutil
import sys
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging

logging.set_verbosity_error()

CONFIG = dict(vocab_size=77, n_positions=40, n_embd=24, n_layer=2, n_head=3, n_inner=52,
              activation_function="gelu_new", layer_norm_epsilon=1e-5, bos_token_id=76, eos_token_id=76,
              resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
LENGTHS = [11, 7, 4]
PROMPT = 3
CHECK_TOL = 1e-4


def base_model(seed):
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(**CONFIG))
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    return model.eval()


def adapter(base, r, alpha, targets, seed):
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets, fan_in_fan_out=True,
                     bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(0.3 * torch.randn_like(p))
    return model.eval()


def batch(V):
    gen = torch.Generator().manual_seed(21)
    B, T = len(LENGTHS), max(LENGTHS)
    ids = torch.randint(0, V, (B, T), generator=gen)
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(LENGTHS):
        mask[b, :n] = 1
    ids = ids * mask
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :PROMPT] = -100
    return ids, mask, labels


def generate(out):
    base_dir = out / "lora_base"
    base = base_model(5)
    base.save_pretrained(base_dir)
    ids, mask, labels = batch(CONFIG["vocab_size"])
    tensors = {"input_ids": ids, "attention_mask": mask, "labels": labels}

    model = adapter(base_model(5), 3, 5, ["c_attn", "c_proj", "c_fc"], 7)
    model.save_pretrained(out / "lora_adapter")
    m64 = PeftModel.from_pretrained(GPT2LMHeadModel.from_pretrained(base_dir).double(), out / "lora_adapter",
                                    is_trainable=True).double()
    m64.eval()
    res = m64(input_ids=ids, attention_mask=mask, labels=labels)
    res.loss.backward()
    tensors.update(logits=res.logits.detach().float(), loss=res.loss.detach().reshape(1))
    for name, p in m64.named_parameters():
        if p.requires_grad:
            key = name.removeprefix("base_model.model.").replace(".default", "")
            tensors["grad." + key] = p.grad.float()
    merged = model.merge_and_unload()
    merged.save_pretrained(out / "lora_merged")

    q = adapter(base_model(5), 2, 8, ["c_attn"], 8)
    q.save_pretrained(out / "lora_adapter_q")
    with torch.no_grad():
        q64 = PeftModel.from_pretrained(GPT2LMHeadModel.from_pretrained(base_dir).double(), out / "lora_adapter_q")
        tensors["logits_q"] = q64.eval()(input_ids=ids, attention_mask=mask).logits.float()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "lora_io.safetensors"))
    broken(out)


def broken(out):
    src = out / "lora_adapter"
    with safe_open(str(src / "adapter_model.safetensors"), "pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads((src / "adapter_config.json").read_text())
    key = "base_model.model.transformer.h.{}.{}.lora_{}.weight"

    def variant(name, tensors, cfg):
        d = out / name
        d.mkdir(exist_ok=True)
        save_file(tensors, str(d / "adapter_model.safetensors"), metadata={"format": "pt"})
        (d / "adapter_config.json").write_text(json.dumps(cfg, indent=2))

    variant("lora_bad_missing", {k: v for k, v in state.items() if k != key.format(1, "mlp.c_fc", "B")}, config)
    bad = dict(state)
    bad[key.format(0, "attn.c_attn", "A")] = bad[key.format(0, "attn.c_attn", "A")][:, :23].contiguous()
    variant("lora_bad_shape", bad, config)
    variant("lora_bad_rank", state, {**config, "r": 4})
    variant("lora_bad_type", state, {**config, "peft_type": "PREFIX_TUNING"})
    variant("lora_bad_extra", {**state, key.format(5, "attn.c_attn", "A"): state[key.format(0, "attn.c_attn", "A")].clone()},
            config)


def check(base_dir, adapter_dir, outputs):
    base = GPT2LMHeadModel.from_pretrained(base_dir)
    with safe_open(str(Path(adapter_dir) / "adapter_model.safetensors"), "pt") as f:
        keys = set(f.keys())
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    want = {n.replace(".default", "") for n, _ in model.named_parameters() if "lora_" in n}
    if keys != want:
        print(f"check: adapter keys differ from PEFT's: missing {sorted(want - keys)[:4]}, "
              f"unexpected {sorted(keys - want)[:4]}")
        return 1
    with safe_open(outputs, "pt") as f:
        ids, mask, logits = (f.get_tensor(k) for k in ("input_ids", "attention_mask", "logits"))
    with torch.no_grad():
        got = model(input_ids=ids.long(), attention_mask=mask.long()).logits
    diff = (got - logits).abs().max().item()
    print(f"check: {adapter_dir}: PEFT vs verto logits max |diff| {diff:.3g} (tolerance {CHECK_TOL})")
    return 0 if diff <= CHECK_TOL else 1


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--check":
        sys.exit(check(*sys.argv[2:]))
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    generate(out)


if __name__ == "__main__":
    main()

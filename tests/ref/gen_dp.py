"""Reference for DP-SGD's per-example clipping (tests/unit/test_dp.c).

A small transformers BertForSequenceClassification (dropout 0, so a training
forward is deterministic), a batch of 6 examples of different lengths, and
Opacus 1.6's per-example gradients (GradSampleModule, loss_reduction="mean")
clipped and summed by its DPOptimizer with noise_multiplier 0 and
expected_batch_size 6: p.grad = sum_i min(1, C / (||g_i|| + 1e-6)) g_i / 6.
C is chosen in the widest gap between middle per-example norms (at least 1%
from each), so some examples are clipped and some are not; the model runs in float64 so the
reference's own rounding is negligible next to verto's float32.

Writes OUT/dp_model/ (config.json, model.safetensors) and OUT/dp_ref.safetensors:
input_ids, token_type_ids, attention_mask, labels (int32), norms (6,) float64,
max_grad_norm (1,), and grad.<name> for every parameter (verto's names: without "bert.").
"""
import pathlib
import sys
import warnings

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForSequenceClassification

warnings.filterwarnings("ignore")
from opacus import GradSampleModule  # noqa: E402
from opacus.optimizers import DPOptimizer  # noqa: E402

B, T, LABELS = 6, 9, 3


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(20)
    cfg = BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
                     max_position_embeddings=16, type_vocab_size=2, num_labels=LABELS, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0, initializer_range=0.3)
    cfg._attn_implementation = "eager"
    model = BertForSequenceClassification(cfg)
    with torch.no_grad():  # non-zero biases and LayerNorm parameters, so every gradient is exercised
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.add_(0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
    model.save_pretrained(out / "dp_model", safe_serialization=True)

    gen = torch.Generator().manual_seed(21)
    ids = torch.randint(5, 60, (B, T), generator=gen)
    lengths = [9, 4, 7, 3, 9, 6]
    mask = torch.zeros(B, T, dtype=torch.long)
    types = torch.zeros(B, T, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        types[i, n // 2:n] = 1
        ids[i, n:] = 0
    labels = torch.tensor([0, 1, 2, 1, 0, 2])

    model = model.double().train()
    gsm = GradSampleModule(model, loss_reduction="mean")
    # position ids given per example: broadcast from (1, T), Opacus would see one sample for the position table
    pos = torch.arange(T).expand(B, T).contiguous()
    out_ = gsm(input_ids=ids, attention_mask=mask, token_type_ids=types, position_ids=pos, labels=labels)
    out_.loss.backward()
    params = [p for p in gsm.parameters() if p.requires_grad]
    norms = torch.stack([p.grad_sample.reshape(B, -1).norm(2, dim=1) for p in params], dim=1).norm(2, dim=1)
    s = norms.sort().values
    # the widest gap among the middle norms, so some examples are clipped, some not, none near the bound
    k = max(range(1, B - 2), key=lambda j: float(s[j + 1] / s[j]))
    c = float(torch.sqrt(s[k] * s[k + 1]))
    print(f"dp: sorted norms {[round(float(x), 5) for x in s]}")
    assert s[k] < 0.99 * c and s[k + 1] > 1.01 * c, "the bound must keep clear of every norm"
    opt = DPOptimizer(torch.optim.SGD(params, lr=0.0), noise_multiplier=0.0, max_grad_norm=c, expected_batch_size=B,
                      loss_reduction="mean")
    assert opt.pre_step()
    tensors = {"input_ids": ids.int(), "token_type_ids": types.int(), "attention_mask": mask.int(),
               "labels": labels.int(), "norms": norms.detach().double(),
               "max_grad_norm": torch.tensor([c], dtype=torch.float64)}
    for name, p in model.named_parameters():
        vt = name[len("bert."):] if name.startswith("bert.") else name
        tensors["grad." + vt] = p.grad.detach().float().contiguous()
    save_file(tensors, str(out / "dp_ref.safetensors"))
    print(f"dp: norms {[round(float(x), 4) for x in norms]}, C = {c:.4f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/ref")

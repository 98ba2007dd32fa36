#!/usr/bin/env python3
"""Reference optimizer trajectories from torch.optim for tests/unit/test_optim.c.

Usage: gen_optim.py OUT_DIR   (writes OUT_DIR/optim.safetensors)

A few named parameters (BERT-like names, so "bias" / "LayerNorm.weight" hit
the weight-decay exclusions) get a fixed sequence of STEPS gradients (seeded;
step CLIP_STEP is scaled up so that clip_grad_norm_(1.0) engages there, and
the others stay below 1; TINY_GRAD's gradients are so small that Adam's
epsilon matters). Each case runs STEPS updates from the same initial
values and saves the parameters after every update and the lr each used.

Tensors written:
  init/<param>              initial value
  grad/<s>/<param>          gradient of update s (0-based)
  grad_norm                 (STEPS,) global L2 norm of each step's gradients
  <case>/lr                 (STEPS,) float64 lr used by update s
  <case>/step<k>/<param>    value after k updates, k = 1..STEPS
"""
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

STEPS = 10
CLIP_STEP = 4
WARMUP, TOTAL = 3, 10
NO_DECAY = ["bias", "LayerNorm.weight"]
TINY_GRAD = "classifier.bias"

PARAMS = [  # name, shape (the C test lists the same, in this order)
    ("embeddings.word_embeddings.weight", (20, 6)),
    ("encoder.layer.0.attention.self.query.weight", (6, 6)),
    ("encoder.layer.0.attention.self.query.bias", (6,)),
    ("encoder.layer.0.attention.output.LayerNorm.weight", (6,)),
    ("encoder.layer.0.attention.output.LayerNorm.bias", (6,)),
    ("encoder.layer.0.intermediate.dense.weight", (2, 3, 4)),
    ("classifier.weight", (3, 6)),
    ("classifier.bias", (3,)),
]


def initial(gen):
    out = {}
    for name, shape in PARAMS:
        if "LayerNorm.weight" in name:
            out[name] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith("bias"):
            out[name] = 0.02 * torch.randn(shape, generator=gen)
        else:
            out[name] = 0.5 * torch.randn(shape, generator=gen)
    return out


def gradients(gen):
    grads = []
    for s in range(STEPS):
        g = {name: 0.03 * torch.randn(shape, generator=gen) for name, shape in PARAMS}
        g[TINY_GRAD] *= 1e-5  # sqrt(v) ~ 3e-7: epsilon 1e-8 vs 1e-7 shows here
        if s == CLIP_STEP:
            g = {k: 40.0 * v for k, v in g.items()}
        grads.append(g)
    return grads


def linear_warmup_decay(step):  # transformers.get_linear_schedule_with_warmup
    if step < WARMUP:
        return float(step) / float(max(1, WARMUP))
    return max(0.0, float(TOTAL - step) / float(max(1, TOTAL - WARMUP)))


def groups(params, wd):
    decay = [p for n, p in params.items() if not any(nd in n for nd in NO_DECAY)]
    no_decay = [p for n, p in params.items() if any(nd in n for nd in NO_DECAY)]
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


CASES = {
    "sgd": dict(make=lambda p: torch.optim.SGD(list(p.values()), lr=0.1)),
    "sgd_momentum": dict(make=lambda p: torch.optim.SGD(list(p.values()), lr=0.1, momentum=0.9)),
    "adam": dict(make=lambda p: torch.optim.Adam(list(p.values()), lr=1e-3, eps=1e-8)),
    "adam_eps7": dict(make=lambda p: torch.optim.Adam(list(p.values()), lr=1e-3, eps=1e-7)),
    "adamw": dict(make=lambda p: torch.optim.AdamW(groups(p, 0.01), lr=1e-3, eps=1e-8)),
    "adamw_sched": dict(make=lambda p: torch.optim.AdamW(groups(p, 0.01), lr=1e-3, eps=1e-8), sched=True),
    "adamw_clip_sched": dict(make=lambda p: torch.optim.AdamW(groups(p, 0.01), lr=1e-3, eps=1e-8),
                             sched=True, clip=1.0),
}


def run_case(case, init, grads, out):
    params = {n: torch.nn.Parameter(v.clone()) for n, v in init.items()}
    opt = case["make"](params)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_warmup_decay) if case.get("sched") else None
    lrs, norms = [], []
    for s in range(STEPS):
        for n, p in params.items():
            p.grad = grads[s][n].clone()
        if "clip" in case:
            norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), case["clip"])))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched:
            sched.step()
        for n, p in params.items():
            out[f"{case['name']}/step{s + 1}/{n}"] = p.detach().clone()
    out[f"{case['name']}/lr"] = torch.tensor(lrs, dtype=torch.float64)
    return norms


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_optim.py OUT_DIR")
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(20240611)
    init = initial(gen)
    grads = gradients(gen)
    out = {f"init/{n}": v for n, v in init.items()}
    for s, g in enumerate(grads):
        for n, v in g.items():
            out[f"grad/{s}/{n}"] = v
    norms = [float(torch.linalg.vector_norm(torch.cat([v.flatten() for v in g.values()]).double()))
             for g in grads]
    out["grad_norm"] = torch.tensor(norms, dtype=torch.float64)
    for name, case in CASES.items():
        case["name"] = name
        clip_norms = run_case(case, init, grads, out)
        if clip_norms:  # the data must exercise both sides of the clip threshold
            above = [s for s, v in enumerate(clip_norms) if v > case["clip"]]
            assert above == [CLIP_STEP], f"{name}: clipping engaged at steps {above}, want [{CLIP_STEP}]"
    save_file({k: v.contiguous() for k, v in out.items()}, str(out_dir / "optim.safetensors"))


if __name__ == "__main__":
    main()

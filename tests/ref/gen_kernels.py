#!/usr/bin/env python3
"""Reference outputs and gradients of the compute kernels, from PyTorch, for
tests/unit/test_kernels_ref.c.

Usage: gen_kernels.py OUT_DIR   (writes OUT_DIR/kernels.safetensors)

Inputs are random (seeded) float32 values; PyTorch evaluates forward and
backward in float64 (the oracle is then exact to float32 rounding) and the
results are stored as F32 (losses as F64, shape (1,)). Layouts are verto's:
attention q (B, Tq, H, E), k (B, Tk, H, E), v (B, Tk, H, Ev), out
(B, Tq, H, Ev), probs (B, H, Tq, Tk); masks are I32 with 1 = attend.

Tensors written (prefix/name):
  act/x, act/dy; act/<gelu|gelu_tanh|tanh|sigmoid|relu>/y, .../dx
  softmax/x, softmax/dy, softmax/y, softmax/dx               (rows 5, cols 11)
  ln/x, ln/gamma, ln/beta, ln/dy, ln/y, ln/dx, ln/dgamma, ln/dbeta  (6, 37), eps 1e-12
  attn_<case>/q, k, v, dout, [mask], out, probs, dq, dk, dv
      cases: none, keys (key padding), full (cross, Tq != Tk), causal (+ keys)
  xent/logits, xent/labels (-100 ignored), xent/weights; xent/loss, xent/dlogits,
      xent_w/loss, xent_w/dlogits (with class weights)
  bce/p, bce/t, bce/loss, bce/dp; bcel/x, bcel/t, bcel/loss, bcel/dx
  mse/x, mse/t, mse/loss, mse/dx
"""
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = {}
GEN = torch.Generator().manual_seed(20240611)


def rand(*shape, lo=-1.0, hi=1.0):
    """Uniform float32 values, returned as float64 leaves (exactly representable)."""
    x = lo + (hi - lo) * torch.rand(*shape, generator=GEN, dtype=torch.float32)
    return x.double().requires_grad_(True)


def put(name, t, dtype=torch.float32):
    OUT[name] = t.detach().to(dtype).reshape(t.shape or (1,)).contiguous()


def activations():
    x = rand(1000, lo=-6, hi=6)
    dy = rand(1000)
    put("act/x", x)
    put("act/dy", dy)
    fns = {
        "gelu": lambda t: F.gelu(t),
        "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": F.relu,
    }
    for name, fn in fns.items():
        y = fn(x)
        (dx,) = torch.autograd.grad(y, x, dy)
        put(f"act/{name}/y", y)
        put(f"act/{name}/dx", dx)


def softmax():
    x = rand(5, 11, lo=-4, hi=4)
    dy = rand(5, 11)
    y = F.softmax(x, dim=-1)
    (dx,) = torch.autograd.grad(y, x, dy)
    for k, v in dict(x=x, dy=dy, y=y, dx=dx).items():
        put(f"softmax/{k}", v)


def layernorm():
    x = rand(6, 37, lo=-2, hi=3)
    gamma = rand(37, lo=0.5, hi=1.5)
    beta = rand(37, lo=-0.5, hi=0.5)
    dy = rand(6, 37)
    y = F.layer_norm(x, (37,), gamma, beta, eps=1e-12)
    dx, dg, db = torch.autograd.grad(y, (x, gamma, beta), dy)
    for k, v in dict(x=x, gamma=gamma, beta=beta, dy=dy, y=y, dx=dx, dgamma=dg, dbeta=db).items():
        put(f"ln/{k}", v)


def attention_case(name, B, Tq, Tk, H, E, Ev, mask_kind=None, causal=False):
    q, k, v = rand(B, Tq, H, E), rand(B, Tk, H, E), rand(B, Tk, H, Ev)
    dout = rand(B, Tq, H, Ev)
    allowed = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
    mask = None
    if mask_kind == "keys":  # pad the tail of every batch but the first
        mask = torch.ones(B, Tk, dtype=torch.int32)
        for b in range(1, B):
            mask[b, Tk - 1 - b:] = 0
        allowed = allowed & mask.bool()[:, None, None, :]
    elif mask_kind == "full":
        mask = (torch.rand(B, Tq, Tk, generator=GEN) < 0.7).to(torch.int32)
        mask[:, :, 0] = 1  # no fully masked row: SDPA would give NaN there
        allowed = allowed & mask.bool()[:, None, :, :]
    if causal:
        allowed = allowed & torch.ones(Tq, Tk, dtype=torch.bool).tril()
    qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, E)
    out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=allowed).transpose(1, 2)
    scores = qh @ kh.transpose(-1, -2) / E**0.5
    probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    dq, dk, dv = torch.autograd.grad(out, (q, k, v), dout)
    tensors = dict(q=q, k=k, v=v, dout=dout, out=out, probs=probs, dq=dq, dk=dk, dv=dv)
    for key, val in tensors.items():
        put(f"attn_{name}/{key}", val)
    if mask is not None:
        put(f"attn_{name}/mask", mask, torch.int32)


def attention():
    attention_case("none", 2, 5, 5, 2, 4, 4)
    attention_case("keys", 3, 7, 7, 3, 8, 8, mask_kind="keys")
    attention_case("full", 2, 5, 7, 2, 6, 3, mask_kind="full")
    attention_case("causal", 2, 7, 7, 3, 4, 4, mask_kind="keys", causal=True)


def losses():
    n, c = 12, 7
    logits = rand(n, c, lo=-3, hi=3)
    labels = torch.randint(0, c, (n,), generator=GEN)
    labels[[2, 7]] = -100
    weights = rand(c, lo=0.2, hi=2.0).detach()
    put("xent/logits", logits)
    put("xent/labels", labels, torch.int32)
    put("xent/weights", weights)
    for key, w in (("xent", None), ("xent_w", weights)):
        loss = F.cross_entropy(logits, labels, weight=w, ignore_index=-100)
        (g,) = torch.autograd.grad(loss, logits)
        put(f"{key}/loss", loss, torch.float64)
        put(f"{key}/dlogits", g)

    p, t = rand(20, lo=0.02, hi=0.98), rand(20, lo=0, hi=1).detach()
    t[:5] = 0.0
    t[5:10] = 1.0
    loss = F.binary_cross_entropy(p, t)
    (g,) = torch.autograd.grad(loss, p)
    for key, val in dict(p=p, t=t, dp=g).items():
        put(f"bce/{key}", val)
    put("bce/loss", loss, torch.float64)

    x = rand(20, lo=-6, hi=6)
    loss = F.binary_cross_entropy_with_logits(x, t)
    (g,) = torch.autograd.grad(loss, x)
    for key, val in dict(x=x, t=t, dx=g).items():
        put(f"bcel/{key}", val)
    put("bcel/loss", loss, torch.float64)

    x, y = rand(3, 11, lo=-2, hi=2), rand(3, 11, lo=-2, hi=2).detach()
    loss = F.mse_loss(x, y)
    (g,) = torch.autograd.grad(loss, x)
    for key, val in dict(x=x, t=y, dx=g).items():
        put(f"mse/{key}", val)
    put("mse/loss", loss, torch.float64)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_kernels.py OUT_DIR")
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    activations()
    softmax()
    layernorm()
    attention()
    losses()
    save_file(OUT, str(out / "kernels.safetensors"), metadata={"torch": torch.__version__})


if __name__ == "__main__":
    main()

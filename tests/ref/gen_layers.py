#!/usr/bin/env python3
"""PyTorch references for every layer and loss of the Keras-style model API,
read by tests/unit/test_layers_ref.c.

Usage: gen_layers.py OUT_DIR   (writes OUT_DIR/layers.safetensors)

Each case is a tiny model (widths 3-10, batch 2, sequence lengths 5 and 7)
that the C test builds with the same layers. Here it is computed with Keras
semantics in float64 from float32 inputs and weights (so the reference is
exact to well below float32 rounding and the C test measures verto's error
alone), the loss the C model is compiled with is applied, and autograd gives
every gradient. Tensors written, per case <c>:

  <c>/input<i>           model input i (F32, or I32 for ids and masks)
  <c>/labels             I32 class ids (sparse CE) or F32 targets
  <c>/param/<name>       every parameter, named as verto names it ("dense/kernel")
  <c>/output             the model output (training forward, dropout rate 0)
  <c>/loss               (1,) float64
  <c>/grad/<name>        d loss / d parameter
  <c>/dinput<i>          d loss / d input i, for each float input

Keras semantics reproduced:
  Dense            act(x @ kernel + bias), kernel (in, units)
  gelu / gelu_tanh x * Phi(x) (erf) / 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  Embedding        embeddings[ids]
  LayerNorm        (x - mean) / sqrt(var + eps) * gamma + beta, biased variance
  MultiHeadAttention  per-head projections by einsum with kernels (D, heads, dim)
                   and biases (heads, dim); scores = (Q / sqrt(key_dim)) K^T;
                   mask (1 = attend; a (B, Tk) key mask applies to every query;
                   a causal mask is ANDed in); softmax(scores + (1 - mask) * -1e9)
                   times mask, so a query whose keys are all masked gets zero
                   weights (Keras 3 Softmax); P @ V; output projection with
                   kernel (heads, value_dim, Dq) and bias (Dq).
  losses           sparse CE from logits: mean -log_softmax[label];
                   on probabilities: p / sum(p), clipped to [1e-7, 1 - 1e-7],
                   mean -log p[label]; binary CE from logits: mean of the
                   stable log-sigmoid form; on probabilities: clipped as above,
                   mean -(t log p + (1 - t) log(1 - p)); MSE: mean (out - y)^2.
                   Means are over every row (sparse CE) or element (the others).
"""
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

KERAS_EPS = 1e-7
F64 = torch.float64


class Case:
    """Random data and parameters of one case, recorded as float32."""

    def __init__(self, name, seed):
        self.name = name
        self.gen = torch.Generator().manual_seed(seed)
        self.inputs = []   # float64 leaf tensors (floats need grad) or int32 tensors
        self.params = {}   # name -> float64 leaf with grad

    def randn(self, *shape, scale=1.0, shift=0.0):
        # float32 values (what the C side gets), computed with in float64
        return (torch.randn(shape, generator=self.gen) * scale + shift).float().double()

    def float_input(self, *shape, scale=1.0, shift=0.0):
        t = self.randn(*shape, scale=scale, shift=shift).requires_grad_(True)
        self.inputs.append(t)
        return t

    def int_input(self, values):
        t = torch.as_tensor(values, dtype=torch.int32)
        self.inputs.append(t)
        return t

    def param(self, name, *shape, scale=0.5, shift=0.0):
        assert name not in self.params, name
        t = self.randn(*shape, scale=scale, shift=shift).requires_grad_(True)
        self.params[name] = t
        return t


# ---- layers ----------------------------------------------------------------

def activation(z, act):
    if act == "linear":
        return z
    if act == "relu":
        return torch.relu(z)
    if act == "gelu":
        return 0.5 * z * (1.0 + torch.erf(z / math.sqrt(2.0)))
    if act == "gelu_tanh":
        return 0.5 * z * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)))
    if act == "tanh":
        return torch.tanh(z)
    if act == "sigmoid":
        return torch.sigmoid(z)
    if act == "softmax":
        return torch.softmax(z, dim=-1)
    raise ValueError(act)


def dense(c, name, x, units, act="linear"):
    """Returns (output, logits)."""
    w = c.param(f"{name}/kernel", x.shape[-1], units, scale=0.5)
    b = c.param(f"{name}/bias", units, scale=0.1)
    z = x @ w + b
    return activation(z, act), z


def embedding(c, name, ids, vocab, dim):
    table = c.param(f"{name}/embeddings", vocab, dim, scale=0.5)
    return table[ids.long()]


def layer_norm(c, name, x, eps):
    gamma = c.param(f"{name}/gamma", x.shape[-1], scale=0.3, shift=1.0)
    beta = c.param(f"{name}/beta", x.shape[-1], scale=0.3)
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def mha(c, name, query, value, key=None, mask=None, heads=2, key_dim=4, value_dim=None, causal=False,
        use_bias=True):
    key = value if key is None else key
    value_dim = value_dim or key_dim
    dq = query.shape[-1]

    def proj(which, x, dim):
        w = c.param(f"{name}/{which}/kernel", x.shape[-1], heads, dim, scale=0.5)
        y = torch.einsum("btd,dhk->bthk", x, w)
        if use_bias:
            y = y + c.param(f"{name}/{which}/bias", heads, dim, scale=0.1)
        return y

    q = proj("query", query, key_dim)
    k = proj("key", key, key_dim)
    v = proj("value", value, value_dim)
    wo = c.param(f"{name}/output/kernel", heads, value_dim, dq, scale=0.5)
    bo = c.param(f"{name}/output/bias", dq, scale=0.1) if use_bias else None

    scores = torch.einsum("bshk,bthk->bhts", k, q / math.sqrt(key_dim))  # (B, heads, Tq, Tk)
    b, tq, tk = query.shape[0], query.shape[1], key.shape[1]
    allowed = torch.ones(b, tq, tk, dtype=F64)
    if mask is not None:
        m = mask.to(F64)
        allowed = allowed * (m[:, None, :] if m.dim() == 2 else m)
    if causal:
        allowed = allowed * torch.tril(torch.ones(tq, tk, dtype=F64))
    allowed = allowed[:, None]  # (B, 1, Tq, Tk)
    probs = torch.softmax(scores + (1.0 - allowed) * -1e9, dim=-1) * allowed
    out = torch.einsum("bhts,bshv->bthv", probs, v)
    y = torch.einsum("bthv,hvd->btd", out, wo)
    return y + bo if use_bias else y


# ---- losses ----------------------------------------------------------------

def loss_mse(out, labels):
    return ((out - labels) ** 2).mean()


def loss_sce_logits(logits, labels):
    lp = torch.log_softmax(logits, dim=-1)
    return -lp.gather(-1, labels.long().unsqueeze(-1)).mean()


def loss_sce_probs(probs, labels):
    p = probs / probs.sum(dim=-1, keepdim=True)
    p = torch.clip(p, KERAS_EPS, 1 - KERAS_EPS)
    return -torch.log(p).gather(-1, labels.long().unsqueeze(-1)).mean()


def loss_bce_logits(logits, t):
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, t)


def loss_bce_probs(probs, t):
    p = torch.clip(probs, KERAS_EPS, 1 - KERAS_EPS)
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()


# ---- cases (the C test builds the same models, in the same order) ----------

B = 2


def float_targets(c, shape):
    return c.randn(*shape)


def case_dense(act):
    def build(c):
        x = c.float_input(B, 5, 6)
        y, _ = dense(c, "dense", x, 7, act)
        return y, loss_mse, float_targets(c, y.shape)
    return build


def case_embedding(c):
    # id 3 repeats (the scatter must accumulate); ids 0, 10 are never used (zero grad rows)
    ids = c.int_input([[3, 1, 4, 1, 5, 9, 2], [6, 5, 3, 5, 8, 9, 7]])
    y = embedding(c, "embedding", ids, 11, 8)
    return y, loss_mse, float_targets(c, y.shape)


def case_layer_norm(eps):
    def build(c):
        x = c.float_input(B, 5, 8, scale=3.0, shift=1.5)  # mean and scale away from 0 / 1
        y = layer_norm(c, "layer_normalization", x, eps)
        return y, loss_mse, float_targets(c, y.shape)
    return build


def case_residual(c):
    x = c.float_input(B, 7, 8)
    h, _ = dense(c, "dense", x, 8)
    y = layer_norm(c, "layer_normalization", x + h, 1e-12)
    return y, loss_mse, float_targets(c, y.shape)


def case_dropout_rate0(c):
    x = c.float_input(B, 5, 6)
    h, _ = dense(c, "dense", x, 8, "gelu")
    y, _ = dense(c, "dense_1", h, 4)  # Dropout(0) between the two is the identity
    return y, loss_mse, float_targets(c, y.shape)


def case_dropout_infer(c):
    # MHA with attention dropout 0.3, then Dropout(0.5), then Dense; in
    # inference both dropouts are the identity
    x = c.float_input(B, 5, 8)
    a = mha(c, "multi_head_attention", x, x, heads=2, key_dim=4)
    y, _ = dense(c, "dense", a, 4)
    return y, loss_mse, float_targets(c, y.shape)


def key_mask():
    # batch 0 attends to all 7 keys, batch 1 to the first 4
    return [[1] * 7, [1, 1, 1, 1, 0, 0, 0]]


def case_mha_self(c):
    x = c.float_input(B, 5, 8)
    y = mha(c, "multi_head_attention", x, x, heads=2, key_dim=4)
    return y, loss_mse, float_targets(c, y.shape)


def case_mha_key_mask(c):
    x = c.float_input(B, 7, 9)
    m = c.int_input(key_mask())
    y = mha(c, "multi_head_attention", x, x, mask=m, heads=3, key_dim=4)
    return y, loss_mse, float_targets(c, y.shape)


def case_mha_full_mask(c):
    x = c.float_input(B, 5, 8)
    g = torch.Generator().manual_seed(99)
    m = (torch.rand(B, 5, 5, generator=g) < 0.6).int()
    m[:, :, 0] = 1          # every query keeps a key ...
    m[1, 2, :] = 0          # ... except one, fully masked: zero weights, output = bias
    m = c.int_input(m)
    y = mha(c, "multi_head_attention", x, x, mask=m, heads=2, key_dim=3)
    return y, loss_mse, float_targets(c, y.shape)


def case_mha_causal(c):
    x = c.float_input(B, 7, 8)
    y = mha(c, "multi_head_attention", x, x, heads=1, key_dim=8, causal=True)
    return y, loss_mse, float_targets(c, y.shape)


def case_mha_causal_key_mask(c):
    x = c.float_input(B, 7, 6)
    m = c.int_input(key_mask())
    y = mha(c, "multi_head_attention", x, x, mask=m, heads=2, key_dim=3, causal=True)
    return y, loss_mse, float_targets(c, y.shape)


def case_mha_cross(c):
    # query (B, 5, 8), value (B, 7, 6), separate key (B, 7, 10); value_dim 5 != key_dim 3
    q = c.float_input(B, 5, 8)
    v = c.float_input(B, 7, 6)
    k = c.float_input(B, 7, 10)
    m = c.int_input(key_mask())
    y = mha(c, "multi_head_attention", q, v, key=k, mask=m, heads=2, key_dim=3, value_dim=5)
    return y, loss_mse, float_targets(c, y.shape)


def case_mha_cross_kv(c):
    # key = value (not given), q_len 7 != kv_len 5, value_dim 2 != key_dim 4
    q = c.float_input(B, 7, 6)
    v = c.float_input(B, 5, 4)
    y = mha(c, "multi_head_attention", q, v, heads=3, key_dim=4, value_dim=2)
    return y, loss_mse, float_targets(c, y.shape)


def case_mha_no_bias(c):
    x = c.float_input(B, 5, 6)
    y = mha(c, "multi_head_attention", x, x, heads=3, key_dim=2, use_bias=False)
    return y, loss_mse, float_targets(c, y.shape)


def labels_int(c, shape, classes):
    return torch.randint(0, classes, shape, generator=c.gen, dtype=torch.int32)


def soft_targets(c, shape):
    t = torch.rand(shape, generator=c.gen, dtype=torch.float32).double()
    t.view(-1)[:4] = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=F64)  # some hard targets too
    return t


def case_sce_logits(c):
    x = c.float_input(B, 5, 6)
    y, _ = dense(c, "dense", x, 5)
    return y, loss_sce_logits, labels_int(c, (B, 5), 5)


def case_sce_softmax(c):
    x = c.float_input(B, 5, 6)
    y, _ = dense(c, "dense", x, 5, "softmax")
    return y, loss_sce_probs, labels_int(c, (B, 5), 5)


def case_sce_probs(c):
    # softmax Dense then Dropout(0): the output is not a Dense, so verto cannot
    # fuse and takes Keras' clipped-probability path
    x = c.float_input(B, 5, 6)
    y, _ = dense(c, "dense", x, 5, "softmax")
    return y, loss_sce_probs, labels_int(c, (B, 5), 5)


def case_bce_logits(c):
    x = c.float_input(B, 5, 6)
    y, _ = dense(c, "dense", x, 3)
    return y, loss_bce_logits, soft_targets(c, y.shape)


def case_bce_sigmoid(c):
    x = c.float_input(B, 5, 6)
    y, _ = dense(c, "dense", x, 3, "sigmoid")
    return y, loss_bce_probs, soft_targets(c, y.shape)


def case_bce_probs(c):
    x = c.float_input(B, 5, 6)
    y, _ = dense(c, "dense", x, 3, "sigmoid")  # then Dropout(0): not fused
    return y, loss_bce_probs, soft_targets(c, y.shape)


def case_mse(c):
    x = c.float_input(B, 7, 6)
    y, _ = dense(c, "dense", x, 4)
    return y, loss_mse, float_targets(c, y.shape)


CASES = [
    ("dense_linear", case_dense("linear")),
    ("dense_relu", case_dense("relu")),
    ("dense_gelu", case_dense("gelu")),
    ("dense_gelu_tanh", case_dense("gelu_tanh")),
    ("dense_tanh", case_dense("tanh")),
    ("dense_sigmoid", case_dense("sigmoid")),
    ("dense_softmax", case_dense("softmax")),
    ("embedding", case_embedding),
    ("layer_norm_eps1e-3", case_layer_norm(1e-3)),
    ("layer_norm_eps1e-12", case_layer_norm(1e-12)),
    ("residual_layer_norm", case_residual),
    ("dropout_rate0", case_dropout_rate0),
    ("dropout_infer", case_dropout_infer),
    ("mha_self", case_mha_self),
    ("mha_key_mask", case_mha_key_mask),
    ("mha_full_mask", case_mha_full_mask),
    ("mha_causal", case_mha_causal),
    ("mha_causal_key_mask", case_mha_causal_key_mask),
    ("mha_cross", case_mha_cross),
    ("mha_cross_kv", case_mha_cross_kv),
    ("mha_no_bias", case_mha_no_bias),
    ("sce_logits", case_sce_logits),
    ("sce_softmax", case_sce_softmax),
    ("sce_probs", case_sce_probs),
    ("bce_logits", case_bce_logits),
    ("bce_sigmoid", case_bce_sigmoid),
    ("bce_probs", case_bce_probs),
    ("mse", case_mse),
]


def run(name, build, seed, out):
    c = Case(name, seed)
    y, loss_fn, labels = build(c)
    loss = loss_fn(y, labels)
    loss.backward()
    p = f"{name}/"
    for i, t in enumerate(c.inputs):
        out[f"{p}input{i}"] = t.detach().float() if t.is_floating_point() else t
        if t.is_floating_point():
            out[f"{p}dinput{i}"] = t.grad.float()
    out[f"{p}labels"] = labels if not labels.is_floating_point() else labels.float()
    for n, t in c.params.items():
        out[f"{p}param/{n}"] = t.detach().float()
        out[f"{p}grad/{n}"] = t.grad.float()
    out[f"{p}output"] = y.detach().float()
    out[f"{p}loss"] = loss.detach().reshape(1)
    # sanity: no NaN, and the gradients are not all zero
    for k, v in out.items():
        if k.startswith(p) and v.is_floating_point():
            assert torch.isfinite(v).all(), k
    assert any(float(t.grad.abs().max()) > 0 for t in c.params.values()), name
    for n, t in c.params.items():  # softmax is blind to the key bias (a constant per row)
        if n.endswith("/key/bias"):
            assert float(t.grad.abs().max()) < 1e-12, (name, n)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_layers.py OUT_DIR")
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    out = {}
    for i, (name, build) in enumerate(CASES):
        run(name, build, 1000 + i, out)
    save_file({k: v.contiguous() for k, v in out.items()}, str(out_dir / "layers.safetensors"))


if __name__ == "__main__":
    main()

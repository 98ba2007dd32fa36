#!/usr/bin/env python3
"""PyTorch peer of bench/pretrain_bench.c and bench/infer_bench.c.

  bench/peer_torch.py pretrain --config mini|small [--threads 2] [--warmup 2] [--steps 5]
                               [--batch 32] [--seq-len 128] [--masked 20] [--precision fp32|bf16]
                               [--same-work]
  bench/peer_torch.py infer --model small|DIR [--name NAME] [--threads 2] [--batch 1]
                            [--seq-len 128] [--warmup 3] [--iters 20] [--precision fp32|bf16|int8]
                            [--check FILE] [--same-work]

--precision bf16 runs the forward (and so its backward) under
torch.autocast("cpu", dtype=torch.bfloat16): PyTorch's own mixed precision,
bf16 matrix products with fp32 weights, optimizer and loss — the peer of
verto's --precision bf16. --precision int8 (inference) runs
torch.ao.quantization.quantize_dynamic's model (quantize_int8), the peer of
verto's --precision int8.

pretrain: transformers' BertForPreTraining in train mode (dropout 0.1), the
same synthetic batches as the C benchmark (exactly `masked` labelled positions
per row, NSP labels), AdamW (lr 1e-4, betas 0.9/0.999, eps 1e-6, weight decay
0.01 except biases and LayerNorm), gradient clipping at 1.0 and the linear
warmup/decay schedule: verto pretrain's defaults. One step = forward with
labels, backward, clip, optimizer and scheduler step, zero_grad. Note that
BertForPreTraining computes the MLM decoder at every position (its design),
where verto computes it at the labelled ones only.

infer: a sequence classifier (2 labels) in eval mode under
torch.inference_mode(): a fresh `small` BertForSequenceClassification, or a
directory of any family loaded with AutoModelForSequenceClassification
.from_pretrained(num_labels=2) (a fresh head when it has none). --check FILE
(infer_bench --dump's ids and logits) runs the model in fp32 on verto's ids
after the timing and reports the largest difference from verto's logits.

--same-work: the like-for-like peer (system "pytorch-same-work"), doing the
work verto does and MFU counts (bench/flops.py). pretrain: transformers'
BertModel and BERT's pretraining heads (BertPreTrainingHeads, decoder tied to
the word embeddings) with the MLM transform and decoder applied to the
labelled positions only, gathered first, as verto does. infer (BERT and
RoBERTa classifiers): every layer but the last over all positions, the last
with keys and values at every position and the query, attention output and
FFN at the first token only, then the head; logits equal the full model's
(reported as max_abs_diff_vs_full).

Prints one JSON line (the schema of the C programs' lines)."""
import argparse
import json
import time

import peer_common as pc


def pretrain(args):
    import torch
    import transformers
    from transformers import BertForPreTraining, get_linear_schedule_with_warmup
    baseline_rss = pc.rss_now_mib()
    torch.manual_seed(42)
    model = SameWorkPretraining(pc.bert_config(args.config)) if args.same_work \
        else BertForPreTraining(pc.bert_config(args.config))
    model.train()
    decay = [p for n, p in model.named_parameters() if not ("bias" in n or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.999), eps=1e-6)
    total = args.warmup + args.steps
    sched = get_linear_schedule_with_warmup(opt, total // 10, total)
    gen = torch.Generator().manual_seed(7)
    batches = [pc.pretraining_batch(args.batch, args.seq_len, args.masked, pc.VOCAB, gen) for _ in range(4)]
    secs = []
    for step in range(total):
        ids, types, mask, labels, nsp = batches[step % len(batches)]
        t0 = time.perf_counter()
        with autocast(args.precision):
            out = model(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels,
                        next_sentence_label=nsp)
        (out if args.same_work else out.loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if step >= args.warmup:
            secs.append(dt)
    layers, hidden, heads = pc.PRESETS[args.config]
    return {"bench": "pretrain", "system": system(args), "config": args.config, "precision": args.precision,
            "threads": torch.get_num_threads(),
            "batch": args.batch, "seq_len": args.seq_len, "masked_per_seq": args.masked, "vocab": pc.VOCAB,
            "layers": layers, "hidden": hidden, "heads": heads, "intermediate": 4 * hidden,
            "warmup_steps": args.warmup, "step_seconds": secs,
            "tokens_per_s": pc.stats([args.batch * args.seq_len / s for s in secs]),
            "peak_rss_mib": pc.peak_rss_mib(), "baseline_rss_mib": baseline_rss,
            "attn_implementation": getattr(model.config, "_attn_implementation", None),
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}


def system(args):
    return "pytorch-same-work" if args.same_work else "pytorch"


def SameWorkPretraining(config):
    """BERT pretraining with the MLM head at the labelled positions only;
    calling it returns the loss (MLM + NSP cross-entropy)."""
    import torch
    import torch.nn.functional as F
    from transformers import BertModel
    from transformers.models.bert.modeling_bert import BertPreTrainingHeads

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = config
            self.bert = BertModel(config)  # with the pooler
            self.cls = BertPreTrainingHeads(config)
            self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight  # tied, as verto's

        def forward(self, input_ids, token_type_ids, attention_mask, labels, next_sentence_label):
            seq, pooled = self.bert(input_ids=input_ids, token_type_ids=token_type_ids,
                                    attention_mask=attention_mask, return_dict=False)[:2]
            at = labels != -100                        # (B, T)
            logits = self.cls.predictions(seq[at])     # (P, V): the labelled positions only
            mlm = F.cross_entropy(logits, labels[at])
            return mlm + F.cross_entropy(self.cls.seq_relationship(pooled), next_sentence_label)

    return Model()


def first_token_forward(model, ids):
    """Logits of a BERT or RoBERTa sequence classifier computing its last
    layer at the first token only (keys and values at every position)."""
    import torch.nn.functional as F
    base = getattr(model, "bert", None) or model.roberta
    h = base.embeddings(input_ids=ids)                               # (B, T, H)
    layers = base.encoder.layer
    for layer in layers[:-1]:
        out = layer(h)
        h = out[0] if isinstance(out, tuple) else out
    last, B = layers[-1], ids.shape[0]
    sa = last.attention.self
    heads, d = sa.num_attention_heads, sa.attention_head_size
    split = lambda x: x.view(B, -1, heads, d).transpose(1, 2)       # noqa: E731  (B, heads, rows, d)
    first = h[:, :1]                                                 # (B, 1, H)
    ctx = F.scaled_dot_product_attention(split(sa.query(first)), split(sa.key(h)), split(sa.value(h)))
    a = last.attention.output(ctx.transpose(1, 2).reshape(B, 1, heads * d), first)
    o = last.output(last.intermediate(a), a)                         # (B, 1, H)
    if hasattr(model, "bert"):
        return model.classifier(model.dropout(base.pooler(o)))
    return model.classifier(o)


def autocast(precision):
    """bf16 autocast on the CPU, or nothing for fp32."""
    import contextlib
    import torch
    return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()


def load_classifier(model_arg):
    """A sequence classifier with 2 labels: a fresh BERT preset, or a directory of any family."""
    import os
    import torch
    from transformers import AutoModelForSequenceClassification, BertForSequenceClassification
    torch.manual_seed(42)
    if os.path.isdir(model_arg):
        return AutoModelForSequenceClassification.from_pretrained(model_arg, num_labels=2)
    return BertForSequenceClassification(pc.bert_config(model_arg, num_labels=2))


def infer(args):
    import torch
    import transformers
    baseline_rss = pc.rss_now_mib()
    model = load_classifier(args.model).eval()
    ids = pc.random_ids(args.batch, args.seq_len, model.config.vocab_size)
    fp32_model = model
    if args.precision == "int8":
        model = quantize_int8(model)
    run = (lambda x: first_token_forward(model, x)) if args.same_work else (lambda x: model(input_ids=x))  # noqa: E731
    extra = {}
    if args.same_work:
        with torch.inference_mode():
            full = model(input_ids=ids).logits
            extra["max_abs_diff_vs_full"] = (first_token_forward(model, ids) - full).abs().max().item()
    secs = []
    with torch.inference_mode(), autocast(args.precision):
        for i in range(args.warmup + args.iters):
            t0 = time.perf_counter()
            run(ids)
            dt = time.perf_counter() - t0
            if i >= args.warmup:
                secs.append(dt)
    check = check_verto(fp32_model, args.check) if args.check else {}
    if args.precision == "int8":  # verto's int8 logits against fp32, and how far PyTorch's quantization moved its own
        check = {f"verto_int8_{k[:-len('_vs_verto')]}_vs_fp32" if k.endswith("_vs_verto") else k: v
                 for k, v in check.items()}
        with torch.inference_mode():
            check["max_abs_diff_vs_fp32"] = (model(input_ids=ids).logits - fp32_model(input_ids=ids).logits).abs().max().item()
    return {**pc.infer_result(system(args), args, model.config, secs, precision=args.precision,
                              threads=torch.get_num_threads()),
            "peak_rss_mib": pc.peak_rss_mib(), "baseline_rss_mib": baseline_rss,
            "attn_implementation": getattr(model.config, "_attn_implementation", None), **check, **extra,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}


def quantize_int8(model):
    """torch.ao.quantization.quantize_dynamic with its default qconfig (int8
    weights per tensor; on x86 fbgemm quantizes the activations per tensor at
    run time with reduce_range) on the encoder layers' nn.Linear modules, the
    ones verto quantizes (the pooler and the classifier stay f32 in both)."""
    import warnings
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic
    torch.backends.quantized.engine = "x86"
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".layer." in n]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notices
        return quantize_dynamic(model, qconfig_spec={n: default_dynamic_qconfig for n in names}, dtype=torch.qint8)


def check_verto(model, path):
    """Largest |difference| between verto's logits (infer_bench --dump) and
    this model's in fp32 on the same ids, and the largest |logit| for scale."""
    import torch
    with open(path) as f:
        d = json.load(f)
    ids = torch.tensor(d["input_ids"]).view(d["batch"], d["seq_len"])
    with torch.inference_mode():
        ref = model(input_ids=ids).logits.float()
    verto = torch.tensor(d["logits"]).view_as(ref)
    return {"max_abs_diff_vs_verto": (ref - verto).abs().max().item(), "max_abs_logit": ref.abs().max().item()}


def main():
    ap = argparse.ArgumentParser(description="PyTorch peer of the verto benchmarks")
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("pretrain")
    p.add_argument("--config", default="mini", choices=sorted(pc.PRESETS))
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--masked", type=int, default=20)
    i = sub.add_parser("infer")
    i.add_argument("--model", default="small")
    i.add_argument("--name")
    i.add_argument("--batch", type=int, default=1)
    i.add_argument("--warmup", type=int, default=3)
    i.add_argument("--iters", type=int, default=20)
    i.add_argument("--check", help="infer_bench --dump's file: compare verto's logits with this model's")
    for q in (p, i):
        q.add_argument("--threads", type=int, default=2)
        q.add_argument("--seq-len", type=int, default=128)
        q.add_argument("--precision", default="fp32", choices=("fp32", "bf16") + (("int8",) if q is i else ()))
        q.add_argument("--same-work", action="store_true", help="the like-for-like peer (see the module's help)")
    args = ap.parse_args()
    pc.limit_threads(args.threads)
    print(json.dumps(pretrain(args) if args.mode == "pretrain" else infer(args)))


if __name__ == "__main__":
    main()

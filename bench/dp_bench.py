#!/usr/bin/env python3
"""A DP-SGD step of verto against its own non-private step and against
Opacus 1.6 (GradSampleModule hooks, and ghost clipping) on the same
transformers BertForSequenceClassification and batch, in one run.

usage: dp_bench.py BUILD [--model mini] [--batch 16] [--seq-len 128] [--threads 2] [--steps 5] [--exact]

The model: the preset's shape (bench/peer_common.py), random weights, 2
labels, dropout 0.1, saved with save_pretrained for verto. The batch: B
sequences of random word ids, their lengths spread between T/2 and T (padded
to T, attention mask 0 after), random labels; written as int32 for
BUILD/bench/dp_bench. verto's DP step packs the sequences (no padding), as
its non-private fine-tuning does: its ratio is against its packed
non-private step (and, as dp_fast_over_plain_padded, its padded one);
PyTorch and Opacus run the padded batch. Each side times forward + backward (+ per-example
clipping and noise with multiplier 1, C = 1 for DP), median over --steps
after 2 warm-up steps, float32, --threads threads each; the optimizer's
update (the same for all) is left out: Opacus' DPOptimizer.pre_step (clip,
sum, noise) is timed, not its SGD step. Prints one JSON object."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(__file__))
import peer_common as pc  # noqa: E402

warnings.filterwarnings("ignore")


def timed(fn, steps):
    for _ in range(2):
        fn()
    t = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--model", default="mini")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--exact", action="store_true", help="also time verto's exact path (one backward per example)")
    a = ap.parse_args()
    pc.limit_threads(a.threads)
    import numpy as np
    import torch
    import transformers as tf
    from opacus import GradSampleModule
    from opacus.grad_sample import GradSampleModuleFastGradientClipping
    from opacus.optimizers import DPOptimizer, DPOptimizerFastGradientClipping
    from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping
    from transformers.utils import logging
    logging.set_verbosity_error()
    torch.manual_seed(20)
    B, T = a.batch, a.seq_len
    tmp = tempfile.mkdtemp()
    cfg = pc.bert_config(a.model, num_labels=2)
    cfg._attn_implementation = "eager"  # Opacus' hooks see the attention's own layers
    model = tf.BertForSequenceClassification(cfg).train()
    model.save_pretrained(tmp)
    gen = torch.Generator().manual_seed(21)
    ids = torch.randint(1000, pc.VOCAB, (B, T), generator=gen)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=gen)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    ids = ids * mask
    labels = torch.randint(0, 2, (B,), generator=gen)
    # positions and token types given per example: broadcast from (1, T), Opacus would see one sample for them
    kw = {"position_ids": torch.arange(T).expand(B, T).contiguous(), "token_type_ids": torch.zeros(B, T, dtype=torch.long)}
    data = f"{tmp}/batch.bin"
    np.concatenate([ids.numpy().ravel(), mask.numpy().ravel(), labels.numpy()]).astype(np.int32).tofile(data)

    cmd = [f"{a.build}/bench/dp_bench", "--model", tmp, "--data", data, "--batch", str(B), "--seq-len", str(T),
           "--threads", str(a.threads), "--steps", str(a.steps), "--exact", "1" if a.exact else "0"]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    verto = json.loads(subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout)

    def plain():
        model.zero_grad(set_to_none=True)
        model(input_ids=ids, attention_mask=mask, labels=labels, **kw).loss.backward()

    torch_plain = timed(plain, a.steps)

    gsm = GradSampleModule(model, loss_reduction="mean")
    params = [p for p in gsm.parameters() if p.requires_grad]
    opt = DPOptimizer(torch.optim.SGD(params, lr=0.0), noise_multiplier=1.0, max_grad_norm=1.0,
                      expected_batch_size=B, loss_reduction="mean")

    def hooks():
        opt.zero_grad(set_to_none=True)
        gsm(input_ids=ids, attention_mask=mask, labels=labels, **kw).loss.backward()
        opt.pre_step()

    opacus_hooks = timed(hooks, a.steps)
    gsm._close()

    model2 = tf.BertForSequenceClassification(cfg).train()
    model2.load_state_dict(model.state_dict())
    ghost = GradSampleModuleFastGradientClipping(model2, loss_reduction="mean", max_grad_norm=1.0,
                                                 use_ghost_clipping=True)
    params2 = [p for p in ghost.parameters() if p.requires_grad]
    opt2 = DPOptimizerFastGradientClipping(torch.optim.SGD(params2, lr=0.0), noise_multiplier=1.0,
                                           max_grad_norm=1.0, expected_batch_size=B, loss_reduction="mean")
    crit = DPLossFastGradientClipping(ghost, opt2, torch.nn.CrossEntropyLoss(reduction="mean"), loss_reduction="mean")

    def ghost_step():
        opt2.zero_grad(set_to_none=True)
        logits = ghost(input_ids=ids, attention_mask=mask, **kw).logits
        crit(logits, labels).backward()
        opt2.pre_step()

    opacus_ghost = timed(ghost_step, a.steps)
    res = {"model": a.model, "batch": B, "seq_len": T, "threads": a.threads, "verto": verto,
           "torch_plain_s": round(torch_plain, 5), "opacus_hooks_s": round(opacus_hooks, 5),
           "opacus_ghost_s": round(opacus_ghost, 5),
           "verto_dp_over_plain": verto["dp_fast_over_plain"],
           "verto_dp_over_plain_padded": verto["dp_fast_over_plain_padded"],
           "verto_two_pass_over_plain": verto["dp_two_pass_over_plain"],
           "opacus_hooks_over_verto_dp": round(opacus_hooks / verto["dp_fast_s"], 2),
           "opacus_ghost_over_verto_dp": round(opacus_ghost / verto["dp_fast_s"], 2)}
    print(json.dumps(res))


if __name__ == "__main__":
    main()

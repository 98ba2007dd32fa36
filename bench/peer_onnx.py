#!/usr/bin/env python3
"""ONNX Runtime peer of bench/infer_bench.c.

  bench/peer_onnx.py --model small|DIR [--name NAME] [--threads 2] [--batch 1]
                     [--seq-len 128] [--warmup 3] [--iters 20] [--onnx-dir DIR]
                     [--precision fp32|int8]

Exports the model peer_torch.py runs (BertForSequenceClassification, 2
labels, eval mode) with torch.onnx.export (the TorchScript exporter; inputs
input_ids and attention_mask, a dynamic batch axis), checks that ONNX
Runtime's logits match PyTorch's on the benchmark's inputs, and times
InferenceSession.run on the CPU provider with intra_op_num_threads = threads,
one inter-op thread, all graph optimisations. Export and session creation are
not timed. --precision int8 times the model from
onnxruntime.quantization.quantize_dynamic (weights QInt8 per tensor, the
default; activations QUInt8 per tensor at run time, DynamicQuantizeLinear +
MatMulInteger), the peer of verto's int8. Prints one JSON line."""
import argparse
import json
import os
import tempfile
import time
import warnings

import peer_common as pc
from peer_torch import load_classifier


def export(model, seq_len, path):
    import torch
    ids = pc.random_ids(2, seq_len, model.config.vocab_size, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings about Python booleans
        torch.onnx.export(model, (ids, torch.ones_like(ids)), path, input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"},
                                        "logits": {0: "batch"}})


def main():
    ap = argparse.ArgumentParser(description="ONNX Runtime peer of the verto inference benchmark")
    ap.add_argument("--model", default="small")
    ap.add_argument("--name")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--onnx-dir", help="where to keep the exported model (default: a temporary directory)")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "int8"))
    args = ap.parse_args()
    pc.limit_threads(args.threads)
    import numpy as np
    import onnxruntime as ort
    import torch

    model = load_classifier(args.model).eval()
    ids = pc.random_ids(args.batch, args.seq_len, model.config.vocab_size)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(args.onnx_dir or tmp, f"{args.name or 'model'}.onnx")
        export(model, args.seq_len, path)
        if args.precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic
            qpath = path[:-len(".onnx")] + "-int8.onnx"
            quantize_dynamic(path, qpath, weight_type=QuantType.QInt8)
            path = qpath
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feed = {"input_ids": ids.numpy(), "attention_mask": np.ones_like(ids.numpy())}
    with torch.inference_mode():
        ref = model(input_ids=ids).logits.numpy()
    max_diff = float(np.abs(sess.run(None, feed)[0] - ref).max())
    secs = []
    for i in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        sess.run(None, feed)
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            secs.append(dt)
    print(json.dumps({
        **pc.infer_result("onnxruntime", args, model.config, secs, precision=args.precision, threads=args.threads),
        "max_abs_diff_vs_torch": max_diff,
        "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__}}))


if __name__ == "__main__":
    main()

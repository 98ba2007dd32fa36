#!/usr/bin/env python3
"""Reference BERT models and outputs from transformers for tests/unit/test_bert_ref.c.

Usage:
  gen_bert.py OUT_DIR
      writes the model directories and reference outputs below into OUT_DIR.
  gen_bert.py --roundtrip MODEL_DIR C_OUTPUTS.safetensors REF_IO.safetensors|- [...]
      for each triple: loads MODEL_DIR (written by verto) with transformers' from_pretrained,
      fails unless there are no missing, unexpected or mismatched keys, runs
      the batch stored in C_OUTPUTS and fails unless every output stored there
      (verto's) agrees with transformers' to ROUNDTRIP_TOL; with REF_IO, also
      fails unless transformers' outputs on MODEL_DIR equal those in REF_IO
      bit for bit (the weights went through verto unchanged). Exit status 0 on
      success.

Models (random init, no hub access; vocabulary VOCAB ids, the batch uses
ids in [5, VOCAB)). Dropout probabilities are 0 in every config so that
training mode is deterministic; biases and LayerNorm parameters are
perturbed away from 0 / 1 so that a misplaced bias cannot hide.

  bert_tiny/      BertForPreTraining, the "tiny" preset (L2/H128/A2, I512, 512 positions, 2 types), gelu
  bert_odd/       BertForPreTraining, L3/H96/A3, I200, 64 positions, 1 token type, gelu_new
  bert_tiny_seqcls/   BertForSequenceClassification, 3 labels named negative/neutral/positive
  bert_tiny_regress/  BertForSequenceClassification, 1 label (regression, MSE)
  bert_tiny_tokcls/   BertForTokenClassification, 5 labels (no pooler)
  Loader variants of bert_tiny's weights (same outputs as bert_tiny):
  bert_tiny_gamma/    no "bert." prefix, LayerNorm.gamma / LayerNorm.beta names
  bert_tiny_posids/   with the bert.embeddings.position_ids buffer (I64)
  bert_tiny_tied/     with cls.predictions.decoder.weight / .bias stored
  Converted variants (their own outputs, from the rounded weights):
  bert_tiny_f16/, bert_tiny_bf16/   every tensor in F16 / BF16

Reference files bert_<name>_io.safetensors:
  input_ids, attention_mask, token_type_ids (B, T) int64; mlm_labels (B, T); nsp_labels (B,);
  labels (B,) or (B, T) int64, or (B,) float32 for regression
  last_hidden_state (B, T, H), pooled (B, H) (absent for token classification)
  mlm_logits (B, T, V) at every position, nsp_logits (B, 2)    pretraining
  logits (B, L) or (B, T, L)                                  classifiers
  loss, mlm_loss, nsp_loss (1,) float64  (loss = mlm + nsp as BertForPreTraining computes it)
  grad.<name> for every parameter, <name> as in verto (no "bert." prefix)
  param.<name> (f16/bf16 variants): the float32 values the file converts to
Outputs and gradients are computed in float64 from the float32 weights, so
they are the exact values the fp32 C code approximates.
"""
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

VOCAB = 512
B, T = 3, 11
LENGTHS = [11, 7, 4]
MASK_POS = [[1, 4, 8], [2, 5], [1, 2]]
NSP = [0, 1, 1]
SEQ_LABELS = [2, 0, 1]
REGRESS = [0.5, -1.25, 2.0]
ROUNDTRIP_TOL = 1e-4

TINY = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
            max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu")
ODD = dict(hidden_size=96, num_hidden_layers=3, num_attention_heads=3, intermediate_size=200,
           max_position_embeddings=64, type_vocab_size=1, hidden_act="gelu_new")


def quiet():
    import transformers
    transformers.logging.set_verbosity_error()
    try:
        transformers.utils.logging.disable_progress_bar()
    except AttributeError:
        pass


def make_config(sizes, **extra):
    from transformers import BertConfig
    return BertConfig(vocab_size=VOCAB, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                      pad_token_id=0, initializer_range=0.02, **sizes, **extra)


def perturb(model, gen):
    """Biases and LayerNorm parameters away from their 0 / 1 initial values."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                noise = torch.randn(p.shape, generator=gen) * 0.1
                p.copy_(p + noise if "LayerNorm.weight" not in name else 1.0 + noise)


def make_batch(type_vocab, gen, seq_labels=None, num_token_labels=None, regression=False):
    ids = torch.randint(5, VOCAB, (B, T), generator=gen)
    mask = torch.zeros(B, T, dtype=torch.int64)
    types = torch.zeros(B, T, dtype=torch.int64)
    mlm = torch.full((B, T), -100, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        mask[b, :n] = 1
        ids[b, 0], ids[b, n - 1] = 2, 3          # [CLS] ... [SEP]
        ids[b, n:] = 0                           # [PAD]
        if type_vocab > 1:
            types[b, n // 2:n] = 1
        for t in MASK_POS[b]:
            mlm[b, t] = ids[b, t]
            ids[b, t] = 4                        # [MASK]
    batch = dict(input_ids=ids, attention_mask=mask, token_type_ids=types, mlm_labels=mlm,
                 nsp_labels=torch.tensor(NSP, dtype=torch.int64))
    if seq_labels is not None:
        batch["labels"] = torch.tensor(seq_labels, dtype=torch.int64)
    if regression:
        batch["labels"] = torch.tensor(REGRESS, dtype=torch.float32)
    if num_token_labels:
        lab = torch.randint(0, num_token_labels, (B, T), generator=gen)
        lab[mask == 0] = -100
        lab[:, 0] = -100
        batch["labels"] = lab
    return batch


def vt_name(name):
    return name[5:] if name.startswith("bert.") else name


def run(model, batch, kind):
    """Outputs (eval, float64) and loss + gradients (train mode, dropout 0)."""
    import torch.nn.functional as F
    m = model.double()
    inputs = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                  token_type_ids=batch["token_type_ids"])
    out = {}
    m.eval()
    with torch.no_grad():
        base = m.bert(**inputs)
        out["last_hidden_state"] = base.last_hidden_state
        if base.pooler_output is not None:
            out["pooled"] = base.pooler_output
        r = m(**inputs)
        if kind == "pretraining":
            out["mlm_logits"] = r.prediction_logits
            out["nsp_logits"] = r.seq_relationship_logits
        else:
            out["logits"] = r.logits
    m.train()
    m.zero_grad()
    if kind == "pretraining":
        r = m(**inputs, labels=batch["mlm_labels"], next_sentence_label=batch["nsp_labels"])
        mlm_loss = F.cross_entropy(r.prediction_logits.reshape(-1, VOCAB), batch["mlm_labels"].reshape(-1),
                                   ignore_index=-100)
        nsp_loss = F.cross_entropy(r.seq_relationship_logits, batch["nsp_labels"])
        out["mlm_loss"] = mlm_loss.detach().reshape(1)
        out["nsp_loss"] = nsp_loss.detach().reshape(1)
    else:
        labels = batch["labels"].double() if batch["labels"].is_floating_point() else batch["labels"]
        r = m(**inputs, labels=labels)
    r.loss.backward()
    out["loss"] = r.loss.detach().reshape(1)
    for name, p in m.named_parameters():
        out["grad." + vt_name(name)] = p.grad
    m.float()
    return out


def save_io(path, batch, out, params=None):
    tensors = {k: v.contiguous() for k, v in batch.items()}
    for k, v in out.items():
        v = v.detach()
        tensors[k] = (v if k.endswith("loss") else v.float()).contiguous()
    for k, v in (params or {}).items():
        tensors["param." + k] = v.float().contiguous()
    save_file(tensors, str(path))


def write_variant(src_dir, dst_dir, tensors):
    dst_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(src_dir / "config.json", dst_dir / "config.json")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(dst_dir / "model.safetensors"),
              metadata={"format": "pt"})


def build(out_dir, name, cls_name, sizes, seed, kind, config_extra=None, batch_extra=None):
    import transformers
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    cfg = make_config(sizes, **(config_extra or {}))
    cfg._attn_implementation = "eager"
    model = getattr(transformers, cls_name)(cfg)
    perturb(model, gen)
    model.save_pretrained(str(out_dir / name))
    batch = make_batch(cfg.type_vocab_size, gen, **(batch_extra or {}))
    out = run(model, batch, kind)
    save_io(out_dir / f"{name}_io.safetensors", batch, out)
    return model, batch


def converted_variant(out_dir, model, batch, name, dtype):
    """The tiny model with weights rounded to dtype: its directory stores them
    in dtype; the outputs are those of the rounded weights."""
    import copy
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.to(dtype).float())
    sd = {k: v.to(dtype) for k, v in m.state_dict().items() if v.is_floating_point()}
    sd.pop("cls.predictions.decoder.weight", None)
    sd.pop("cls.predictions.decoder.bias", None)
    write_variant(out_dir / "bert_tiny", out_dir / name, sd)
    out = run(m, batch, "pretraining")
    params = {vt_name(k): v for k, v in m.named_parameters()}
    save_io(out_dir / f"{name}_io.safetensors", batch, out, params)


def generate(out_dir):
    quiet()
    out_dir.mkdir(parents=True, exist_ok=True)
    tiny, tiny_batch = build(out_dir, "bert_tiny", "BertForPreTraining", TINY, 1, "pretraining")
    build(out_dir, "bert_odd", "BertForPreTraining", ODD, 2, "pretraining")
    build(out_dir, "bert_tiny_seqcls", "BertForSequenceClassification", TINY, 3, "seqcls",
          dict(id2label={0: "negative", 1: "neutral", 2: "positive"},
               label2id={"negative": 0, "neutral": 1, "positive": 2}),
          dict(seq_labels=SEQ_LABELS))
    build(out_dir, "bert_tiny_regress", "BertForSequenceClassification", TINY, 4, "seqcls",
          dict(num_labels=1, problem_type="regression"), dict(regression=True))
    build(out_dir, "bert_tiny_tokcls", "BertForTokenClassification", TINY, 5, "tokcls",
          dict(id2label={i: l for i, l in enumerate(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])}),
          dict(num_token_labels=5))

    sd = load_file(str(out_dir / "bert_tiny" / "model.safetensors"))
    gamma = {}
    for k, v in sd.items():
        k = vt_name(k).replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        gamma[k] = v
    write_variant(out_dir / "bert_tiny", out_dir / "bert_tiny_gamma", gamma)
    posids = dict(sd)
    posids["bert.embeddings.position_ids"] = torch.arange(TINY["max_position_embeddings"]).unsqueeze(0)
    write_variant(out_dir / "bert_tiny", out_dir / "bert_tiny_posids", posids)
    tied = dict(sd)
    tied["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"].clone()
    tied["cls.predictions.decoder.bias"] = sd["cls.predictions.bias"].clone()
    write_variant(out_dir / "bert_tiny", out_dir / "bert_tiny_tied", tied)
    converted_variant(out_dir, tiny, tiny_batch, "bert_tiny_f16", torch.float16)
    converted_variant(out_dir, tiny, tiny_batch, "bert_tiny_bf16", torch.bfloat16)


def roundtrip(model_dir, c_outputs, ref_io):
    import transformers
    quiet()
    arch = json.loads((Path(model_dir) / "config.json").read_text())["architectures"][0]
    model, info = getattr(transformers, arch).from_pretrained(model_dir, output_loading_info=True,
                                                              attn_implementation="eager")
    bad = {k: sorted(v) for k, v in info.items() if v}
    if bad:
        print(f"roundtrip: {model_dir} ({arch}) loaded with {bad}")
        return 1
    model.eval()
    c = {}
    with safe_open(c_outputs, "pt") as f:
        for k in f.keys():
            c[k] = f.get_tensor(k)
    inputs = dict(input_ids=c["input_ids"].long(), attention_mask=c["attention_mask"].long(),
                  token_type_ids=c["token_type_ids"].long())
    with torch.no_grad():
        base = model.bert(**inputs) if hasattr(model, "bert") else model(**inputs)
        r = model(**inputs)
    py = {"last_hidden_state": base.last_hidden_state}
    if base.pooler_output is not None:
        py["pooled"] = base.pooler_output
    names = {"prediction_logits": "mlm_logits", "seq_relationship_logits": "nsp_logits"}
    if arch == "BertForMaskedLM":
        names["logits"] = "mlm_logits"
    for k in ("logits", "prediction_logits", "seq_relationship_logits"):
        if getattr(r, k, None) is not None:
            py[names.get(k, k)] = getattr(r, k)
    status = 0
    compared = 0
    for k, v in py.items():
        if k not in c:
            continue
        d = (v - c[k]).abs().max().item()
        compared += 1
        print(f"roundtrip: {arch} {k}: max |transformers - verto| = {d:.3g} (tol {ROUNDTRIP_TOL:g})")
        if not d <= ROUNDTRIP_TOL:
            status = 1
    if compared == 0:
        print("roundtrip: no outputs to compare")
        status = 1
    if ref_io and ref_io != "-":
        # The reference was computed in float64 from the original directory's
        # weights; recompute those in float64 from verto's copy: identical weights
        # give bit-identical results.
        model.double()
        with torch.no_grad():
            base = model.bert(**inputs) if hasattr(model, "bert") else model(**inputs)
            r = model(**inputs)
        py = {"last_hidden_state": base.last_hidden_state, "logits": getattr(r, "logits", None),
              "mlm_logits": getattr(r, "prediction_logits", None)}
        if arch == "BertForMaskedLM":
            py["mlm_logits"], py["logits"] = py["logits"], None
        with safe_open(ref_io, "pt") as f:
            for k, v in py.items():
                if v is None or k not in f.keys():
                    continue
                d = (v.float() - f.get_tensor(k)).abs().max().item()
                print(f"roundtrip: {arch} {k}: max |saved by verto - original| = {d:.3g} (must be 0)")
                if d != 0:
                    status = 1
    return status


def main(argv):
    if len(argv) >= 2 and argv[1] == "--roundtrip":
        cases = argv[2:]
        if not cases or len(cases) % 3:
            print("--roundtrip needs MODEL_DIR C_OUTPUTS REF_IO triples")
            return 2
        status = 0
        for i in range(0, len(cases), 3):
            status |= roundtrip(*cases[i:i + 3])
        return status
    if len(argv) != 2:
        print(__doc__)
        return 2
    generate(Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

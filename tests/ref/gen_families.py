#!/usr/bin/env python3
"""Reference BERT, RoBERTa, XLM-RoBERTa and DistilBERT models and outputs
from transformers for tests/unit/test_families_ref.c.

Usage:
  gen_families.py OUT_DIR
      writes the model directories and reference outputs below into OUT_DIR.
  gen_families.py --roundtrip MODEL_DIR C_OUTPUTS.safetensors REF_IO.safetensors|- [...]
      for each triple: loads MODEL_DIR (written by verto) with the Auto class
      of the architecture its config.json names (AutoModel,
      AutoModelForQuestionAnswering, AutoModelForSequenceClassification, ...),
      fails unless that gives the class named and there are no missing,
      unexpected or mismatched keys, runs the batch stored in C_OUTPUTS and
      fails unless every output stored there (verto's) agrees with
      transformers' to ROUNDTRIP_TOL, and, where C_OUTPUTS holds labels and
      verto's loss, transformers' loss on them does too (and config.json's
      problem_type is the one C_OUTPUTS' metadata names, "null" for none);
      with REF_IO, also fails unless transformers' outputs on MODEL_DIR,
      recomputed in float64, equal those in REF_IO bit for bit (the weights
      went through verto unchanged). Exit status 0 on success.

Models: two random configurations per family with odd sizes, each as the
base model, ForMaskedLM, ForSequenceClassification (single-label; roberta_b
regression), ForTokenClassification, ForQuestionAnswering,
ForSequenceClassification multi-label (5 labels, BCE) and regression (MSE; 1
output in the _a configurations, 3 in the _b ones) (directories
<config>_<head>: model, mlm, seqcls, tokcls, qa, multilabel, regress), dropout
0, biases and LayerNorm parameters perturbed away from 0 / 1. Each directory is
written by save_pretrained after the loss was computed, so its config.json
holds the problem_type transformers records during training
(single_label_classification, multi_label_classification from float labels
when it was unset, or the regression the config set):

  bert_a         H56 L2 A7 I90, 20 positions, pad 0, 3 token types, eps 1e-12, gelu, 3 labels
  bert_b         H66 L3 A3 I122, 26 positions, pad 2, 2 token types, eps 1e-7, gelu_new,
                 classifier_dropout 0, 2 labels

  roberta_a      H72 L2 A3 I150, 40 positions (38 tokens), pad 1, 1 token type, eps 1e-5, gelu_new
                 (the LM head's GELU stays exact), 3 labels
  roberta_b      H60 L3 A5 I130, 30 positions, pad 3, 2 token types, eps 1e-5, gelu,
                 classifier_dropout 0, regression (1 label)
  xlmr_a         H48 L2 A4 I100, 36 positions, pad 1, 1 token type, eps 1e-5, gelu, 3 labels
  xlmr_b         H84 L1 A7 I66, 24 positions, pad 1, 1 token type, eps 1e-6, gelu_new, 3 labels
  distilbert_a   dim 64, 2 layers, 4 heads, hidden_dim 136, 32 positions, gelu, 3 labels
  distilbert_b   dim 90, 3 layers, 5 heads, hidden_dim 110, 28 positions, relu, sinusoidal
                 position embeddings, pad 2, 3 labels
  (DistilBERT with qa_dropout 0 as well: its question answering head has a dropout of its own)

The batch (B=4, T=12) has sequences of 12, 8, 3 and 10 tokens padded with
the config's pad id, and a pad id inside the last sequence at an attended
position (RoBERTa's position ids come from the ids, not the mask; every
family's word embeddings give the pad row no gradient). DistilBERT's batch
carries token_type_ids of 1 that transformers is not given: verto must
ignore them. Question answering's positions (START, END) include ones
transformers clamps: a negative start (counted as 0), a start past the input
and an end equal to T (both ignored).

Reference files <dir>_io.safetensors:
  input_ids, attention_mask, token_type_ids (B, T) int64; mlm_labels (B, T); labels (B,) or (B, T) int64,
  or (B,) / (B, L) float32 for regression; multi_labels (B, L) float32 multi-hot (multilabel);
  start_positions, end_positions (B,) int64 (qa)
  last_hidden_state (B, T, H); pooled (B, H) where the class has a pooler
  mlm_logits (B, T, V) at every position (ForMaskedLM); logits (B, L) or (B, T, L) (classifiers);
  start_logits, end_logits (B, T) (qa)
  loss (1,) float64 and grad.<name> for every parameter, <name> without the base prefix
  (not for the base models, which have no loss)
  n_params (1,) float64: sum(p.numel() for p in model.parameters())
Outputs and gradients are computed in float64 from the float32 weights.

Loader variants (same parameters as the directory they copy):
  roberta_a_mlm_tied/     + lm_head.decoder.weight / .bias and the position_ids and token_type_ids buffers
  distilbert_a_mlm_tied/  + vocab_projector.weight and the position_ids buffer
"""
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

VOCAB = 301
B, T = 4, 12
LENGTHS = [12, 8, 3, 10]
INNER_PAD = (3, 4)        # (row, position): a pad id the attention mask keeps
MASK_POS = [[1, 4, 8, 10], [2, 5], [1], [3, 6, 7]]
SEQ_LABELS = [2, 0, 1, 2]
REGRESS = [0.5, -1.25, 2.0, 0.75]
TOKEN_LABELS = 4
MULTI_LABELS = 5
START = [3, 1, 40, -4]   # clamped to [0, T] by transformers: 3, 1, T (ignored), 0
END = [7, T, 2, 5]       # T: ignored
ROUNDTRIP_TOL = 1e-4

ROBERTA_COMMON = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.02)
CONFIGS = {
    "roberta_a": ("roberta", dict(hidden_size=72, num_hidden_layers=2, num_attention_heads=3, intermediate_size=150,
                                  max_position_embeddings=40, pad_token_id=1, type_vocab_size=1, layer_norm_eps=1e-5,
                                  hidden_act="gelu_new", **ROBERTA_COMMON), 3),
    "roberta_b": ("roberta", dict(hidden_size=60, num_hidden_layers=3, num_attention_heads=5, intermediate_size=130,
                                  max_position_embeddings=30, pad_token_id=3, type_vocab_size=2, layer_norm_eps=1e-5,
                                  hidden_act="gelu", classifier_dropout=0.0, **ROBERTA_COMMON), 1),
    "xlmr_a": ("xlm-roberta", dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=100,
                                   max_position_embeddings=36, pad_token_id=1, type_vocab_size=1, layer_norm_eps=1e-5,
                                   hidden_act="gelu", **ROBERTA_COMMON), 3),
    "xlmr_b": ("xlm-roberta", dict(hidden_size=84, num_hidden_layers=1, num_attention_heads=7, intermediate_size=66,
                                   max_position_embeddings=24, pad_token_id=1, type_vocab_size=1, layer_norm_eps=1e-6,
                                   hidden_act="gelu_new", **ROBERTA_COMMON), 3),
    "distilbert_a": ("distilbert", dict(dim=64, n_layers=2, n_heads=4, hidden_dim=136, max_position_embeddings=32,
                                        activation="gelu", pad_token_id=0, dropout=0.0, attention_dropout=0.0,
                                        seq_classif_dropout=0.0, qa_dropout=0.0, initializer_range=0.02), 3),
    "distilbert_b": ("distilbert", dict(dim=90, n_layers=3, n_heads=5, hidden_dim=110, max_position_embeddings=28,
                                        activation="relu", sinusoidal_pos_embds=True, pad_token_id=2, dropout=0.0,
                                        attention_dropout=0.0, seq_classif_dropout=0.0, qa_dropout=0.0,
                                        initializer_range=0.02), 3),
    "bert_a": ("bert", dict(hidden_size=56, num_hidden_layers=2, num_attention_heads=7, intermediate_size=90,
                            max_position_embeddings=20, pad_token_id=0, type_vocab_size=3, layer_norm_eps=1e-12,
                            hidden_act="gelu", **ROBERTA_COMMON), 3),
    "bert_b": ("bert", dict(hidden_size=66, num_hidden_layers=3, num_attention_heads=3, intermediate_size=122,
                            max_position_embeddings=26, pad_token_id=2, type_vocab_size=2, layer_norm_eps=1e-7,
                            hidden_act="gelu_new", classifier_dropout=0.0, **ROBERTA_COMMON), 2),
}
CLASSES = {"bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta", "distilbert": "DistilBert"}
BASE = {"bert": "bert.", "roberta": "roberta.", "xlm-roberta": "roberta.", "distilbert": "distilbert."}
HEADS = {"bert": ("cls.", "classifier.", "qa_outputs."),
         "roberta": ("lm_head.", "classifier.", "qa_outputs."), "xlm-roberta": ("lm_head.", "classifier.", "qa_outputs."),
         "distilbert": ("vocab_transform.", "vocab_layer_norm.", "vocab_projector.", "pre_classifier.", "classifier.",
                        "qa_outputs.")}
KINDS = {"model": "Model", "mlm": "ForMaskedLM", "seqcls": "ForSequenceClassification",
         "tokcls": "ForTokenClassification", "qa": "ForQuestionAnswering", "multilabel": "ForSequenceClassification",
         "regress": "ForSequenceClassification"}
# The Auto class that loads each architecture (by the class name's ending).
AUTO = {"ForPreTraining": "AutoModelForPreTraining", "ForMaskedLM": "AutoModelForMaskedLM",
        "ForSequenceClassification": "AutoModelForSequenceClassification",
        "ForTokenClassification": "AutoModelForTokenClassification",
        "ForQuestionAnswering": "AutoModelForQuestionAnswering", "Model": "AutoModel"}


def quiet():
    import transformers
    transformers.logging.set_verbosity_error()
    try:
        transformers.utils.logging.disable_progress_bar()
    except AttributeError:
        pass


def family_of(model_type):
    return {"bert": "bert", "roberta": "roberta", "xlm-roberta": "xlm-roberta", "distilbert": "distilbert"}[model_type]


def regress_outputs(cfg_name):
    return 1 if cfg_name.endswith("_a") else 3


def num_labels_of(cfg_name, kind):
    return {"seqcls": CONFIGS[cfg_name][2], "tokcls": TOKEN_LABELS, "multilabel": MULTI_LABELS,
            "regress": regress_outputs(cfg_name)}.get(kind, 2)


def make_config(family, sizes, num_labels, regression=False):
    """problem_type is left unset (transformers records it at the first loss) but for regression."""
    import transformers
    cls = {"bert": transformers.BertConfig, "roberta": transformers.RobertaConfig,
           "xlm-roberta": transformers.XLMRobertaConfig, "distilbert": transformers.DistilBertConfig}[family]
    extra = dict(num_labels=num_labels)
    if num_labels == 1 or regression:
        extra["problem_type"] = "regression"
    else:
        extra["id2label"] = {i: f"class_{i}" for i in range(num_labels)}
        extra["label2id"] = {f"class_{i}": i for i in range(num_labels)}
    cfg = cls(vocab_size=VOCAB, **sizes, **extra)
    cfg._attn_implementation = "eager"
    return cfg


def perturb(model, gen):
    """Biases and LayerNorm parameters away from their 0 / 1 initial values."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                noise = torch.randn(p.shape, generator=gen) * 0.1
                is_ln_weight = ("LayerNorm.weight" in name or "layer_norm.weight" in name)
                p.copy_(1.0 + noise if is_ln_weight else p + noise)


def make_batch(family, cfg, gen, kind, num_labels):
    pad = cfg.pad_token_id
    ids = torch.randint(5, VOCAB, (B, T), generator=gen)
    mask = torch.zeros(B, T, dtype=torch.int64)
    types = torch.zeros(B, T, dtype=torch.int64)
    mlm = torch.full((B, T), -100, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        mask[b, :n] = 1
        ids[b, n:] = pad
        if family == "distilbert" or getattr(cfg, "type_vocab_size", 1) > 1:
            types[b, n // 2:n] = 1
        for t in MASK_POS[b]:
            mlm[b, t] = ids[b, t]
            ids[b, t] = 4                        # <mask> (any id: the models do not care)
    r, t = INNER_PAD
    ids[r, t] = pad                              # attended, but a pad id
    batch = dict(input_ids=ids, attention_mask=mask, token_type_ids=types, mlm_labels=mlm)
    if kind == "seqcls":
        batch["labels"] = (torch.tensor(REGRESS, dtype=torch.float32) if num_labels == 1
                           else torch.tensor([y % num_labels for y in SEQ_LABELS], dtype=torch.int64))
    if kind == "tokcls":
        lab = torch.randint(0, TOKEN_LABELS, (B, T), generator=gen)
        lab[mask == 0] = -100
        lab[:, 0] = -100
        batch["labels"] = lab
    if kind == "qa":
        batch["start_positions"] = torch.tensor(START, dtype=torch.int64)
        batch["end_positions"] = torch.tensor(END, dtype=torch.int64)
    if kind == "multilabel":
        batch["multi_labels"] = torch.randint(0, 2, (B, num_labels), generator=gen).float()
    if kind == "regress":
        shape = (B,) if num_labels == 1 else (B, num_labels)
        batch["labels"] = torch.randn(shape, generator=gen)
    return batch


def vt_name(family, name):
    base = BASE[family]
    if name.startswith(base) and not name[len(base):].startswith(HEADS[family]):
        return name[len(base):]
    return name


def model_inputs(family, batch):
    inputs = dict(input_ids=batch["input_ids"].long(), attention_mask=batch["attention_mask"].long())
    if family != "distilbert":
        inputs["token_type_ids"] = batch["token_type_ids"].long()
    return inputs


def base_outputs(model, inputs):
    base = model.base_model(**inputs)
    out = {"last_hidden_state": base.last_hidden_state}
    pooled = getattr(base, "pooler_output", None)
    if pooled is not None:
        out["pooled"] = pooled
    return out


def head_outputs(r, arch_or_kind):
    """The head's outputs of a forward result, under the reference files' names."""
    if hasattr(r, "start_logits"):
        return {"start_logits": r.start_logits, "end_logits": r.end_logits}
    return {"mlm_logits" if arch_or_kind in ("mlm", "ForMaskedLM") else "logits": r.logits}


def label_args(batch, float_dtype=torch.float64):
    """The keyword arguments that give a model the batch's labels (float ones in float_dtype)."""
    args = {}
    for key, arg in (("labels", "labels"), ("multi_labels", "labels"), ("regression_targets", "labels"),
                     ("start_positions", "start_positions"), ("end_positions", "end_positions")):
        if key in batch:
            v = batch[key]
            args[arg] = v.to(float_dtype) if v.is_floating_point() else v.long()
    return args


def run(family, model, batch, kind):
    """Outputs (eval, float64) and loss + gradients (train mode, dropout 0)."""
    m = model.double()
    inputs = model_inputs(family, batch)
    m.eval()
    with torch.no_grad():
        out = base_outputs(m, inputs)
        if kind != "model":
            out.update(head_outputs(m(**inputs), kind))
    out["n_params"] = torch.tensor([float(sum(p.numel() for p in m.parameters()))], dtype=torch.float64)
    if kind != "model":
        m.train()
        m.zero_grad()
        labels = dict(labels=batch["mlm_labels"]) if kind == "mlm" else label_args(batch)
        r = m(**inputs, **labels)
        r.loss.backward()
        out["loss"] = r.loss.detach().reshape(1)
        for name, p in m.named_parameters(remove_duplicate=False):  # tied ones under each name
            out["grad." + vt_name(family, name)] = p.grad
    m.float()
    return out


def save_io(path, batch, out):
    tensors = {k: v.contiguous() for k, v in batch.items()}
    for k, v in out.items():
        v = v.detach()
        tensors[k] = (v if k in ("loss", "n_params") else v.float()).contiguous().clone()  # tied: own copies
    save_file(tensors, str(path))


def write_variant(src_dir, dst_dir, tensors):
    dst_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(src_dir / "config.json", dst_dir / "config.json")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(dst_dir / "model.safetensors"),
              metadata={"format": "pt"})


def build(out_dir, cfg_name, kind, seed):
    import transformers
    family, sizes, _ = CONFIGS[cfg_name]
    name = f"{cfg_name}_{kind}"
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    n_labels = num_labels_of(cfg_name, kind)
    cfg = make_config(family, sizes, n_labels, regression=kind == "regress")
    model = getattr(transformers, CLASSES[family] + KINDS[kind])(cfg)
    perturb(model, gen)
    batch = make_batch(family, cfg, gen, kind, n_labels)
    out = run(family, model, batch, kind)
    model.save_pretrained(str(out_dir / name))  # after the loss: with the problem_type training records
    save_io(out_dir / f"{name}_io.safetensors", batch, out)


def generate(out_dir):
    quiet()
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = 100
    for cfg_name in CONFIGS:
        for kind in KINDS:
            seed += 1
            build(out_dir, cfg_name, kind, seed)
    sd = load_file(str(out_dir / "roberta_a_mlm" / "model.safetensors"))
    tied = dict(sd)
    tied["lm_head.decoder.weight"] = sd["roberta.embeddings.word_embeddings.weight"].clone()
    tied["lm_head.decoder.bias"] = sd["lm_head.bias"].clone()
    positions = CONFIGS["roberta_a"][1]["max_position_embeddings"]
    tied["roberta.embeddings.position_ids"] = torch.arange(positions).unsqueeze(0)
    tied["roberta.embeddings.token_type_ids"] = torch.zeros(1, positions, dtype=torch.int64)
    write_variant(out_dir / "roberta_a_mlm", out_dir / "roberta_a_mlm_tied", tied)
    sd = load_file(str(out_dir / "distilbert_a_mlm" / "model.safetensors"))
    tied = dict(sd)
    tied["vocab_projector.weight"] = sd["distilbert.embeddings.word_embeddings.weight"].clone()
    tied["distilbert.embeddings.position_ids"] = torch.arange(CONFIGS["distilbert_a"][1]["max_position_embeddings"]).unsqueeze(0)
    write_variant(out_dir / "distilbert_a_mlm", out_dir / "distilbert_a_mlm_tied", tied)


def outputs_of(family, arch, model, inputs):
    with torch.no_grad():
        out = base_outputs(model, inputs)
        if not arch.endswith("Model"):
            out.update(head_outputs(model(**inputs), "ForMaskedLM" if arch.endswith("ForMaskedLM") else arch))
    return out


def auto_class(arch):
    import transformers
    for ending, auto in AUTO.items():
        if arch.endswith(ending):
            return getattr(transformers, auto)
    raise ValueError(f"no Auto class for {arch}")


def check_loss(model, arch, inputs, c, problem):
    """transformers' loss on the labels verto was given against verto's, and the problem_type it used."""
    labels = label_args(c, torch.float32)
    if not labels or "loss" not in c:
        return 0
    with torch.no_grad():
        loss = model(**inputs, **labels).loss.item()
    d = abs(loss - c["loss"].item())
    print(f"roundtrip: {arch} loss {loss:.9g}: |transformers - verto| = {d:.3g} (tol {ROUNDTRIP_TOL:g})")
    status = 0 if d <= ROUNDTRIP_TOL else 1
    if arch.endswith("ForSequenceClassification") and model.config.problem_type != problem:
        print(f"roundtrip: {arch}: transformers' loss used problem_type {model.config.problem_type}, verto's {problem}")
        status = 1
    return status


def roundtrip(model_dir, c_outputs, ref_io):
    quiet()
    config = json.loads((Path(model_dir) / "config.json").read_text())
    arch, family = config["architectures"][0], family_of(config["model_type"])
    model, info = auto_class(arch).from_pretrained(model_dir, output_loading_info=True, attn_implementation="eager")
    bad = {k: sorted(v) for k, v in info.items() if v}
    if bad or type(model).__name__ != arch:
        print(f"roundtrip: {model_dir} ({arch}) loaded as {type(model).__name__} with {bad}")
        return 1
    model.eval()
    c = {}
    with safe_open(c_outputs, "pt") as f:
        for k in f.keys():
            c[k] = f.get_tensor(k)
        problem = (f.metadata() or {}).get("problem_type", "null")
    written = config.get("problem_type") or "null"
    if written != problem:
        print(f"roundtrip: {model_dir}: config.json's problem_type is {written}, verto's {problem}")
        return 1
    inputs = model_inputs(family, c)
    status, compared = 0, 0
    for k, v in outputs_of(family, arch, model, inputs).items():
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
    status |= check_loss(model, arch, inputs, c, None if problem == "null" else problem)
    if ref_io and ref_io != "-":
        # Identical weights give bit-identical float64 results.
        model.double()
        with safe_open(ref_io, "pt") as f:
            for k, v in outputs_of(family, arch, model, inputs).items():
                if k not in f.keys():
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

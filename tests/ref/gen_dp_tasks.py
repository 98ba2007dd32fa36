"""Reference for DP-SGD's per-example clipping of token classification,
question answering and pretraining (tests/unit/test_dp.c), as gen_dp.py does
for a sequence classifier.

Under DP-SGD one example is one sentence (token classification) or one
feature window (question answering), and its loss is its own: the mean of
its labelled tokens' cross-entropies, or (start + end cross-entropy) / 2. So
the loss given to Opacus is the mean over the examples of their own losses,
and GradSampleModule(loss_reduction="mean") yields each example's gradient of
its own loss; DPOptimizer (noise 0, expected_batch_size B) clips them at C
(in the widest gap between middle norms) and sums: p.grad = sum_i
min(1, C / (||g_i|| + 1e-6)) g_i / B. float64, dropout 0.

Writes OUT/dp_tok_model/, OUT/dp_tok_ref.safetensors (input_ids,
token_type_ids, attention_mask, labels (B, T) with -100 on padding and on
some tokens, norms, max_grad_norm, grad.<name>) and OUT/dp_qa_model/,
OUT/dp_qa_ref.safetensors (the same with start_positions and end_positions (B)
instead of labels).

Pretraining (BertForPreTraining, MLM + NSP; OUT/dp_pt_model/,
OUT/dp_pt_ref.safetensors with mlm_labels (B, T) and nsp_labels (B)): one
example is one sequence and its loss its own, the mean cross-entropy of its
masked positions plus its next-sentence cross-entropy. Opacus' grad samplers
do not follow the decoder's weight tied to the word embeddings, so each
example's gradient comes from its own float64 forward and backward, and the
clipped sum is formed here as DPOptimizer forms it.
"""
import pathlib
import sys
import warnings

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import BertConfig, BertForPreTraining, BertForQuestionAnswering, BertForTokenClassification

warnings.filterwarnings("ignore")
from opacus import GradSampleModule  # noqa: E402
from opacus.optimizers import DPOptimizer  # noqa: E402

B, T, LABELS = 6, 9, 3
LENGTHS = [9, 4, 7, 3, 9, 6]


def make_model(cls, labels, out_dir):
    torch.manual_seed(22)
    cfg = BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
                     max_position_embeddings=16, type_vocab_size=2, num_labels=labels, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0, initializer_range=0.3)
    cfg._attn_implementation = "eager"
    model = cls(cfg)
    with torch.no_grad():  # non-zero biases and LayerNorm parameters, so every gradient is exercised
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.add_(0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
    model.save_pretrained(out_dir, safe_serialization=True)
    return model.double().train()


def batch():
    gen = torch.Generator().manual_seed(23)
    ids = torch.randint(5, 60, (B, T), generator=gen)
    mask = torch.zeros(B, T, dtype=torch.long)
    types = torch.zeros(B, T, dtype=torch.long)
    for i, n in enumerate(LENGTHS):
        mask[i, :n] = 1
        types[i, n // 2:n] = 1
        ids[i, n:] = 0
    return ids, types, mask, gen


def bound_between(norms):
    """C in the widest gap between middle norms: some examples are clipped, some not."""
    s = norms.sort().values
    k = max(range(1, B - 2), key=lambda j: float(s[j + 1] / s[j]))
    c = float(torch.sqrt(s[k] * s[k + 1]))
    assert s[k] < 0.99 * c and s[k + 1] > 1.01 * c, "the bound must keep clear of every norm"
    return c


def clip_and_save(model, gsm, loss, tensors, path):
    loss.backward()
    params = [p for p in gsm.parameters() if p.requires_grad]
    norms = torch.stack([p.grad_sample.reshape(B, -1).norm(2, dim=1) for p in params], dim=1).norm(2, dim=1)
    c = bound_between(norms)
    opt = DPOptimizer(torch.optim.SGD(params, lr=0.0), noise_multiplier=0.0, max_grad_norm=c, expected_batch_size=B,
                      loss_reduction="mean")
    assert opt.pre_step()
    tensors.update({"norms": norms.detach().double(), "max_grad_norm": torch.tensor([c], dtype=torch.float64)})
    for name, p in model.named_parameters():
        vt = name[len("bert."):] if name.startswith("bert.") else name
        tensors["grad." + vt] = p.grad.detach().float().contiguous()
    save_file(tensors, str(path))
    print(f"{path.name}: norms {[round(float(x), 4) for x in norms]}, C = {c:.4f}")


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ids, types, mask, gen = batch()
    pos = torch.arange(T).expand(B, T).contiguous()  # per example: Opacus would see one sample for a (1, T) broadcast
    common = {"input_ids": ids.int(), "token_type_ids": types.int(), "attention_mask": mask.int()}

    model = make_model(BertForTokenClassification, LABELS, out / "dp_tok_model")
    labels = torch.randint(0, LABELS, (B, T), generator=gen)
    labels[mask == 0] = -100
    labels[:, 1::3] = -100  # later word pieces of a word carry no label
    gsm = GradSampleModule(model, loss_reduction="mean")
    logits = gsm(input_ids=ids, attention_mask=mask, token_type_ids=types, position_ids=pos).logits
    per_token = F.cross_entropy(logits.reshape(B * T, LABELS), labels.reshape(-1), ignore_index=-100,
                                reduction="none").reshape(B, T)
    counted = (labels != -100).sum(dim=1)
    assert (counted > 0).all()
    loss = (per_token.sum(dim=1) / counted).mean()  # each sentence's own mean, averaged over sentences
    clip_and_save(model, gsm, loss, dict(common, labels=labels.int()), out / "dp_tok_ref.safetensors")
    gsm._close()

    # A span's softmax runs over every position, padding included, so padded positions get gradients; Opacus'
    # embedding grad sampler ignores padding_idx (PyTorch's and verto's backward give the pad row none), so the
    # padded positions hold a non-pad id here.
    ids = ids.clone()
    ids[mask == 0] = 3
    common["input_ids"] = ids.int()
    model = make_model(BertForQuestionAnswering, 2, out / "dp_qa_model")
    starts = torch.tensor([min(n - 1, 2 + i) for i, n in enumerate(LENGTHS)])
    ends = torch.tensor([min(n - 1, 4 + i) for i, n in enumerate(LENGTHS)])
    gsm = GradSampleModule(model, loss_reduction="mean")
    o = gsm(input_ids=ids, attention_mask=mask, token_type_ids=types, position_ids=pos)
    own = (F.cross_entropy(o.start_logits, starts, reduction="none") +
           F.cross_entropy(o.end_logits, ends, reduction="none")) / 2
    clip_and_save(model, gsm, own.mean(), dict(common, start_positions=starts.int(), end_positions=ends.int()),
                  out / "dp_qa_ref.safetensors")

    ids, types, mask, gen = batch()
    pretraining(out, ids, types, mask, gen)


def pretraining(out, ids, types, mask, gen):
    model = make_model(BertForPreTraining, 2, out / "dp_pt_model")
    mlm = torch.full((B, T), -100)
    for i, n in enumerate(LENGTHS):  # one to three masked positions of each sequence, never [CLS]
        for t in range(1, n, 3):
            mlm[i, t] = int(torch.randint(5, 60, (1,), generator=gen))
    nsp = torch.tensor([i % 2 for i in range(B)])
    pos = torch.arange(T).unsqueeze(0)
    names = [n for n, _ in model.named_parameters()]
    grads = []
    for i in range(B):  # each example alone: its own loss, its own gradient
        model.zero_grad()
        o = model(input_ids=ids[i:i + 1], token_type_ids=types[i:i + 1], attention_mask=mask[i:i + 1],
                  position_ids=pos)
        loss = (F.cross_entropy(o.prediction_logits[0], mlm[i], ignore_index=-100) +
                F.cross_entropy(o.seq_relationship_logits, nsp[i:i + 1]))
        loss.backward()
        grads.append([p.grad.detach().clone() for _, p in model.named_parameters()])
    norms = torch.stack([torch.sqrt(sum((g * g).sum() for g in gi)) for gi in grads])
    c = bound_between(norms)
    tensors = {"input_ids": ids.int(), "token_type_ids": types.int(), "attention_mask": mask.int(),
               "mlm_labels": mlm.int(), "nsp_labels": nsp.int(), "norms": norms.double(),
               "max_grad_norm": torch.tensor([c], dtype=torch.float64)}
    for k, name in enumerate(names):  # DPOptimizer's sum: min(1, C / (||g_i|| + 1e-6)) g_i over i, / B
        total = sum(min(1.0, c / (float(norms[i]) + 1e-6)) * grads[i][k] for i in range(B)) / B
        vt = name[len("bert."):] if name.startswith("bert.") else name
        tensors["grad." + vt] = total.float().contiguous()
    path = out / "dp_pt_ref.safetensors"
    save_file(tensors, str(path))
    print(f"{path.name}: norms {[round(float(x), 4) for x in norms]}, C = {c:.4f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/ref")

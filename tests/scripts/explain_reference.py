"""verto explain against Captum and a NumPy attention rollout, on random
transformers models written by save_pretrained.

usage: explain_reference.py VERTO TMPDIR

Models (random weights, initializer_range 0.3 so that attributions are far
from uniform): a BERT single-label classifier (3 labels, WordPiece, a pair
input among the texts), a RoBERTa multi-label classifier (4 labels, byte-level
BPE trained here), a DistilBERT regression model (1 output).

Integrated gradients: Captum 0.9's LayerIntegratedGradients over the model's
`embeddings` module, baseline ids = the input's with every non-special token
replaced by the padding token, position ids and token types the input's
(passed explicitly, so RoBERTa's padding-dependent positions stay the
input's), same rule, same steps. Each piece's attribution (summed over the
hidden size) must equal Captum's within 1e-4 of the input's largest |attribution|
(a per-token relative error is undefined where an attribution is near zero;
the two sides differ by float32 rounding in different summation orders, about
1e-6 of the largest, so 1e-4 leaves room without hiding a wrong term),
verto's F(input) - F(baseline) and delta Captum's within the same tolerance,
and completeness must hold: sum(attributions) - (F(input) - F(baseline)) is
the delta verto reports (within 1e-7 of the terms' magnitudes: verto prints 8
significant digits).

Rollout: the heads' mean attention of each layer from transformers'
output_attentions (eager attention), mixed half and half with the identity and
multiplied through the layers in float64; [CLS]'s row must equal verto's
within 1e-5 (float32 attention probabilities).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import transformers as tf
from captum.attr import LayerIntegratedGradients
from tokenizers import ByteLevelBPETokenizer
from transformers.utils import logging

logging.set_verbosity_error()
verto, tmp = sys.argv[1], Path(sys.argv[2])
failures = 0


def check(ok, what):
    global failures
    print(("  ok: " if ok else "  FAILED: ") + what)
    failures += not ok


corpus = [l for f in ("tests/data/tokenizer/spamassassin_sample.txt", "tests/data/tokenizer/mixed.txt")
          for l in open(f, encoding="utf-8", errors="replace").read().split("\n") if l.strip()]
inputs = [{"text": "Free money!!! Click here to claim your prize, café owners."},
          {"text": "The meeting is moved to Thursday at 10am; bring the report."},
          {"text": "Is this offer real?", "text_b": "Yes, act now and win big."},
          {"text": "unsubscribe"}]


def roberta_tokenizer():
    raw = tmp / "raw-bpe"
    raw.mkdir(exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=800, min_frequency=2,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(raw))
    return tf.RobertaTokenizer.from_pretrained(raw, model_max_length=64)


def labelled(n, problem):
    names = [f"label_{k}" for k in range(n)]
    return dict(num_labels=n, id2label=dict(enumerate(names)), label2id={l: i for i, l in enumerate(names)},
                problem_type=problem, initializer_range=0.3)


def models():
    bert_tok = tf.BertTokenizer("tests/data/tokenizer/uncased/vocab.txt", do_lower_case=True, model_max_length=64)
    rob_tok = roberta_tokenizer()
    yield ("bert", bert_tok, tf.BertForSequenceClassification(tf.BertConfig(
        vocab_size=len(bert_tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, **labelled(3, "single_label_classification"))), "probability")
    yield ("roberta", rob_tok, tf.RobertaForSequenceClassification(tf.RobertaConfig(
        vocab_size=len(rob_tok), hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
        max_position_embeddings=66, type_vocab_size=1, pad_token_id=rob_tok.pad_token_id,
        **labelled(4, "multi_label_classification"))), "probability")
    yield ("distilbert", bert_tok, tf.DistilBertForSequenceClassification(tf.DistilBertConfig(
        vocab_size=len(bert_tok), dim=20, n_layers=2, n_heads=2, hidden_dim=30, max_position_embeddings=64,
        **labelled(1, "regression"))), "logit")


def explained(model, family, of):
    def forward(ids, types, mask, positions, target):
        kw = dict(input_ids=ids, attention_mask=mask)
        if family != "distilbert":
            kw.update(token_type_ids=types, position_ids=positions)
        z = model(**kw).logits
        if of == "probability":
            z = torch.softmax(z, -1) if model.config.problem_type == "single_label_classification" else torch.sigmoid(z)
        return z[:, target]
    return forward


def positions_of(family, ids, pad):
    if family == "roberta":  # transformers' create_position_ids_from_input_ids
        real = (ids != pad).int()
        return torch.cumsum(real, 1) * real + pad
    return torch.arange(ids.shape[1]).unsqueeze(0)


def run_verto(d, args, path):
    out = subprocess.run([verto, "explain", "--model", str(d), "--jsonl", "--input", str(path), *args],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"verto explain failed: {out.stderr}")
    return [json.loads(l) for l in out.stdout.splitlines()]


def rollout(attentions):
    flow = None
    for a in attentions:  # (1, heads, T, T) from the first layer up
        A = 0.5 * a[0].double().mean(0).numpy() + 0.5 * np.eye(a.shape[-1])
        flow = A if flow is None else A @ flow
    return flow[0]


torch.manual_seed(0)
for family, tok, model, of in models():
    model.eval()
    d = tmp / family
    model.save_pretrained(d)
    tok.save_pretrained(d)
    rows = [r for r in inputs if family == "bert" or "text_b" not in r]
    path = tmp / f"{family}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    emb = getattr(model, model.base_model_prefix).embeddings
    fwd = explained(model, family, of)
    for rule, steps in (("gausslegendre", 24), ("riemann_trapezoid", 16)):
        got = run_verto(d, ["--steps", str(steps), "--rule", rule, "--of", of, "--internal-batch-size", "5"], path)
        worst = worst_delta = worst_change = completeness = 0.0
        for r, g in zip(rows, got):
            enc = tok(r["text"], r.get("text_b"), return_tensors="pt")
            ids = enc["input_ids"]
            assert g["pieces"] and len(g["attributions"]) == ids.shape[1], (g["pieces"], ids)
            check(ids[0].tolist() == [tok.convert_tokens_to_ids(p) for p in g["pieces"]],
                  f"{family}: verto's pieces are the tokenizer's ({len(g['pieces'])} pieces)") if rule == "gausslegendre" else None
            types = enc.get("token_type_ids", torch.zeros_like(ids))
            special = torch.tensor(tok.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True))
            base = torch.where(special.bool(), ids[0], torch.tensor(tok.pad_token_id)).unsqueeze(0)
            pos = positions_of(family, ids, tok.pad_token_id)
            mask = torch.ones_like(ids)
            lig = LayerIntegratedGradients(fwd, emb)
            attr, delta = lig.attribute(ids, baselines=base, additional_forward_args=(types, mask, pos, g["target_id"]),
                                        n_steps=steps, method=rule, internal_batch_size=steps,
                                        return_convergence_delta=True)
            ref = attr.sum(-1)[0].double().numpy()
            scale = np.abs(ref).max()
            worst = max(worst, np.abs(np.array(g["attributions"]) - ref).max() / scale)
            with torch.no_grad():
                change = (fwd(ids, types, mask, pos, g["target_id"]) - fwd(base, types, mask, pos, g["target_id"])).item()
            worst_change = max(worst_change, abs(g["output"] - g["baseline_output"] - change) / scale)
            worst_delta = max(worst_delta, abs(g["delta"] - delta.item()) / scale)
            printed = 1e-7 * (sum(map(abs, g["attributions"])) + abs(g["output"]) + abs(g["baseline_output"]))
            completeness = max(completeness, abs(sum(g["attributions"]) - (g["output"] - g["baseline_output"])
                                                 - g["delta"]) / printed)
            words = sum(w["attribution"] for w in g["words"])
            specials = sum(a for a, s in zip(g["attributions"], special.tolist()) if s)
            check(abs(words + specials - sum(g["attributions"])) < 1e-6 * scale,
                  f"{family}: the words' attributions add up to their pieces'") if r is rows[0] and rule == "gausslegendre" else None
        check(worst <= 1e-4, f"{family} {rule} {steps} steps of the {of}: attributions = Captum's within 1e-4 "
                             f"of the largest (worst {worst:.2e})")
        check(worst_change <= 1e-4 and worst_delta <= 1e-4,
              f"{family} {rule}: F(input) - F(baseline) and delta = Captum's (worst {worst_change:.2e}, {worst_delta:.2e})")
        check(completeness <= 1, f"{family} {rule}: sum(attributions) - (F(x) - F(b)) = delta within the 8 printed "
                                 f"digits ({completeness:.2f} of 1e-7 of the terms' magnitude)")
    # rollout
    got = run_verto(d, ["--method", "rollout"], path)
    eager = type(model).from_pretrained(d, attn_implementation="eager").eval()
    worst = 0.0
    for r, g in zip(rows, got):
        enc = tok(r["text"], r.get("text_b"), return_tensors="pt")
        with torch.no_grad():
            att = eager(**enc, output_attentions=True).attentions
        worst = max(worst, np.abs(np.array(g["attributions"]) - rollout(att)).max())
        check(abs(sum(g["attributions"]) - 1) < 1e-6, f"{family}: rollout's attributions sum to 1") if r is rows[0] else None
    check(worst <= 1e-5, f"{family}: rollout = NumPy's from transformers' attentions (worst {worst:.2e})")


# ---- entities and answers: Captum over the same objectives
def lig_attr(fwd, emb, ids, base, args, steps):
    attr, delta = LayerIntegratedGradients(fwd, emb).attribute(
        ids, baselines=base, additional_forward_args=args, n_steps=steps, method="gausslegendre",
        internal_batch_size=steps, return_convergence_delta=True)
    return attr.sum(-1)[0].double().numpy(), delta.item()


def compare(what, got, ref):
    a = np.array(got["attributions"])
    worst = np.abs(a - ref).max() / np.abs(ref).max()
    check(worst <= 1e-4, f"{what}: attributions = Captum's within 1e-4 of the largest (worst {worst:.2e})")


bert_tok = tf.BertTokenizerFast("tests/data/tokenizer/uncased/vocab.txt", do_lower_case=True, model_max_length=64)
tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
ner = tf.BertForTokenClassification(tf.BertConfig(
    vocab_size=len(bert_tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
    max_position_embeddings=64, num_labels=len(tags), id2label=dict(enumerate(tags)),
    label2id={t: i for i, t in enumerate(tags)}, initializer_range=0.3)).eval()
d = tmp / "ner"
ner.save_pretrained(d)
bert_tok.save_pretrained(d)
texts = ["Alice flew from Paris to Tokyo with Bob.", "Dr. Müller visited Zürich and São Paulo last spring."]
(tmp / "ner.txt").write_text("".join(t + "\n" for t in texts))
for of in ("logit", "probability"):
    out = subprocess.run([verto, "explain", "--model", str(d), "--input", str(tmp / "ner.txt"), "--steps", "16", "--of", of],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"verto explain (entities) failed: {out.stderr}")
    lines = [json.loads(l) for l in out.stdout.splitlines()]
    pipe = tf.pipeline("token-classification", model=str(d), aggregation_strategy="simple")
    n_entities = 0
    for text, got in zip(texts, lines):
        want = pipe(text)
        check([(g["entity_group"], g["start"], g["end"]) for g in got] == [(w["entity_group"], w["start"], w["end"]) for w in want],
              f"entities ({of}): verto explain's entities are the pipeline's ({len(want)})")
        enc = bert_tok(text, return_offsets_mapping=True, return_tensors="pt")
        ids, offsets = enc["input_ids"], enc["offset_mapping"][0].tolist()
        special = torch.tensor(bert_tok.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True)).bool()
        base = torch.where(special, ids[0], torch.tensor(bert_tok.pad_token_id)).unsqueeze(0)
        with torch.no_grad():
            labels = ner(input_ids=ids).logits[0].argmax(-1)
        for w, g in zip(want, got):
            pieces = [i for i, (a, b) in enumerate(offsets) if not special[i] and b > a and a >= w["start"] and b <= w["end"]]
            def fwd(x, types, pieces=pieces):
                z = ner(input_ids=x, token_type_ids=types).logits
                if of == "probability":
                    z = torch.softmax(z, -1)
                return torch.stack([z[:, i, labels[i]] for i in pieces]).mean(0)
            ref, delta = lig_attr(fwd, ner.bert.embeddings, ids, base, (enc["token_type_ids"],), 16)
            compare(f"entity {w['entity_group']} {w['word']!r} ({of})", g["explanation"], ref)
            if of == "probability":
                check(abs(g["explanation"]["probability"] - w["score"]) < 1e-5, "  its probability is the pipeline's score")
            n_entities += 1
    check(n_entities > 0, f"entities ({of}): {n_entities} explained")

qa = tf.BertForQuestionAnswering(tf.BertConfig(
    vocab_size=len(bert_tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
    max_position_embeddings=64, initializer_range=0.3)).eval()
d = tmp / "qa"
qa.save_pretrained(d)
bert_tok.save_pretrained(d)
questions = [{"question": "Who flew to Tokyo?", "context": "Alice flew from Paris to Tokyo with Bob last week."},
             {"question": "Where is Zürich?", "context": "Zürich is a city in Switzerland, on a lake."}]
(tmp / "qa.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
out = subprocess.run([verto, "explain", "--model", str(d), "--input", str(tmp / "qa.jsonl"), "--steps", "16"],
                     capture_output=True, text=True)
if out.returncode != 0:
    raise SystemExit(f"verto explain (answers) failed: {out.stderr}")
for q, line in zip(questions, out.stdout.splitlines()):
    # (transformers 5 has no question-answering pipeline; the answer itself is test_qa_cli's to check)
    want = got = json.loads(line)
    check(q["context"][got["start"]:got["end"]] == got["answer"] != "", f"answer {got['answer']!r}: a span of the context")
    enc = bert_tok(q["question"], q["context"], return_offsets_mapping=True, return_tensors="pt")
    ids, offsets, seq = enc["input_ids"], enc["offset_mapping"][0].tolist(), enc.sequence_ids(0)
    inside = [i for i, (a, b) in enumerate(offsets) if seq[i] == 1 and b > want["start"] and a < want["end"]]
    special = torch.tensor(bert_tok.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True)).bool()
    base = torch.where(special, ids[0], torch.tensor(bert_tok.pad_token_id)).unsqueeze(0)
    for name, at in (("start", inside[0]), ("end", inside[-1])):
        def fwd(x, types, name=name, at=at):
            o = qa(input_ids=x, token_type_ids=types)
            return (o.start_logits if name == "start" else o.end_logits)[:, at]
        ref, delta = lig_attr(fwd, qa.bert.embeddings, ids, base, (enc["token_type_ids"],), 16)
        compare(f"answer {want['answer']!r}: its {name} logit at token {at}", got[f"{name}_explanation"], ref)
        check(got[f"{name}_explanation"]["target_id"] == at, f"  explained at the answer's {name} token")

sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""Reference data for token classification (NER), for tests/unit/test_ner.c.

Usage: gen_ner.py OUT_DIR. Writes into OUT_DIR:
  ner_seqeval.json  seqeval 1.2.2 on generated tag sequences: per case the
      label map, gold and predicted ids with sentence starts, then
      "default" (classification_report(output_dict=True), accuracy_score,
      precision/recall/f1_score micro) and, for the cases of a scheme,
      "strict" (the same with mode="strict", scheme=...); the entities of the
      gold tags (get_entities over the sentences, and Entities(...).entities
      per sentence in strict mode); NaN (macro of no types) as null. Cases:
      each scheme IOB1 IOB2 IOE1 IOE2 IOBES BILOU with corrupted predictions,
      "wild" tags of no scheme (default mode only), all-O, and a strict
      error (an E- tag in IOB2 data: seqeval raises).
  ner_files_gold.conll, ner_files_pred.jsonl  the IOB2 case's gold tags as a
      CoNLL-2003 file (4 columns, -DOCSTART-) and predictions as JSONL.
  ner_tok_roberta/, ner_tok_roberta_aps/, ner_tok_xlmr/  a byte-level BPE as
      RoBERTa's (add_prefix_space false, and true) and a sentencepiece Unigram
      as XLM-R's, built by gen_tok_pipelines.py's functions with its added
      tokens (made here: make test runs the generators in name order, so
      gen_tok_pipelines.py's own directories may not exist yet).
  ner_words.json  per tokenizer (those three and tests/data/tokenizer/uncased),
      sentences of pre-split words (accents, CJK, emoji, punctuation runs,
      added tokens, a few empty words and words holding spaces) encoded by
      the fast tokenizer with is_split_into_words=True: input_ids, word_ids()
      (None as -1) and offset_mapping (characters within each word); the same
      truncated to 12 tokens and padded to 16; and word tags with the labels
      of transformers' run_ner.py (label_all_tokens False and True).
  ner_tok_bpe_prefix/  a BPE whose model has a continuing_subword_prefix ("##"), for the pipeline's cases.
  ner_pipeline.json  per tokenizer (also ner_tok_bpe_prefix), texts with logits (float32, chosen here)
      given to TokenClassificationPipeline.postprocess with each
      aggregation_strategy (none, simple, first, average, max): the input
      ids and per strategy the entities (entity_group, or none's entity;
      score, index (none's; -1 otherwise), word, start, end).
"""
import json
import math
import os
import random
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_tokenizer import DATA, read_lines  # noqa: E402
import gen_tok_pipelines as pipes  # noqa: E402

try:
    from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score
    from seqeval.metrics.sequence_labeling import get_entities
    from seqeval.scheme import BILOU, IOB1, IOB2, IOBES, IOE1, IOE2, Entities
except ImportError:
    sys.exit("gen_ner.py needs seqeval: pip install seqeval")

import torch  # noqa: E402
from transformers import (AutoTokenizer, BertConfig, BertForTokenClassification, RobertaTokenizer,  # noqa: E402
                          pipeline)
from transformers.pipelines.token_classification import AggregationStrategy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMES = {"IOB1": IOB1, "IOB2": IOB2, "IOE1": IOE1, "IOE2": IOE2, "IOBES": IOBES, "BILOU": BILOU}
TYPES = ["PER", "LOC", "ORG", "MISC-X"]


def num(x):
    x = float(x)
    return None if math.isnan(x) else x


def report(rep):
    return {k: {m: num(v[m]) if m != "support" else int(v[m]) for m in ("precision", "recall", "f1-score", "support")}
            for k, v in rep.items()}


# ---- tag sequences -------------------------------------------------------------

def entity_tags(scheme, typ, n, after_same):
    """The tags of one entity of n tokens; after_same: it directly follows one of the same type."""
    if scheme == "IOB2":
        return ["B-" + typ] + ["I-" + typ] * (n - 1)
    if scheme == "IOB1":
        return ["B-" + typ if after_same else "I-" + typ] + ["I-" + typ] * (n - 1)
    if scheme == "IOE2":
        return ["I-" + typ] * (n - 1) + ["E-" + typ]
    if scheme == "IOE1":  # E- only where the next entity has the same type: decided by the caller
        return ["I-" + typ] * n
    if scheme == "IOBES":
        return ["S-" + typ] if n == 1 else ["B-" + typ] + ["I-" + typ] * (n - 2) + ["E-" + typ]
    if scheme == "BILOU":
        return ["U-" + typ] if n == 1 else ["B-" + typ] + ["I-" + typ] * (n - 2) + ["L-" + typ]
    raise ValueError(scheme)


def sentence(rng, scheme, length):
    tags = []
    prev_type = None
    while len(tags) < length:
        if rng.random() < 0.55:
            tags.append("O")
            prev_type = None
            continue
        typ = rng.choice(TYPES)
        n = min(rng.choice([1, 1, 2, 3, 4]), length - len(tags))
        ent = entity_tags(scheme, typ, n, prev_type == typ)
        if scheme == "IOE1" and prev_type == typ:
            tags[-1] = "E-" + typ
        tags.extend(ent)
        prev_type = typ
    return tags


def labels_of(scheme):
    prefixes = {"IOB1": "BI", "IOB2": "BI", "IOE1": "IE", "IOE2": "IE", "IOBES": "BIES", "BILOU": "BILU"}[scheme]
    return ["O"] + [p + "-" + t for t in TYPES for p in prefixes]


def corrupt(rng, tags, labels):
    out = list(tags)
    for i in range(len(out)):
        r = rng.random()
        if r < 0.08:
            out[i] = rng.choice(labels)
        elif r < 0.12:
            out[i] = "O"
        elif r < 0.15 and i + 1 < len(out):
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def seqeval_case(name, labels, gold, pred, scheme=None, strict_error=False):
    ids = {l: i for i, l in enumerate(labels)}
    start = [0]
    for s in gold:
        start.append(start[-1] + len(s))
    case = {
        "name": name, "labels": labels, "start": start,
        "gold": [ids[t] for s in gold for t in s], "pred": [ids[t] for s in pred for t in s],
        "default": {
            "report": report(classification_report(gold, pred, output_dict=True, zero_division=0)),
            "accuracy": accuracy_score(gold, pred),
            "precision": num(precision_score(gold, pred)), "recall": num(recall_score(gold, pred)),
            "f1": num(f1_score(gold, pred)),
        },
        "entities": [[t, s, e + 1] for t, s, e in get_entities(gold)],  # end exclusive, flattened positions
    }
    if scheme:
        case["scheme"] = scheme
        sch = SCHEMES[scheme]
        if strict_error:
            try:
                classification_report(gold, pred, mode="strict", scheme=sch, output_dict=True)
                raise SystemExit(f"{name}: seqeval accepted the tags")
            except ValueError:
                case["strict_error"] = True
        else:
            case["strict"] = {
                "report": report(classification_report(gold, pred, mode="strict", scheme=sch, output_dict=True,
                                                       zero_division=0)),
                "precision": num(precision_score(gold, pred, mode="strict", scheme=sch)),
                "recall": num(recall_score(gold, pred, mode="strict", scheme=sch)),
                "f1": num(f1_score(gold, pred, mode="strict", scheme=sch)),
            }
            case["strict_entities"] = [[e.sent_id, e.tag, e.start, e.end] for es in Entities(gold, sch).entities
                                       for e in es]
    return case


def seqeval_cases(rng):
    cases = []
    for scheme in SCHEMES:
        labels = labels_of(scheme)
        gold = [sentence(rng, scheme, rng.choice([0, 1, 2, 5, 9, 14, 20, 31])) for _ in range(250)]
        pred = [corrupt(rng, s, labels) for s in gold]
        cases.append(seqeval_case(scheme, labels, gold, pred, scheme))
    wild = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "X-PER", "B", "I", "E-", ".", "O-LOC", "BPER", "I-PER-",
            "B--LOC--", "S-LOC", "E-LOC", "\u00e9-X", "-", "U-PER", "L-PER", "I-LOC", "B-LOC"]
    gold = [[rng.choice(wild) for _ in range(rng.randrange(0, 25))] for _ in range(300)]
    pred = [[rng.choice(wild) if rng.random() < 0.4 else t for t in s] for s in gold]
    cases.append(seqeval_case("wild", wild, gold, pred))
    all_o = [["O"] * rng.randrange(1, 6) for _ in range(5)]
    cases.append(seqeval_case("all_o", ["O", "B-PER", "I-PER"], all_o, [list(s) for s in all_o], "IOB2"))
    gold = [["B-PER", "E-PER", "O"], ["O", "B-LOC"]]
    cases.append(seqeval_case("strict_error", ["O", "B-PER", "E-PER", "B-LOC"], gold, [list(s) for s in gold],
                              "IOB2", strict_error=True))
    return cases


WORDS = ("EU rejects German call to boycott British lamb Peter Blackburn BRUSSELS 1996-08-22 European Commission "
         "said Thursday it disagreed with advice consumers shun").split()


def write_files(out, case, rng):
    """The IOB2 case as a CoNLL-2003 file (gold) and JSONL (predictions)."""
    labels, start = case["labels"], case["start"]
    with open(os.path.join(out, "ner_files_gold.conll"), "w", encoding="utf-8") as f:
        f.write("-DOCSTART- -X- -X- O\n\n")
        for s in range(len(start) - 1):
            if start[s] == start[s + 1]:
                continue  # CoNLL cannot hold an empty sentence
            if s % 40 == 39:
                f.write("-DOCSTART- -X- -X- O\n\n")
            for k in range(start[s], start[s + 1]):
                f.write(f"{rng.choice(WORDS)} NNP B-NP {labels[case['gold'][k]]}\n")
            f.write("\n")
    with open(os.path.join(out, "ner_files_pred.jsonl"), "w", encoding="utf-8") as f:
        for s in range(len(start) - 1):
            if start[s] == start[s + 1]:
                continue
            toks = [rng.choice(WORDS) for _ in range(start[s], start[s + 1])]
            f.write(json.dumps({"tokens": toks, "tags": [labels[case["pred"][k]] for k in range(start[s], start[s + 1])]},
                               ensure_ascii=False) + "\n")


# ---- tokenizers ------------------------------------------------------------------

def tokenizers(out):
    corpora = {"emails": read_lines(os.path.join(DATA, "spamassassin_sample.txt")),
               "mixed": read_lines(os.path.join(DATA, "mixed.txt"))}
    text = pipes.train_text(corpora)
    toks = {}
    work = os.path.join(out, "ner_tok_raw")  # not gen_tok_pipelines.py's own tok_pipe_raw_* directories
    made = pipes.roberta_dirs(work, text)
    made.update(pipes.unigram_dirs(work, text))
    raw = os.path.join(work, "tok_pipe_raw_bpe")
    made["roberta_aps"] = RobertaTokenizer.from_pretrained(raw, add_prefix_space=True)
    for name in ("roberta", "roberta_aps", "xlmr"):
        tok = made[name]
        tok.add_tokens(pipes.added_tokens())
        d = os.path.join(out, f"ner_tok_{name}")
        tok.save_pretrained(d)
        toks[name] = AutoTokenizer.from_pretrained(d)  # exactly what the directory holds
    toks["uncased"] = AutoTokenizer.from_pretrained(os.path.join(HERE, "..", "data", "tokenizer", "uncased"))
    return toks


def bpe_prefix_tokenizer(out):
    """A (non byte-level) BPE whose model has a continuing_subword_prefix ("##", WordPiece's decoder), BERT's
    normalizer and pre-tokenizer and [CLS] ... [SEP]: the pipeline's word-aware subword rule for a BPE."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast
    corpora = {"emails": read_lines(os.path.join(DATA, "spamassassin_sample.txt")),
               "mixed": read_lines(os.path.join(DATA, "mixed.txt"))}
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(pipes.train_text(corpora), trainers.BpeTrainer(
        vocab_size=3000, min_frequency=2, special_tokens=specials, continuing_subword_prefix="##", limit_alphabet=300))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]", mask_token="[MASK]")
    d = os.path.join(out, "ner_tok_bpe_prefix")
    fast.save_pretrained(d)
    return AutoTokenizer.from_pretrained(d)


def word_pool(rng):
    emails = [w.decode("utf-8", errors="replace") for l in read_lines(os.path.join(DATA, "spamassassin_sample.txt"))[:400]
              for w in l.split()]
    accented = ["Café", "naïve", "résumé", "Ångström", "Øre", "Straße", "İstanbul", "ışık", "Σίσυφος", "jalapeño",
                "l'été", "coöperate", "Ǆemal", "ﬁnance", "e\u0301te\u0301", "Zoë", "Ærø"]
    cjk = ["東京", "北京天安门", "日本語", "カタカナ", "ひらがな", "한국어", "안녕하세요", "中文"]
    emoji = ["😀", "👍🏽", "👨\u200d👩\u200d👧", "🇺🇸🇫🇷", "❤️", "🫠x", "a😀b"]
    punct = ["...", "!!", "?!", "--", "'s", "n't", ",", ".", "(", ")", "\"", "$", "%", "#1", "@user", "U.S.", "3.5",
             "1996-08-22", "e-mail", "co-op", "!!!???", ":-)"]
    added = ["<ent>", "[DOSE]", "mg/kg", "x<ent>y", "<mask>"]
    odd = ["New York", " lead", "trail ", "", "a  b"]

    def word():
        r = rng.random()
        if r < 0.35:
            return rng.choice(emails)
        if r < 0.5:
            return rng.choice(accented)
        if r < 0.6:
            return rng.choice(cjk)
        if r < 0.68:
            return rng.choice(emoji)
        if r < 0.85:
            return rng.choice(punct)
        if r < 0.92:
            return rng.choice(added)
        if r < 0.96:
            return rng.choice(odd)
        return "".join(rng.choice("abcxyzéü") for _ in range(rng.randrange(1, 30)))
    return word


def run_ner_labels(word_ids, word_tags, label_all_tokens, label_list):
    """transformers examples/pytorch/token-classification/run_ner.py, tokenize_and_align_labels."""
    b_to_i = []
    for idx, label in enumerate(label_list):
        if label.startswith("B-") and label.replace("B-", "I-") in label_list:
            b_to_i.append(label_list.index(label.replace("B-", "I-")))
        else:
            b_to_i.append(idx)
    prev = None
    out = []
    for w in word_ids:
        if w is None:
            out.append(-100)
        elif w != prev:
            out.append(word_tags[w])
        else:
            out.append(b_to_i[word_tags[w]] if label_all_tokens else -100)
        prev = w
    return out


NER_LABELS = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O", "B-B-X", "I-I-X", "I-B-X"]


def words_cases(toks, rng):
    word = word_pool(rng)
    out = {}
    for name, tok in toks.items():
        cases = []
        for i in range(300):
            words = [word() for _ in range(rng.randrange(1, 26))]
            if i % 50 == 0:
                words = [""] if i == 0 else words + [""]
            enc = tok(words, is_split_into_words=True, return_offsets_mapping=True)
            wids = [-1 if w is None else w for w in enc.word_ids()]
            tags = [rng.randrange(len(NER_LABELS)) for _ in words]
            case = {"words": words, "ids": enc["input_ids"], "word_ids": wids,
                    "offsets": [list(o) for o in enc["offset_mapping"]], "tags": tags,
                    "labels": run_ner_labels(enc.word_ids(), tags, False, NER_LABELS),
                    "labels_all": run_ner_labels(enc.word_ids(), tags, True, NER_LABELS)}
            if i % 3 == 0:  # truncated to 12 tokens, then padded to 16
                short = tok(words, is_split_into_words=True, return_offsets_mapping=True, truncation=True,
                            max_length=12)
                swids = short.word_ids()
                pad = 16 - len(swids)
                padded = tok.pad({"input_ids": short["input_ids"], "attention_mask": short["attention_mask"]},
                                 padding="max_length", max_length=16)
                case["short"] = {"ids": padded["input_ids"], "attention_mask": padded["attention_mask"],
                                 "word_ids": [-1 if w is None else w for w in swids] + [-1] * pad,
                                 "offsets": [list(o) for o in short["offset_mapping"]] + [[0, 0]] * pad}
            cases.append(case)
        out[name] = cases
    return out


PIPE_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-LOC", "S-ORG", "MISC"]


def pipeline_cases(toks, rng):
    word = word_pool(rng)
    mixed = [l.decode("utf-8", errors="replace") for l in read_lines(os.path.join(DATA, "mixed.txt"))]
    mixed = [l for l in mixed if "\0" not in l]  # cJSON's strings end at a NUL
    nrng = np.random.default_rng(7)
    K = len(PIPE_LABELS)
    cfg = BertConfig(vocab_size=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8,
                     num_labels=K, id2label=dict(enumerate(PIPE_LABELS)),
                     label2id={l: i for i, l in enumerate(PIPE_LABELS)})
    model = BertForTokenClassification(cfg).eval()
    out = {}
    for name, tok in toks.items():
        pipe = pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy="simple")
        cases = []
        for i in range(120):
            text = rng.choice(mixed) if i % 5 == 0 else " ".join(word() for _ in range(rng.randrange(1, 20)))
            text = text[:300]
            inputs = next(iter(pipe.preprocess(text, is_split_into_words=False)))
            n = inputs["input_ids"].shape[1]
            # runs of one label, made the argmax by a margin, with noise
            lab, seq = rng.randrange(K), []
            for _ in range(n):
                if rng.random() < 0.35:
                    lab = rng.randrange(K)
                seq.append(lab)
            logits = nrng.normal(0, 1, (n, K)).astype(np.float32)
            logits[np.arange(n), seq] += np.float32(2.5)
            outputs = dict(inputs)
            outputs.update({"logits": torch.from_numpy(logits)[None], "word_ids": None, "word_to_chars_map": None})
            by = {}
            for agg in AggregationStrategy:
                ents = pipe.postprocess([outputs], aggregation_strategy=agg)
                by[agg.value] = [{"entity_group": e["entity"] if agg == AggregationStrategy.NONE else e["entity_group"],
                                  "score": float(e["score"]), "index": int(e.get("index", -1)), "word": e["word"],
                                  "start": int(e["start"]), "end": int(e["end"])} for e in ents]
            cases.append({"text": text, "ids": inputs["input_ids"][0].tolist(), "logits": logits.reshape(-1).tolist(),
                          "entities": by})
        out[name] = cases
    return {"labels": PIPE_LABELS, "tokenizers": out}


def main():
    warnings.filterwarnings("ignore")  # seqeval's UndefinedMetricWarning, numpy's mean of nothing
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(19)
    cases = seqeval_cases(rng)
    with open(os.path.join(out, "ner_seqeval.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False)
    write_files(out, next(c for c in cases if c["name"] == "IOB2"), rng)
    toks = tokenizers(out)
    with open(os.path.join(out, "ner_words.json"), "w", encoding="utf-8") as f:
        json.dump(words_cases(toks, rng), f, ensure_ascii=False)
    toks["bpe_prefix"] = bpe_prefix_tokenizer(out)  # the pipeline's cases only
    with open(os.path.join(out, "ner_pipeline.json"), "w", encoding="utf-8") as f:
        json.dump(pipeline_cases(toks, rng), f, ensure_ascii=False)
    print(f"  ner: {len(cases)} seqeval cases, {len(toks)} tokenizers")


if __name__ == "__main__":
    main()

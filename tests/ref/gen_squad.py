#!/usr/bin/env python3
"""Reference data for tests/unit/test_squad.c: extractive question answering.

Usage: gen_squad.py OUT_DIR. Writes into OUT_DIR:
  squad_synth.json      SQuAD v2.0 JSON: 56 questions over contexts made of
                        State of the Union sentences (tests/data/pretrain/
                        sotu_sample.txt) with a few Unicode words put in;
                        answers at the start, middle and end of long contexts,
                        one to three gold answers each, 8 impossible ones,
                        questions with leading whitespace
  squad_synth.jsonl     the same questions in the Hugging Face JSON Lines layout
  squad_synth_v1.json   the answerable ones as SQuAD v1.1
  squad_tok_roberta/, squad_tok_xlmr/   a byte-level BPE (RoBERTa's pipeline)
                        and a sentencepiece Unigram (XLM-R's, as transformers
                        converts it), trained here on the tokenizer test text
                        with gen_tok_pipelines.py's recipes, saved by
                        transformers (the WordPiece one is
                        tests/data/tokenizer/uncased)
  squad_ref.json        what transformers and the scripts give (below)

squad_ref.json:
  features[tok][setting]  for the three tokenizers and settings std (384 /
      128), small (64 / 16) and ctxfirst (80 / 20, context first: truncation
      only_first, as run_qa does for a tokenizer padding on the left): the
      tokenizer's own call tokenizer(question.lstrip(), context,
      truncation="only_second", max_length, stride,
      return_overflowing_tokens=True, return_offsets_mapping=True,
      padding=False) over the whole set, giving per feature its length,
      overflow_to_sample_mapping, and per token input_ids, token_type_ids,
      sequence_ids (-1 for None), word_ids (-1 for None) and character offsets
      (types_first_window_only: tokenizers' type ids are the template's in the
      first window only, see features_ref);
      and run_qa.py's prepare_train_features labels (start/end_positions),
      recomputed here with its code's logic (run_qa.py is not installed)
  post[tok][case]  utils_qa.postprocess_qa_predictions over seeded float32
      logits of the validation features (case v1, v2, v2_thresh (threshold
      1.5), and v2_padded: rows padded to max_length with logits of their
      own, as run_qa's padded batches are): predictions, n-best lists (text,
      start/end logit, probability) and null odds. utils_qa.py is not
      installed either: postprocess() below rewrites its documented logic
      (transformers' examples/pytorch/question-answering/utils_qa.py)
  pipeline[tok][case]  the question-answering pipeline's answers over seeded
      logits: transformers 5 no longer ships QuestionAnsweringPipeline, but
      its select_starts_ends / decode_spans live on in
      transformers.pipelines.document_question_answering and are called from
      there (cases: default; top 3 with the null answer; top 2 not aligned to
      words; the null answer's logits raised); the rest of its postprocess (word alignment with the tokenizers
      Encoding's token_to_word / word_to_chars, answers merged by lowercased
      text, the null answer, top_k) is rewritten from transformers 4.57's
      pipelines/question_answering.py
  metrics  the official SQuAD v1.1 and v2.0 evaluation logic, rewritten below
      from the published evaluate-v1.1.py / evaluate-v2.0.py: normalized
      strings, exact / F1 per (gold, prediction) pair for both versions, and
      whole-set scores (v1 over squad_synth_v1.json, v2 over squad_synth.json
      without and with no-answer probabilities, plus a threshold)
"""
import collections
import json
import os
import random
import re
import string
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_tok_pipelines import roberta_dirs, train_text, unigram_dirs  # noqa: E402
from gen_tokenizer import DATA, read_lines  # noqa: E402

from transformers import AutoTokenizer  # noqa: E402
from transformers.pipelines.document_question_answering import select_starts_ends  # noqa: E402

SOTU = os.path.join(HERE, "..", "data", "pretrain", "sotu_sample.txt")
UNCASED = os.path.join(DATA, "uncased")
SETTINGS = {"std": (384, 128, False), "small": (64, 16, False), "ctxfirst": (80, 20, True)}
UNICODE_WORDS = ["café", "naïve Ünïcode", "東京 タワー", "déjà vu 😀", "ΟΔΥΣΣΕΥΣ", "İstanbul", "Ｆｕｌｌ ｗｉｄｔｈ",
                 "co\u0301operation", "emoji 🇫🇷 flags"]


# ---- the synthetic data set ------------------------------------------------------------

def make_examples(rng):
    lines = [l.strip() for l in open(SOTU, encoding="utf-8").read().split("\n") if l.strip()]
    examples = []
    questions = ["What did the message say about {}?", "  Which measure concerned {}?", "\tWho spoke of {}?",
                 "How was {} described?", "Why was {} mentioned?", "Where does the text mention {}?"]
    for i in range(56):
        start = rng.randrange(len(lines) - 14)
        k = rng.choice([2, 4, 6, 9, 12, 14])
        sents = lines[start:start + k]
        if i % 4 == 1:  # a Unicode word or two put in
            at = rng.randrange(len(sents))
            words = sents[at].split(" ")
            words.insert(rng.randrange(len(words) + 1), rng.choice(UNICODE_WORDS))
            sents[at] = " ".join(words)
        context = " ".join(sents)
        if i % 7 == 3:
            context = "  " + context.replace(". ", ".\n", 2)  # leading spaces and newlines
        if i == 10:  # special tokens written in the text: added tokens (their own words), a second [CLS] / <s>
            context = context.replace(". ", ". [CLS] <s> </s> [SEP] <mask> ", 1)
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", context)]
        where = i % 5  # 0 start, 1 end, 2 middle, 3-4 anywhere
        n = rng.randrange(1, 7)
        if where == 0:
            w0 = 0
        elif where == 1:
            w0 = max(0, len(words) - n)
        elif where == 2:
            w0 = max(0, len(words) // 2 - n // 2)
        else:
            w0 = rng.randrange(max(1, len(words) - n))
        w1 = min(len(words), w0 + n) - 1
        s, e = words[w0][0], words[w1][1]
        if context[e - 1] in ".,;:" and e - 1 > s:
            e -= 1
        answers = [{"text": context[s:e], "answer_start": s}]
        if rng.random() < 0.5 and w1 > w0:  # a shorter gold answer too
            answers.append({"text": context[words[w0 + 1][0]:e], "answer_start": words[w0 + 1][0]})
        if rng.random() < 0.3:
            answers.append(dict(answers[0]))  # the same answer twice, as SQuAD's dev sets have
        topic = context[s:e].split(" ")[0].strip(".,;:")
        q = rng.choice(questions).format(topic)
        impossible = i % 7 == 5
        examples.append({"id": f"q{i:03d}", "question": q, "context": context,
                         "answers": [] if impossible else answers, "is_impossible": impossible,
                         "title": f"sotu-{start}"})
    return examples


def squad_json(examples, version, only_answerable=False):
    data = []
    for ex in examples:
        if only_answerable and ex["is_impossible"]:
            continue
        qa = {"id": ex["id"], "question": ex["question"], "answers": ex["answers"]}
        if version == "v2.0":
            qa["is_impossible"] = ex["is_impossible"]
            if ex["is_impossible"]:
                qa["plausible_answers"] = [{"text": ex["context"][:5], "answer_start": 0}]
        data.append({"title": ex["title"], "paragraphs": [{"context": ex["context"], "qas": [qa]}]})
    return {"version": version, "data": data}


def hf_rows(examples):
    return [{"id": ex["id"], "title": ex["title"], "question": ex["question"], "context": ex["context"],
             "answers": {"text": [a["text"] for a in ex["answers"]],
                         "answer_start": [a["answer_start"] for a in ex["answers"]]}} for ex in examples]


# ---- tokenizers ---------------------------------------------------------------------------

def make_tokenizers(out):
    toks = {"wordpiece": AutoTokenizer.from_pretrained(UNCASED)}
    corpora = {"emails": read_lines(os.path.join(DATA, "spamassassin_sample.txt")),
               "mixed": read_lines(os.path.join(DATA, "mixed.txt"))}
    text = train_text(corpora)
    work = os.path.join(out, "squad_tok_work")
    trained = {"roberta": roberta_dirs(work, text)["roberta"], "xlmr": unigram_dirs(work, text)["xlmr"]}
    for name, tok in trained.items():
        d = os.path.join(out, f"squad_tok_{name}")
        tok.save_pretrained(d)
        toks[name] = AutoTokenizer.from_pretrained(d)  # exactly what the directory holds
    return toks


# ---- run_qa.py's features (its logic, rewritten) -------------------------------------------

def tokenize(tok, rows, max_length, stride, context_first):
    questions = [r["question"].lstrip() for r in rows]
    contexts = [r["context"] for r in rows]
    return tok(contexts if context_first else questions, questions if context_first else contexts,
               truncation="only_first" if context_first else "only_second", max_length=max_length, stride=stride,
               return_overflowing_tokens=True, return_offsets_mapping=True, return_token_type_ids=True,
               padding=False)


def train_labels(tok, enc, rows, context_first):
    """prepare_train_features' start/end positions."""
    starts, ends = [], []
    ctx = 0 if context_first else 1
    for i, offsets in enumerate(enc["offset_mapping"]):
        input_ids = enc["input_ids"][i]
        if tok.cls_token_id in input_ids:
            cls_index = input_ids.index(tok.cls_token_id)
        elif tok.bos_token_id in input_ids:
            cls_index = input_ids.index(tok.bos_token_id)
        else:
            cls_index = 0
        sequence_ids = enc.sequence_ids(i)
        answers = rows[enc["overflow_to_sample_mapping"][i]]["answers"]
        if len(answers["answer_start"]) == 0:
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        ts = 0
        while sequence_ids[ts] != ctx:
            ts += 1
        te = len(input_ids) - 1
        while sequence_ids[te] != ctx:
            te -= 1
        if not (offsets[ts][0] <= start_char and offsets[te][1] >= end_char):
            starts.append(cls_index)
            ends.append(cls_index)
        else:
            while ts < len(offsets) and offsets[ts][0] <= start_char:
                ts += 1
            starts.append(ts - 1)
            while offsets[te][1] >= end_char:
                te -= 1
            ends.append(te + 1)
    return starts, ends


def features_ref(tok, rows, setting):
    max_length, stride, context_first = SETTINGS[setting]
    enc = tokenize(tok, rows, max_length, stride, context_first)
    starts, ends = train_labels(tok, enc, rows, context_first)
    flat = collections.defaultdict(list)
    for i in range(len(enc["input_ids"])):
        flat["len"].append(len(enc["input_ids"][i]))
        flat["ids"] += enc["input_ids"][i]
        flat["type_ids"] += enc["token_type_ids"][i]
        flat["seq"] += [-1 if s is None else s for s in enc.sequence_ids(i)]
        flat["word"] += [-1 if w is None else w for w in enc.word_ids(i)]
        flat["char_start"] += [o[0] for o in enc["offset_mapping"][i]]
        flat["char_end"] += [o[1] for o in enc["offset_mapping"][i]]
    flat["example"] = list(enc["overflow_to_sample_mapping"])
    flat["start_positions"], flat["end_positions"] = starts, ends
    # tokenizers gives the windows after the first of a TemplateProcessing tokenizer the cut input's sequence
    # index as type id, not the template's (0 for XLM-R, whose model has one type and is never given type ids)
    post = json.loads(tok.backend_tokenizer.to_str())["post_processor"]
    flat["types_first_window_only"] = post is not None and post["type"] == "TemplateProcessing" and any(
        p.get("Sequence", {}).get("type_id", -1) != (0 if p.get("Sequence", {}).get("id") == "A" else 1)
        for p in post["pair"] if "Sequence" in p)
    crossing = sum(1 for i, s in enumerate(starts) if s == 0 and rows[flat["example"][i]]["answers"]["text"])
    # run_qa's quirk: an answer starting in a window's last context token is labelled on the special token after it
    quirk = sum(1 for i, s in enumerate(starts) if s > 0 and enc.sequence_ids(i)[s] is None)
    return dict(flat), enc, crossing, quirk


def validation_offsets(enc, context_first):
    """prepare_validation_features' offset_mapping: None outside the context."""
    ctx = 0 if context_first else 1
    return [[o if enc.sequence_ids(i)[k] == ctx else None for k, o in enumerate(enc["offset_mapping"][i])]
            for i in range(len(enc["input_ids"]))]


# ---- utils_qa.postprocess_qa_predictions (its logic, rewritten) ----------------------------

def postprocess(rows, feature_example, offsets, start_all, end_all, v2, n_best=20, max_len=30, threshold=0.0):
    per_example = collections.defaultdict(list)
    for i, ex in enumerate(feature_example):
        per_example[ex].append(i)
    preds, nbest_all, diffs = {}, {}, {}
    for ei, row in enumerate(rows):
        null = None
        prelim = []
        for fi in per_example[ei]:
            sl, el, om = start_all[fi], end_all[fi], offsets[fi]
            null_score = sl[0] + el[0]
            if null is None or null["score"] > null_score:
                null = {"offsets": (0, 0), "score": null_score, "start_logit": sl[0], "end_logit": el[0]}
            top_s = np.argsort(sl)[-1:-n_best - 1:-1].tolist()
            top_e = np.argsort(el)[-1:-n_best - 1:-1].tolist()
            for s in top_s:
                for e in top_e:
                    if s >= len(om) or e >= len(om) or om[s] is None or om[e] is None:
                        continue
                    if e < s or e - s + 1 > max_len:
                        continue
                    prelim.append({"offsets": (om[s][0], om[e][1]), "score": sl[s] + el[e],
                                   "start_logit": sl[s], "end_logit": el[e]})
        if v2:
            prelim.append(null)
            null_score = null["score"]
        preds_ex = sorted(prelim, key=lambda x: x["score"], reverse=True)[:n_best]
        if v2 and not any(p["offsets"] == (0, 0) for p in preds_ex):
            preds_ex.append(null)
        context = row["context"]
        for p in preds_ex:
            o = p.pop("offsets")
            p["text"] = context[o[0]:o[1]]
        if len(preds_ex) == 0 or (len(preds_ex) == 1 and preds_ex[0]["text"] == ""):
            preds_ex.insert(0, {"text": "empty", "start_logit": 0.0, "end_logit": 0.0, "score": 0.0})
        scores = np.array([p.pop("score") for p in preds_ex])
        exp = np.exp(scores - np.max(scores))
        probs = exp / exp.sum()
        for prob, p in zip(probs, preds_ex):
            p["probability"] = prob
        if not v2:
            preds[row["id"]] = preds_ex[0]["text"]
        else:
            i = 0
            while preds_ex[i]["text"] == "":
                i += 1
            best = preds_ex[i]
            diff = null_score - best["start_logit"] - best["end_logit"]
            diffs[row["id"]] = float(diff)
            preds[row["id"]] = "" if diff > threshold else best["text"]
        nbest_all[row["id"]] = [{k: (float(v) if isinstance(v, (np.float16, np.float32, np.float64)) else v)
                                 for k, v in p.items()} for p in preds_ex]
    return preds, nbest_all, diffs


def f32_list(a):
    """float32 values as the shortest decimals that read back exactly (9 digits)."""
    return [float(f"{x:.9g}") for x in np.asarray(a, dtype=np.float32)]


def post_cases(rows, fref, enc, setting, rng):
    context_first = SETTINGS[setting][2]
    offsets = validation_offsets(enc, context_first)
    lens = fref["len"]
    logits = [(rng.standard_normal(n).astype(np.float32) * 2, rng.standard_normal(n).astype(np.float32) * 2)
              for n in lens]
    for f, (s, e) in enumerate(logits):  # some features confident about an answer, some about the null
        ex = fref["example"][f]
        if f % 3 == 0 and rows[ex]["answers"]["text"]:
            k = int(rng.integers(0, n_ctx := max(1, lens[f] - 2)))
            s[1 + k % n_ctx] += 6
            e[min(lens[f] - 1, 1 + (k + int(rng.integers(0, 4))) % n_ctx)] += 6
        elif not rows[ex]["answers"]["text"]:  # every feature of an impossible question
            s[0] += 8
            e[0] += 8
        elif f % 3 == 1:
            s[0] += 5
            e[0] += 5
    max_length = SETTINGS[setting][0]
    padded = []
    for s, e in logits:
        pad = max_length - len(s)
        padded.append((np.concatenate([s, rng.standard_normal(pad).astype(np.float32) * 3]),
                       np.concatenate([e, rng.standard_normal(pad).astype(np.float32) * 3])))
    cases = {}
    for name, v2, thr, rows_logits, row_len in (("v1", False, 0.0, logits, 0), ("v2", True, 0.0, logits, 0),
                                                ("v2_thresh", True, 1.5, logits, 0),
                                                ("v2_padded", True, 0.0, padded, max_length)):
        st = [s for s, _ in rows_logits]
        en = [e for _, e in rows_logits]
        preds, nbest, diffs = postprocess(rows, fref["example"], offsets, st, en, v2, threshold=thr)
        cases[name] = {
            "v2": v2, "threshold": thr, "row_len": row_len,
            "start": f32_list(np.concatenate(st)), "end": f32_list(np.concatenate(en)),
            "predictions": [preds[r["id"]] for r in rows],
            "score_diff": [diffs.get(r["id"], None) for r in rows],
            "nbest": [nbest[r["id"]] for r in rows],
        }
    return cases


# ---- the question-answering pipeline (transformers 4.57's postprocess, rewritten) -----------

def pipeline_case(tok, rows, rng, max_seq_len, doc_stride, top_k, max_answer_len, impossible, align, null_boost=0):
    out = []
    for r in rows:
        enc = tok(r["question"], r["context"], truncation="only_second", max_length=max_seq_len, stride=doc_stride,
                  return_token_type_ids=True, return_overflowing_tokens=True, return_offsets_mapping=True,
                  return_special_tokens_mask=True)
        spans = len(enc["input_ids"])
        p_mask = [[int(s != 1) for s in enc.sequence_ids(j)] for j in range(spans)]
        for j in range(spans):
            for c in np.nonzero(np.array(enc["input_ids"][j]) == tok.cls_token_id)[0]:
                p_mask[j][c] = 0
        min_null = 1000000
        answers = []
        logits = []
        for j in range(spans):
            n = len(enc["input_ids"][j])
            start = (rng.standard_normal(n) * 2).astype(np.float32)[None]
            end = (rng.standard_normal(n) * 2).astype(np.float32)[None]
            start[0, 0] += null_boost
            end[0, 0] += null_boost
            logits.append((start[0], end[0]))
            attn = np.array(enc["attention_mask"][j])[None]
            pre_topk = top_k * 2 + 10 if align else top_k
            starts, ends, scores, min_null = select_starts_ends(start, end, p_mask[j], attn, min_null, pre_topk,
                                                                impossible, max_answer_len)
            e = enc[j]
            for s, t, score in zip(starts, ends, scores):
                if align:
                    try:
                        a = e.word_to_chars(e.token_to_word(s), sequence_index=1)[0]
                        b = e.word_to_chars(e.token_to_word(t), sequence_index=1)[1]
                    except Exception:
                        a, b = e.offsets[s][0], e.offsets[t][1]
                else:
                    a, b = e.offsets[s][0], e.offsets[t][1]
                target = r["context"][a:b]
                same = next((x for x in answers if x["answer"].lower() == target.lower()), None)
                if same:
                    same["score"] += score.item()
                else:
                    answers.append({"score": score.item(), "start": a, "end": b, "answer": target})
        if impossible:
            answers.append({"score": min_null, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
        out.append({"start": f32_list(np.concatenate([s for s, _ in logits])),
                    "end": f32_list(np.concatenate([e for _, e in logits])),
                    "spans": spans, "answers": answers})
    return {"max_seq_len": max_seq_len, "doc_stride": doc_stride, "top_k": top_k, "max_answer_len": max_answer_len,
            "handle_impossible_answer": impossible, "align_to_words": align, "questions": out}


# ---- the official SQuAD evaluation logic (evaluate-v1.1.py / evaluate-v2.0.py, rewritten) ---

def normalize_answer(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_v1(pred, gold):
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    same = sum((collections.Counter(p) & collections.Counter(g)).values())
    if same == 0:
        return 0
    precision, recall = 1.0 * same / len(p), 1.0 * same / len(g)
    return (2 * precision * recall) / (precision + recall)


def tokens_v2(s):
    return normalize_answer(s).split() if s else []


def f1_v2(gold, pred):
    g, p = tokens_v2(gold), tokens_v2(pred)
    same = sum((collections.Counter(g) & collections.Counter(p)).values())
    if len(g) == 0 or len(p) == 0:
        return int(g == p)
    if same == 0:
        return 0
    precision, recall = 1.0 * same / len(p), 1.0 * same / len(g)
    return (2 * precision * recall) / (precision + recall)


def exact(a, b):
    return int(normalize_answer(a) == normalize_answer(b))


def evaluate_v1(dataset, preds):
    em = f1 = total = 0
    for art in dataset:
        for par in art["paragraphs"]:
            for qa in par["qas"]:
                total += 1
                if qa["id"] not in preds:
                    continue
                golds = [a["text"] for a in qa["answers"]]
                em += max(bool(exact(preds[qa["id"]], g)) for g in golds)
                f1 += max(f1_v1(preds[qa["id"]], g) for g in golds)
    return {"exact": 100.0 * em / total, "f1": 100.0 * f1 / total, "total": total}


def evaluate_v2(dataset, preds, na_probs=None, thresh=1.0):
    has_ans = {}
    for art in dataset:
        for par in art["paragraphs"]:
            for qa in par["qas"]:
                has_ans[qa["id"]] = bool(qa["answers"])
    exact_raw, f1_raw = {}, {}
    for art in dataset:
        for par in art["paragraphs"]:
            for qa in par["qas"]:
                golds = [a["text"] for a in qa["answers"] if normalize_answer(a["text"])] or [""]
                exact_raw[qa["id"]] = max(exact(g, preds[qa["id"]]) for g in golds)
                f1_raw[qa["id"]] = max(f1_v2(g, preds[qa["id"]]) for g in golds)
    probs = na_probs if na_probs is not None else {k: 0.0 for k in preds}

    def thresholded(scores):
        return {k: float(not has_ans[k]) if probs[k] > thresh else s for k, s in scores.items()}

    ex_t, f1_t = thresholded(exact_raw), thresholded(f1_raw)

    def totals(ids):
        return {"exact": 100.0 * sum(ex_t[k] for k in ids) / len(ids), "f1": 100.0 * sum(f1_t[k] for k in ids) / len(ids),
                "total": len(ids)}

    out = {"exact": 100.0 * sum(ex_t.values()) / len(ex_t), "f1": 100.0 * sum(f1_t.values()) / len(f1_t),
           "total": len(ex_t)}
    for tag, want in (("HasAns", True), ("NoAns", False)):
        ids = [k for k, v in has_ans.items() if v == want]
        if ids:
            for key, v in totals(ids).items():
                out[f"{tag}_{key}"] = v
    if na_probs is not None:
        for name, raw in (("exact", exact_raw), ("f1", f1_raw)):
            score = best = sum(1 for k in has_ans if not has_ans[k])
            best_thresh = 0.0
            for k in sorted(probs, key=lambda q: probs[q]):
                if k not in raw:
                    continue
                diff = raw[k] if has_ans[k] else (-1 if preds[k] else 0)
                score += diff
                if score > best:
                    best, best_thresh = score, probs[k]
            out[f"best_{name}"] = 100.0 * best / len(raw)
            out[f"best_{name}_thresh"] = best_thresh
    return out


PAIR_TEXTS = [
    ("The Cat sat.", "the cat  sat"), ("a cat", "cat"), ("An apple", "the apple!"), ("Theory", "the ory"),
    ("", ""), ("", "something"), ("the", ""), ("a an the", ""), ("New York's", "new yorks"),
    ("ΟΔΥΣΣΕΥΣ", "οδυσσευς"), ("ΟΔΥΣΣΕΥΣ.", "οδυσσευσ"), ("ΣΑ", "σα"), ("Σ", "σ"), ("AΣ'A", "aς'a"),
    ("İstanbul", "i̇stanbul"), ("İstanbul", "istanbul"), ("Ｆｕｌｌ ｗｉｄｔｈ", "full width"),
    ("café\u00a0au\u2003lait", "café au lait"), ("x\u200by", "x y"), ("a\x1cb", "a b"), ("naïve-the a_b", "naïvethe a_b"),
    ("étéa", "été a"), ("the_the", "the the"), ("(the) [a] {an}", ""), ("3,000,000 florins", "3000000 florins"),
    ("cat cat dog", "cat dog dog"), ("$100 — 50%", "100 — 50"), ("東京 タワー", "東京タワー"), ("co\u0301operation", "cooperation"),
    ("Ⅻ th̃e ǅ", "ⅻ the ǆ"), ("\u0130\u0307", "i"), ("ǈa", "ǉa"), ("ΣΣ", "σς"), ("Σ\u0345A", "σ\u0345a"),
]


def random_text(rng, n):
    pools = [lambda: rng.choice(" aAtThHeEnN.,'!-_"), lambda: chr(rng.randrange(0x20, 0x7F)),
             lambda: chr(rng.randrange(0xA0, 0x250)), lambda: chr(rng.randrange(0x370, 0x530)),
             lambda: chr(rng.choice([0x3A3, 0x130, 0x345, 0x2019, 0xB7, 0x2028, 0x85, 0x1680, 0x3000, 0x1E9E, 0x1F88,
                                     0x10400, 0x1E900, 0x2160, 0x24B6, 0x10D50, 0x1C89, 0xA7CB])),
             lambda: chr(rng.randrange(0x300, 0x370)), lambda: chr(rng.randrange(0x1, 0x20)),
             lambda: chr(rng.randrange(0x2000, 0x2070)), lambda: chr(rng.randrange(0x10000, 0x30000))]
    s = "".join(rng.choice(pools)() for _ in range(n))
    return "".join(c for c in s if not (0xD800 <= ord(c) <= 0xDFFF) and c != "\0")


def metrics_ref(examples, preds_v2, rng):
    prng = random.Random(7)
    pairs = list(PAIR_TEXTS)
    for _ in range(300):
        a = random_text(prng, prng.randrange(0, 16))
        b = a if prng.random() < 0.2 else random_text(prng, prng.randrange(0, 16))
        pairs.append((a, b))
    pair_out = []
    for gold, pred in pairs:
        pair_out.append({"gold": gold, "pred": pred, "norm_gold": normalize_answer(gold),
                         "norm_pred": normalize_answer(pred), "exact": exact(gold, pred),
                         "f1_v1": f1_v1(pred, gold), "f1_v2": f1_v2(gold, pred)})
    v1_data = squad_json(examples, "1.1", only_answerable=True)["data"]
    v2_data = squad_json(examples, "v2.0")["data"]
    # predictions: the post-processed ones, some replaced by a gold answer, a variant or nothing
    preds = {}
    for ex, p in zip(examples, preds_v2):
        r = prng.random()
        if ex["answers"] and r < 0.3:
            p = prng.choice(ex["answers"])["text"]
        elif ex["answers"] and r < 0.4:
            p = "The " + ex["answers"][0]["text"].upper() + "!"
        elif r < 0.5:
            p = ""
        preds[ex["id"]] = p
    v1_preds = {k: v for k, v in preds.items() if k not in ("q000", "q004")}  # two unanswered: they count 0
    na = {ex["id"]: round(prng.random(), 2) for ex in examples}  # ties in the probabilities, as real ones have
    return {
        "pairs": pair_out,
        "v1": {"predictions": v1_preds, "scores": evaluate_v1(v1_data, v1_preds)},
        "v2": {"predictions": preds, "scores": evaluate_v2(v2_data, preds)},
        "v2_na": {"predictions": preds, "na_probs": na, "scores": evaluate_v2(v2_data, preds, na)},
        "v2_na_thresh": {"predictions": preds, "na_probs": na, "thresh": 0.5,
                         "scores": evaluate_v2(v2_data, preds, na, 0.5)},
    }


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(2024)
    examples = make_examples(rng)
    with open(os.path.join(out, "squad_synth.json"), "w", encoding="utf-8") as f:
        json.dump(squad_json(examples, "v2.0"), f, ensure_ascii=False)
    with open(os.path.join(out, "squad_synth_v1.json"), "w", encoding="utf-8") as f:
        json.dump(squad_json(examples, "1.1", only_answerable=True), f)
    rows = hf_rows(examples)
    with open(os.path.join(out, "squad_synth.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    toks = make_tokenizers(out)
    nrng = np.random.default_rng(99)
    ref = {"features": {}, "post": {}, "pipeline": {}}
    for name, tok in toks.items():
        ref["features"][name] = {}
        for setting in SETTINGS:
            fref, enc, crossing, quirk = features_ref(tok, rows, setting)
            ref["features"][name][setting] = fref
            print(f"  {name} {setting}: {len(fref['len'])} features, {crossing} answers outside their window, "
                  f"{quirk} labelled on a special token (run_qa's quirk)")
            if setting == "small":
                ref["post"][name] = post_cases(rows, fref, enc, setting, nrng)
        ref["pipeline"][name] = {
            "default": pipeline_case(tok, rows, nrng, 64, 16, 1, 15, False, True),
            "topk_null": pipeline_case(tok, rows, nrng, 64, 16, 3, 15, True, True),
            "no_align": pipeline_case(tok, rows, nrng, 96, 32, 2, 5, False, False),
            "null_wins": pipeline_case(tok, rows, nrng, 64, 16, 2, 15, True, True, null_boost=4),
        }
    ref["metrics"] = metrics_ref(examples, ref["post"]["wordpiece"]["v2"]["predictions"], nrng)
    with open(os.path.join(out, "squad_ref.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False)


if __name__ == "__main__":
    main()

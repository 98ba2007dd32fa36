#!/usr/bin/env python3
"""Subject-line pairs from a spam split (data/spam/*.jsonl: {"text": raw email, ...}).

For each email: the headers are parsed with the standard library's email module, the Subject is decoded
(email.header, RFC 2047 words, whitespace runs collapsed), and the body is the first text/plain part (or, when
there is none, the first part's payload) as text. Emails with an empty subject or an empty body are skipped.

Writes JSONL rows
  {"id", "prompt": body[:--body-chars] + SEPARATOR, "completion": " " + subject,
   "document": body[:--doc-chars] + SEPARATOR + " " + subject, "first_sentence": the body's first sentence}
The body is flattened to one line (whitespace runs as one space; verto generate reads a prompt a line), and
the separator is "\tSubject:". The prompt is a character cut of the body (default 600 characters, about 150-250 byte-level BPE tokens), so
that prompt + completion fit the demo model's 256 positions. "document" is the text the language model is
pretrained on (same layout, the body cut longer), "first_sentence" the extractive baseline.

Usage: lm_subject_pairs.py [--body-chars N] [--doc-chars N] [--limit N] IN.jsonl OUT.jsonl
"""
import argparse
import email
import email.header
import email.policy
import json
import os
import re
import sys

# verto generate reads one prompt a line, so the body is flattened to one line and the separator is a tab
SEPARATOR = "\tSubject:"


def decode_subject(raw):
    if raw is None:
        return ""
    try:
        parts = email.header.decode_header(str(raw))
        text = "".join(p.decode(c or "latin-1", errors="replace") if isinstance(p, bytes) else p for p, c in parts)
    except (LookupError, ValueError, email.errors.HeaderParseError):
        text = str(raw)
    return re.sub(r"\s+", " ", text).strip()


def body_text(msg):
    part = next((p for p in msg.walk() if p.get_content_type() == "text/plain"), None)
    if part is None:
        part = next((p for p in msg.walk() if not p.is_multipart()), msg)
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1", errors="replace")


def clean(text):
    """Every whitespace run (newlines included) as one space: one line per body."""
    return re.sub(r"\s+", " ", text).strip()


def first_sentence(body):
    m = re.search(r"[.!?](\s|$)", body)
    return (body[: m.start() + 1] if m else body)[:200]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--body-chars", type=int, default=600)
    ap.add_argument("--doc-chars", type=int, default=2000)
    ap.add_argument("--limit", type=int, default=0, help="keep at most N pairs (0: all)")
    a = ap.parse_args()
    rows, skipped = [], 0
    with open(a.input, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                text = rec["text"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                sys.exit(f"{a.input}:{lineno}: not a JSON object with a \"text\" string ({e})")
            msg = email.message_from_string(text, policy=email.policy.compat32)
            subject = decode_subject(msg["Subject"])
            body = clean(body_text(msg))
            if not subject or not body:
                skipped += 1
                continue
            rows.append({"id": rec.get("id", f"{os.path.basename(a.input)}:{lineno}"),
                         "prompt": body[: a.body_chars] + SEPARATOR,
                         "completion": " " + subject,
                         "document": body[: a.doc_chars] + SEPARATOR + " " + subject,
                         "first_sentence": first_sentence(body)})
            if a.limit and len(rows) == a.limit:
                break
    tmp = a.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for r in rows:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, a.output)
    print(f"{a.output}: {len(rows)} pairs ({skipped} emails without a subject or body skipped)")


if __name__ == "__main__":
    main()

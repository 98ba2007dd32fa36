#!/usr/bin/env python3
"""References for test_bpe_trainer.c and test_bpe_vocab_cli.sh: byte-level BPE
trained by tokenizers' ByteLevelBPETokenizer(add_prefix_space=False).train on a
mixed text, and its ids for held-out lines of the same kind.

Usage: gen_bpe_train.py OUT_DIR. Writes into OUT_DIR/bpe_train/:
  train.txt         the training text (~3000 lines of English, accents, CJK,
                    emoji with ZWJ sequences and modifiers, control characters,
                    tabs, long runs of spaces, blank lines, \\r\\n, digits,
                    punctuation, "<|endoftext|>" and contractions), UTF-8
  heldout.txt       400 more lines of the same kind, one per line (no '\\n' inside)
  bad_utf8.txt      three lines, the second with a lone continuation byte
  configs.txt       one line per configuration: NAME SIZE MIN_FREQUENCY SPECIALS
                    (SPECIALS comma-separated, "-" for none)
  NAME.json         tokenizer.json as ByteLevelBPETokenizer.save writes it
  NAME.ids          per held-out line, its ids (Tokenizer.encode(line).ids), space-separated
"""
import os
import random
import sys

from tokenizers import ByteLevelBPETokenizer, Tokenizer

CONFIGS = [  # name, vocab_size, min_frequency, special tokens
    ("small_f1", 600, 1, ["<|endoftext|>"]),
    ("large_f3", 2500, 3, ["<|endoftext|>", "<pad>"]),
    ("nospecial_f2", 1200, 2, []),
]

WORDS = ("the of and to in is was he for it with as his on be at by had are but from or have an they which one "
         "you were her all she there would their we him been has when who will more no if out so said what up its "
         "about into than them can only other new some could time these two may then do first any my now such like "
         "our over man me even most made after also did many before must through back years where much your way "
         "well down should because each just those people how too little state good very make world still own see "
         "men work long get here between both life being under never day same another know while last might us "
         "great old year off come since against go came right used take three").split()
ACCENTED = "café naïve résumé façade über Straße jalapeño São Paulo coöperate élan déjà vu Ångström Øresund".split()
CJK = ["中文", "日本語", "한국어", "漢字", "東京", "北京市", "こんにちは", "カタカナ", "세계", "你好世界"]
EMOJI = ["\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466",
         "\U0001F3F3\ufe0f\u200d\U0001F308", "\u2764\ufe0f", "\U0001F1EB\U0001F1F7", "\U0001F469\U0001F3FE\u200d\U0001F4BB",
         "\U0001F9D1\u200d\U0001F91D\u200d\U0001F9D1"]
PUNCT = list(".,;:!?-()[]{}\"'/\\@#$%^&*_+=<>|~`") + ["...", "--", "?!", "''", "``"]
CONTROL = ["\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\u0085", "\u00a0", "\u2028", "\u3000"]
CONTRACTIONS = ["don't", "it's", "we're", "I've", "you'll", "she'd", "I'm", "can't", "'s", "'ll"]


def piece(rng):
    r = rng.random()
    if r < 0.55:
        w = rng.choice(WORDS)
        return w.capitalize() if rng.random() < 0.1 else w.upper() if rng.random() < 0.02 else w
    if r < 0.62:
        return rng.choice(ACCENTED)
    if r < 0.68:
        return rng.choice(CJK)
    if r < 0.72:
        return rng.choice(EMOJI) * rng.choice([1, 1, 1, 2, 3])
    if r < 0.80:
        return rng.choice(PUNCT)
    if r < 0.86:
        return str(rng.randrange(0, 10 ** rng.randrange(1, 9)))
    if r < 0.89:
        return rng.choice(CONTRACTIONS)
    if r < 0.92:
        return rng.choice(CONTROL)
    if r < 0.93:
        return "<|endoftext|>"
    return rng.choice(WORDS) + rng.choice(PUNCT)


def separator(rng):
    r = rng.random()
    if r < 0.80:
        return " "
    if r < 0.86:
        return ""
    if r < 0.90:
        return "\t"
    if r < 0.95:
        return " " * rng.randrange(2, 40)
    return rng.choice(["\t \t", " \u00a0", "\r", " \t  "])


def line(rng):
    r = rng.random()
    if r < 0.04:
        return ""
    if r < 0.06:
        return " " * rng.randrange(1, 60)
    out = [" " * rng.randrange(0, 5) if rng.random() < 0.1 else ""]
    for i in range(rng.randrange(1, 25)):
        if i:
            out.append(separator(rng))
        out.append(piece(rng))
    if rng.random() < 0.05:
        out.append("\r")
    if rng.random() < 0.05:
        out.append(" " * rng.randrange(1, 10))
    return "".join(out)


def main():
    out = os.path.join(sys.argv[1], "bpe_train")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(21)
    train = [line(rng) for _ in range(3000)]
    heldout = [line(rng) for _ in range(400)]
    path = os.path.join(out, "train.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(train) + "\n\n\n")  # blank lines at the end too
    with open(os.path.join(out, "heldout.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(heldout) + "\n")
    with open(os.path.join(out, "bad_utf8.txt"), "wb") as f:
        f.write(b"good line\nbad \x80 byte\nthird\n")
    with open(os.path.join(out, "configs.txt"), "w") as f:
        for name, size, min_freq, specials in CONFIGS:
            f.write(f"{name} {size} {min_freq} {','.join(specials) or '-'}\n")
            t = ByteLevelBPETokenizer(add_prefix_space=False)
            t.train([path], vocab_size=size, min_frequency=min_freq, special_tokens=specials, show_progress=False)
            t.save(os.path.join(out, name + ".json"))
            loaded = Tokenizer.from_file(os.path.join(out, name + ".json"))
            with open(os.path.join(out, name + ".ids"), "w") as g:
                for text in heldout:
                    g.write(" ".join(str(i) for i in loaded.encode(text).ids) + "\n")


if __name__ == "__main__":
    main()

"""What the Python peers (peer_torch.py, peer_onnx.py) share: thread limits,
the model configurations, synthetic inputs shaped like the C benchmarks',
summary statistics, peak memory and the versions of every peer library.

Importing this module limits torch to `threads` threads only when
limit_threads() is called, before any work (torch reads OMP_NUM_THREADS at
import, so bench/run.py also sets it in the environment)."""
import importlib
import platform
import resource
import statistics

# The sizes bench/pretrain_bench.c and bench/infer_bench.c take from
# vt_bert_config_preset (intermediate = 4 x hidden; the rest BertConfig's
# defaults: dropout 0.1, GELU, 512 positions, 2 token types).
PRESETS = {"tiny": (2, 128, 2), "mini": (4, 256, 4), "small": (4, 512, 8), "medium": (8, 512, 8), "base": (12, 768, 12)}
VOCAB = 30522
CLS_ID, SEP_ID, MASK_ID, FIRST_WORD_ID = 101, 102, 103, 1000


def limit_threads(threads):
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


def bert_config(preset, **extra):
    from transformers import BertConfig
    layers, hidden, heads = PRESETS[preset]
    return BertConfig(vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      intermediate_size=4 * hidden, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                      **extra)


def pretraining_batch(batch, seq_len, masked, vocab, gen):
    """[CLS] A [SEP] B [SEP] of random ids, `masked` positions per row set to
    [MASK] with their id as label (-100 elsewhere), random NSP labels: the
    layout of bench/pretrain_bench.c's batches."""
    import torch
    ids = torch.randint(FIRST_WORD_ID, vocab, (batch, seq_len), generator=gen)
    sep1 = seq_len // 2 - 1
    ids[:, 0] = CLS_ID
    ids[:, sep1] = SEP_ID
    ids[:, seq_len - 1] = SEP_ID
    types = torch.zeros_like(ids)
    types[:, sep1 + 1:] = 1
    labels = torch.full_like(ids, -100)
    candidates = torch.tensor([t for t in range(seq_len) if t not in (0, sep1, seq_len - 1)])
    for r in range(batch):
        pos = candidates[torch.randperm(len(candidates), generator=gen)[:masked]]
        labels[r, pos] = ids[r, pos]
        ids[r, pos] = MASK_ID
    nsp = torch.randint(0, 2, (batch,), generator=gen)
    return ids, types, torch.ones_like(ids), labels, nsp


def random_ids(batch, seq_len, vocab, seed=11):
    import torch
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(FIRST_WORD_ID, vocab, (batch, seq_len), generator=gen)


def infer_result(system, args, config, secs, **extra):
    """The JSON line of an inference measurement (infer_bench.c's schema):
    the model's shape from any family's config (DistilBERT's hidden_dim is
    the intermediate size) and the statistics of the forwards' seconds."""
    return {"bench": "infer", "system": system, "model": args.name or args.model, **extra,
            "batch": args.batch, "seq_len": args.seq_len, "layers": config.num_hidden_layers,
            "hidden": config.hidden_size,
            "intermediate": getattr(config, "intermediate_size", None) or config.hidden_dim, "seconds": secs,
            "ms_per_batch": stats([1e3 * s for s in secs]), "sequences_per_s": stats([args.batch / s for s in secs])}


def stats(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def rss_now_mib():
    """Resident set size now; taken before the model exists, what the libraries alone cost."""
    import os
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def versions():
    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers", "numpy", "onnx", "onnxruntime"):
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = None
    return out

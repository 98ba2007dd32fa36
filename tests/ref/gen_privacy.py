#!/usr/bin/env python3
"""Reference privacy accounting from Opacus 1.6 for tests/unit/test_privacy.c.

Usage: gen_privacy.py OUT_DIR  -> OUT_DIR/privacy.json

{
  "orders":    RDPAccountant.DEFAULT_ALPHAS,
  "epsilon":   [{"noise", "rate", "steps", "delta", "epsilon", "best_order"}]
               RDPAccountant with history [(noise, rate, steps)], get_privacy_spent(delta):
               the grid noise 0.5..10 x rate 1e-4..0.5 x steps 1..100,000 x delta 1e-8..1e-3,
               plus the special cases rate 1 (the plain Gaussian), noise 0 (no privacy) and rate 0;
  "histories": [{"steps": [[noise, rate], ...] one per step() call, "delta", "epsilon", "best_order",
                 "history": [[noise, rate, steps], ...] the accountant's merged history}],
  "rdp":       [{"noise", "rate", "order", "rdp"}] analysis.rdp.compute_rdp(steps=1) at single orders,
  "noise":     [{"epsilon", "delta", "rate", "steps", "tolerance", "noise_multiplier"}]
               get_noise_multiplier(accountant="rdp"); "noise_multiplier" is null and "error" holds
               Opacus' message where it raises (a budget too low).
}
Infinite ε is written as null (JSON has no infinity), as is a NaN best order.
"""
import json
import math
import sys
import warnings
from pathlib import Path

try:
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis import rdp as rdp_analysis
    from opacus.accountants.utils import get_noise_multiplier
except ImportError:
    sys.exit("gen_privacy.py needs opacus: pip install opacus")

NOISES = [0.5, 0.7, 1.0, 1.3, 2.0, 4.0, 10.0]
RATES = [1e-4, 1e-3, 0.004, 0.01, 0.05, 0.2, 0.5]
STEPS = [1, 10, 100, 1000, 10000, 100000]
DELTAS = [1e-8, 1e-5, 1e-3]


def finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def spent(history, delta):
    acc = RDPAccountant()
    acc.history = list(history)
    eps, order = acc.get_privacy_spent(delta=delta)
    return finite_or_none(eps), finite_or_none(order)


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")  # "optimal order is the largest alpha" (the test checks verto flags it)

    cases = []
    grid = [(s, q, n, d) for s in NOISES for q in RATES for n in STEPS for d in DELTAS]
    special = ([(s, 1.0, n, 1e-5) for s in (0.5, 1.0, 4.0) for n in (1, 100)]
               + [(0.0, q, n, 1e-5) for q in (0.01, 1.0) for n in (1, 1000)]
               + [(s, 0.0, 1000, 1e-5) for s in (0.0, 1.0)])
    # RDPAccountant.get_privacy_spent computes compute_rdp(steps=n), which is the one-step RDP times n,
    # then get_privacy_spent: the one-step RDP of each (noise, rate) is computed once and reused (the
    # bits are the same; every 150th case is checked against the accountant itself).
    one_step = {}
    orders = RDPAccountant.DEFAULT_ALPHAS
    for i, (s, q, n, d) in enumerate(grid + special):
        if (s, q) not in one_step:
            one_step[(s, q)] = rdp_analysis.compute_rdp(q=q, noise_multiplier=s, steps=1, orders=orders)
        eps, order = rdp_analysis.get_privacy_spent(orders=orders, rdp=one_step[(s, q)] * n, delta=d)
        eps, order = finite_or_none(eps), finite_or_none(order)
        if i % 150 == 0:
            assert (eps, order) == spent([(s, q, n)], d), (s, q, n, d)
        cases.append({"noise": s, "rate": q, "steps": n, "delta": d, "epsilon": eps, "best_order": order})

    # step() one call at a time, with (noise, rate) changing as a schedule might change them
    histories = []
    for calls, d in [([(1.0, 0.01)] * 5 + [(2.0, 0.01)] * 3 + [(1.0, 0.01)] * 2, 1e-5),
                     ([(0.8, 0.02)] * 40 + [(0.8, 0.05)] * 10 + [(1.5, 0.05)], 1e-6),
                     ([(3.0, 0.5), (0.6, 0.001), (3.0, 0.5)] * 4, 1e-4)]:
        acc = RDPAccountant()
        for s, q in calls:
            acc.step(noise_multiplier=s, sample_rate=q)
        eps, order = acc.get_privacy_spent(delta=d)
        histories.append({"steps": [list(c) for c in calls], "delta": d, "epsilon": finite_or_none(eps),
                          "best_order": finite_or_none(order), "history": [list(h) for h in acc.history]})

    rdps = []
    for s, q in [(0.5, 0.01), (1.0, 1e-4), (1.0, 0.3), (4.0, 0.5), (10.0, 0.001), (0.7, 0.9)]:
        for a in [1.1, 1.5, 2.0, 2.5, 3.7, 8.0, 10.9, 32.0, 63.0]:
            r = rdp_analysis.compute_rdp(q=q, noise_multiplier=s, steps=1, orders=a)
            rdps.append({"noise": s, "rate": q, "order": a, "rdp": finite_or_none(r)})

    noise = []
    for e in [0.5, 1.0, 8.0]:
        for q in [0.001, 0.01, 0.1]:
            for n in [100, 10000]:
                noise.append((e, 1e-5, q, n, 0.01))
    noise += [(2.0, 1e-6, 0.05, 500, 0.001), (8.0, 1e-3, 1.0, 10, 0.1), (0.01, 1e-5, 0.5, 100000, 0.01)]
    solved = []
    for e, d, q, n, tol in noise:
        row = {"epsilon": e, "delta": d, "rate": q, "steps": n, "tolerance": tol}
        try:
            row["noise_multiplier"] = float(get_noise_multiplier(target_epsilon=e, target_delta=d, sample_rate=q,
                                                                 steps=n, accountant="rdp", epsilon_tolerance=tol))
        except ValueError as err:
            row["noise_multiplier"] = None
            row["error"] = str(err)
        solved.append(row)

    ref = {"orders": [float(a) for a in RDPAccountant.DEFAULT_ALPHAS], "epsilon": cases, "histories": histories,
           "rdp": rdps, "noise": solved}
    (out_dir / "privacy.json").write_text(json.dumps(ref))
    print(f"gen_privacy: {len(cases)} epsilons, {len(histories)} histories, {len(rdps)} RDP values, "
          f"{len(solved)} noise multipliers -> {out_dir / 'privacy.json'}")


if __name__ == "__main__":
    main()

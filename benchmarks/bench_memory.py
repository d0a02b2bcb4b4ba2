"""Peak memory of the uncertainty analysis as N grows (issue 15: memory must not grow with N).

Run:  .venv/bin/python benchmarks/bench_memory.py [--units 10000] [--indicators 100]
                                                  [--n 10000 50000]

Reference workload (synthetic, seed 0): U units × K indicators (default 10,000 × 100) in a
4-level framework (Index → 2 dimensions → 10 sub-dimensions → 10 indicators each; every 4th
indicator has direction −1), log-normal values with 5 % of cells missing; method min-max
[1, 100], arithmetic mean; uncertainty space of 4 assumptions: normalisation (min-max [1, 100]
| rank), aggregation (arithmetic | geometric), weight noise ±25 % at levels 2–3 (1,000 pre-drawn
sets), leave one sub-dimension out (11 alternatives). Each N runs ``uncertainty_analysis`` in
a fresh process (serial runner) and reports its peak resident set size (``ru_maxrss``) and the
wall time. Pass: peak RSS < 1 GiB at the first N, and the last N's peak within 10 % of it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPACE = {"name": "bench_memory", "assumptions": {
    "normalisation": {"path": "normalisation",
                      "values": [{"method": "minmax", "range": [1, 100]}, {"method": "rank"}]},
    "aggregation": {"path": "aggregation.method", "values": ["arithmetic", "geometric"]},
    "weights": {"noise": {"levels": [2, 3], "factor": 0.25, "n_sets": 1000}},
    "drop": {"leave_one_out": {"level": 2}},
}}


def workload(n_units: int, n_indicators: int):
    """(IndexResult, UncertaintySpace) of the reference workload."""
    import numpy as np
    import pandas as pd

    from cityindex.model import MethodSpec, compute_index, from_frame
    from cityindex.model.bayes.simulate import framework_of_shape
    from cityindex.validation.space import UncertaintySpace

    per_sub = n_indicators // 10
    fw = framework_of_shape({"D1": [per_sub] * 5, "D2": [per_sub] * 5})
    rng = np.random.default_rng(0)
    X = rng.lognormal(0.0, 1.0, size=(n_units, len(fw.indicators)))
    X[rng.random(X.shape) < 0.05] = np.nan
    units = [f"U{i:05d}" for i in range(n_units)]
    data = from_frame(pd.DataFrame(X, index=units, columns=fw.indicators), fw)
    method = MethodSpec.from_dict({"normalisation": {"method": "minmax", "range": [1, 100]}})
    result = compute_index(fw, data, method)
    return result, UncertaintySpace.from_dict(SPACE, result.framework, method)


def child(n_units: int, n_indicators: int, n: int) -> None:
    """One measurement (in its own process): prints a JSON line."""
    import resource

    from cityindex.validation.uncertainty import uncertainty_analysis

    t0 = time.perf_counter()
    result, space = workload(n_units, n_indicators)
    rss_setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t1 = time.perf_counter()
    res = uncertainty_analysis(result, space, n=n, seed=0)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"n": n, "units": n_units, "indicators": n_indicators,
                      "peak_rss_bytes": peak, "setup_rss_bytes": rss_setup,
                      "setup_s": round(t1 - t0, 1), "analysis_s": round(t2 - t1, 1),
                      "mean_abs_rank_shift": res.figures["mean_abs_rank_shift"],
                      "kept_ranks": res.n_kept}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=10_000)
    ap.add_argument("--indicators", type=int, default=100)
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.units, args.indicators, args.n[0])
        return
    rows = []
    for n in args.n:
        out = subprocess.run([sys.executable, __file__, "--child", "--units", str(args.units),
                              "--indicators", str(args.indicators), "--n", str(n)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"N = {n:>7,}: peak RSS {row['peak_rss_bytes'] / 2**30:.3f} GiB "
              f"(after building the workload {row['setup_rss_bytes'] / 2**30:.3f} GiB), "
              f"analysis {row['analysis_s']} s, setup {row['setup_s']} s", flush=True)
    first, last = rows[0]["peak_rss_bytes"], rows[-1]["peak_rss_bytes"]
    growth = last / first - 1
    print(f"{args.units:,} units × {args.indicators} indicators: peak RSS "
          f"{first / 2**30:.3f} GiB at N = {rows[0]['n']:,} (limit 1 GiB: "
          f"{'pass' if first < 2**30 else 'FAIL'}), {last / 2**30:.3f} GiB at N = "
          f"{rows[-1]['n']:,}: {growth:+.1%} (limit ±10 %: "
          f"{'pass' if abs(growth) <= 0.10 else 'FAIL'})")


if __name__ == "__main__":
    main()

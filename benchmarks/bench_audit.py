"""Time the audit, stage by stage, on the bundled data (issue 20).

    .venv/bin/python benchmarks/bench_audit.py [--quick-only] [--repeat 1] [--csv out.csv]

Runs the whole command ``cityindex audit`` and ``cityindex audit --quick`` (both indices, all
defaults) as separate processes, and prints each one's wall time (the whole process, imports
included) with the per-stage times the audit records in results.json (the Bayesian fit runs in a
background process beside the other stages, so its time overlaps theirs). A fixed numpy
reference workload is timed in the same run, so figures from different machines can be compared
as ratios (stage time / reference time).

Targets (2 cores): full audit ≤ 30 s, ``--quick`` ≤ 10 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "cityindex"


def reference_workload() -> float:
    """Seconds for a fixed numpy workload: 20 products of 600 × 600 matrices and a sort of 5
    million floats (single-threaded BLAS is not forced: it measures the machine as used)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(600, 600))
    x = rng.normal(size=5_000_000)
    t0 = time.perf_counter()
    for _ in range(20):
        a = a @ a
        a /= np.abs(a).max()
    np.sort(x)
    return time.perf_counter() - t0


def run_audit(quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        args = [str(CLI), "audit", "--quiet", "--out", str(out)] + (["--quick"] if quick else [])
        t0 = time.perf_counter()
        res = subprocess.run(args, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if res.returncode not in (0,):
            raise SystemExit(f"audit failed ({res.returncode}): {res.stderr[-2000:]}")
        timings = json.loads((out / "manifest.json").read_text()).get("timings", {})
    stages = {k: v.get("stages", {}) for k, v in timings.get("indices", {}).items()}
    return {"wall_s": wall, "stages": stages, "total_s": timings.get("total_s")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick-only", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--csv", type=Path)
    opt = ap.parse_args()
    ref = min(reference_workload() for _ in range(3))
    print(f"reference workload: {ref:.2f} s (best of 3)")
    rows = []
    for quick in ([True] if opt.quick_only else [True, False]):
        for r in range(opt.repeat):
            out = run_audit(quick)
            mode = "quick" if quick else "full"
            print(f"\n{mode} audit, run {r + 1}: whole process {out['wall_s']:.1f} s "
                  f"({out['wall_s'] / ref:.1f} × reference); audit total {out['total_s']} s")
            for index, st in out["stages"].items():
                for stage, sec in st.items():
                    print(f"  {index:<6} {stage:<24} {sec:6.2f} s")
                    rows.append((mode, r, index, stage, sec))
            rows.append((mode, r, "", "whole process", round(out["wall_s"], 2)))
    rows.append(("", 0, "", "reference workload", round(ref, 3)))
    if opt.csv:
        import csv

        with opt.csv.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["mode", "run", "index", "stage", "seconds"])
            w.writerows(rows)


if __name__ == "__main__":
    main()

"""Speed of the uncertainty/sensitivity engine on the COINr ASEM design (issue 9 targets).

Run:  .venv/bin/python benchmarks/bench_uncertainty.py [--n 100000] [--loop 60]

Prints replications per second of (a) the vectorised engine at N replications, serial and with
2 joblib workers, (b) the same design through a plain loop calling ``compute_index`` once per
replication (the COINr way; timed on --loop replications), their ratio, (c) the whole CLI process
(start-up included) at N, and (d) a Sobol analysis with base N = 4,096 (24,576 runs).
Targets: ≥ 50,000 replications/s engine; CLI < 5 s at N = 100,000; Sobol N = 4,096 < 2 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cityindex.model import Framework, MethodSpec, compute_index, read_data  # noqa: E402
from cityindex.validation.engine import JoblibRunner, prepare, run_replications  # noqa: E402
from cityindex.validation.sobol import SobolProblem, sample_uniform  # noqa: E402
from cityindex.validation.space import UncertaintySpace  # noqa: E402
from cityindex.validation.uncertainty import sensitivity_analysis  # noqa: E402

ASEM = ROOT / "tests" / "data" / "coinr_asem"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--loop", type=int, default=60)
    args = ap.parse_args()
    fw = Framework.load(ASEM / "asem_imeta.csv")
    method = MethodSpec.load(ROOT / "data" / "methods" / "asem.yaml")
    data = read_data(ASEM / "asem_idata.csv", fw)
    space = UncertaintySpace.load(ROOT / "data" / "spaces" / "coinr_asem.yaml", fw, method)

    t = time.perf_counter()
    p = prepare(compute_index(fw, data, method), space, seed=0)
    t_prep = time.perf_counter() - t
    problem = SobolProblem(space.names, space.levels)
    L = problem.map_levels(sample_uniform(problem, args.n, seed=0, method="random"))
    run_replications(p, L[:2000])  # warm-up
    t = time.perf_counter()
    serial = run_replications(p, L)["index"]
    t_serial = time.perf_counter() - t
    runner = JoblibRunner(2)
    run_replications(p, L[:4000], runner)  # start the worker pool
    t = time.perf_counter()
    parallel = run_replications(p, L, runner)["index"]
    t_par = time.perf_counter() - t
    assert np.array_equal(serial, parallel)

    # the plain way: one full pipeline rebuild per replication
    specs = []
    for row in L[: args.loop]:
        spec = method
        for a, lv in zip(space.assumptions, row):
            if a.kind == "path":
                spec = spec.replace(a.path, a.values[lv])
        specs.append((spec, row))
    noise = next(t for j, kind, t in p.weight_factors)
    t = time.perf_counter()
    for spec, row in specs:
        w = {c: fw.nodes[c].weight * noise[row[2], i] for i, c in enumerate(p.nodes)
             if c != fw.root}
        compute_index(fw.with_weights(w), data, spec).index_ranks
    t_loop = (time.perf_counter() - t) / args.loop

    t = time.perf_counter()
    subprocess.run([str(ROOT / ".venv" / "bin" / "cityindex"), "uncertainty", "-f",
                    str(ASEM / "asem_imeta.csv"), "-d", str(ASEM / "asem_idata.csv"), "-m",
                    str(ROOT / "data" / "methods" / "asem.yaml"), "-s",
                    str(ROOT / "data" / "spaces" / "coinr_asem.yaml"), "--n", str(args.n),
                    "--jobs", "1", "-o", "/tmp/cityindex_bench_ua"], check=True,
                   capture_output=True)
    t_cli = time.perf_counter() - t

    t = time.perf_counter()
    sa = sensitivity_analysis(compute_index(fw, data, method), space, n=4096, seed=0, n_boot=200,
                              per_unit=True, prepared=p)
    t_sa = time.perf_counter() - t

    print(f"prepare (10 normalised alternatives through compute_index): {t_prep:.2f} s")
    print(f"engine serial:    {args.n / t_serial:,.0f} replications/s ({t_serial:.2f} s for {args.n:,})")
    print(f"engine 2 workers: {args.n / t_par:,.0f} replications/s ({t_par:.2f} s)")
    print(f"plain loop over compute_index: {1 / t_loop:,.1f} replications/s "
          f"({t_loop * 1000:.0f} ms each)")
    print(f"ratio engine (best) / plain loop: {max(args.n / t_serial, args.n / t_par) * t_loop:,.0f}x")
    print(f"CLI whole process, N = {args.n:,}: {t_cli:.2f} s")
    print(f"Sobol N = 4,096 ({sa.n_runs:,} runs, 52 outputs, 200 bootstrap): {t_sa:.2f} s")


if __name__ == "__main__":
    main()

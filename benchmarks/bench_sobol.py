"""Timing benchmark for validation.sobol.analyze (the variance-based sensitivity estimator).

Run:  .venv/bin/python benchmarks/bench_sobol.py [--n 4096] [--d 4] [--outputs 513]
                                                  [--resamples 1000] [--repeats 7]
      .venv/bin/python benchmarks/bench_sobol.py --coverage [--designs 200] [--replicates 16]

``--coverage``: Ishigami (a = 7, b = 0.1; S1 = 0.3139, 0.4424, 0; ST = 0.5576, 0.4424, 0.2437)
at N = 1,024 base rows, 200 independent designs: coverage of the 90 % intervals of the
analytic values, mean interval width beside 2 × 1.645 × the SD of the estimates across designs
(the width an interval with the true SE would have), for (a) the default intervals, R = 16
independent randomisations of 64 rows with t intervals (Owen 1997), and (b) the former
percentile bootstrap of the 1,024 rows of one scrambled design (1,000 resamples), and the dummy
factor's floor.

Shape of the JRC-style audit of the GDCI: N = 4,096 base rows, d = 4 factors (weights noise,
normalisation {2 levels}, winmax {5 levels}, aggregation {2 levels}) -> N(d+2) = 24,576 runs,
513 outputs (the rank of every city), 1,000 bootstrap resamples of the base rows, 95% percentile
intervals. The outputs are synthetic ranks (argsort of a factor-dependent score), so some cities
never move (zero-variance outputs) as in a real run. Reports best and median wall time of
analyze() alone (the model evaluations are not timed), plus its CPU time summed over BLAS
threads (more stable than wall time on a shared machine), for the float32 (default) and float64
bootstrap products. The bootstrap is one (R x N) @ (N x (2 + 2d) m) count-matrix product, about
2e10 multiply-adds at this shape, which dominates the time.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

from cityindex.validation.sobol import SensitivityWarning, SobolProblem, analyze, saltelli_design


def synthetic_ranks(design, n_units: int, seed: int = 0) -> np.ndarray:
    """(N(d+2), n_units) ranks of units whose scores depend on the factors (with interactions)."""
    rng = np.random.default_rng(seed)
    X = design.matrix()
    base = np.sort(rng.normal(size=n_units))[::-1] * 3.0  # well-separated leaders, crowded middle
    load = rng.normal(size=(X.shape[1], n_units))
    score = base + (X - 0.5) @ load * 0.5 + 0.3 * (X[:, :1] - 0.5) * (X[:, 1:2] - 0.5) @ load[:1]
    score[:, :3] = base[:3]  # three units whose rank never changes
    score[:, :3] += 100.0
    return np.argsort(np.argsort(-score, axis=1), axis=1).astype(float) + 1.0


def ishigami(U, a=7.0, b=0.1):
    X = -np.pi + 2.0 * np.pi * U
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


ISHIGAMI_S1 = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])


def coverage(designs: int, replicates: int, n: int = 1024, level: float = 0.90) -> None:
    problem = SobolProblem(["x1", "x2", "x3"])
    print(f"Ishigami, N = {n}, {designs} independent designs, {level:.0%} intervals")
    for label, R, kw in ((f"{replicates} independent randomisations (t)", replicates, {}),
                         ("one design, bootstrap of rows (1,000)", 1,
                          dict(n_resamples=1000, interval="bootstrap"))):
        t0 = time.perf_counter()
        out = {k: [] for k in ("S1", "S1_lo", "S1_hi", "ST", "ST_lo", "ST_hi", "d1", "dt")}
        for s in range(designs):
            des = saltelli_design(problem, n, seed=10_000 + s, replicates=R)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SensitivityWarning)
                r = analyze(des, ishigami(des.matrix()), conf_level=level, seed=s, **kw)
            for k in ("S1", "S1_lo", "S1_hi", "ST", "ST_lo", "ST_hi"):
                out[k].append(getattr(r, k)[0])
            out["d1"].append(r.dummy_S1_hi[0])
            out["dt"].append(r.dummy_ST_hi[0])
        o = {k: np.array(v) for k, v in out.items()}
        print(f"  {label}  ({time.perf_counter() - t0:.1f} s)")
        for idx, truth in (("S1", ISHIGAMI_S1), ("ST", ISHIGAMI_ST)):
            cov = ((o[f"{idx}_lo"] <= truth) & (truth <= o[f"{idx}_hi"])).mean(axis=0)
            width = (o[f"{idx}_hi"] - o[f"{idx}_lo"]).mean(axis=0)
            ideal = 2 * 1.6449 * o[idx].std(axis=0, ddof=1)
            for i in range(3):
                print(f"    {idx} x{i + 1}: truth {truth[i]:.4f}  mean {o[idx][:, i].mean():.4f}  "
                      f"coverage {cov[i]:.3f}  mean width {width[i]:.4f}  "
                      f"2·1.645·SD(estimates) {ideal[i]:.4f}  ratio {width[i] / ideal[i]:.2f}")
        print(f"    dummy floor (mean upper bound): S1 {o['d1'].mean():.4f}, ST {o['dt'].mean():.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coverage", action="store_true")
    ap.add_argument("--designs", type=int, default=200)
    ap.add_argument("--replicates", type=int, default=16)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--d", type=int, default=4)
    ap.add_argument("--outputs", type=int, default=513)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    if a.coverage:
        coverage(a.designs, a.replicates)
        return

    levels = ([None, 2, 5, 2] + [None] * a.d)[: a.d]
    problem = SobolProblem([f"f{i}" for i in range(a.d)], levels)
    design = saltelli_design(problem, a.n, seed=1)
    Y = synthetic_ranks(design, a.outputs)
    print(f"analyze(): N={a.n}, d={a.d}, runs={design.n_runs}, outputs={a.outputs}, "
          f"resamples={a.resamples}, repeats={a.repeats}")
    for dtype in (np.float32, np.float64):
        times, cpu = [], []
        for _ in range(a.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SensitivityWarning)
                res = analyze(design, Y, n_resamples=a.resamples, seed=2, boot_dtype=dtype)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        print(f"  boot_dtype={dtype.__name__:8s} wall best {min(times):.3f} s, "
              f"median {statistics.median(times):.3f} s; CPU (all threads) median "
              f"{statistics.median(cpu):.3f} s")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SensitivityWarning)
        analyze(design, Y, n_resamples=0)
    print(f"  point estimates only (no bootstrap): {time.perf_counter() - t0:.3f} s")
    print(f"  constant outputs: {int(res.constant.sum())}; flags: {res.flag_counts()}")


if __name__ == "__main__":
    main()

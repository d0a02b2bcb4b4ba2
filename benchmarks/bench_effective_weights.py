"""Effective weights (correlation ratio): timing on the bundled indices and coverage of the BCa
intervals by simulation.

Run:  .venv/bin/python benchmarks/bench_effective_weights.py [--sims 400] [--boot 1000]

1. Wall time of ``effective_weights`` with 1,000 bootstrap resamples (BCa) on the observed
   GDCI and BRPCI tables (every indicator and aggregate on its parent and on the index).
2. Coverage of the 90 % BCa and percentile intervals of the correlation ratio, n = 513 units
   (the panel's size), in two cases with a known value:
   * linear-Gaussian, y = ρx + √(1−ρ²)ε: S = ρ² (ρ = 0.6 → 0.36);
   * nonlinear, x ~ U(−1, 1), y = x² + σε: S = V(x²)/(V(x²) + σ²) = (4/45)/(4/45 + σ²)
     (σ = 0.2 → 0.690).
   Prints the hit rate, the mean interval width and the SD of the estimates across data sets,
   and the share of data sets where the estimate falls outside its own interval.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cityindex.validation.effective_weights import correlation_ratio


def timing(n_boot: int) -> None:
    import cityindex as ci
    from cityindex.model.availability import observed_aggregated
    from cityindex.validation.effective_weights import effective_weights

    for fw in ("gdci", "brpci"):
        r = ci.compute(fw)
        O = observed_aggregated(r)
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            ew = effective_weights(r.framework, O, n_boot=n_boot, seed=0)
            ts.append(time.perf_counter() - t0)
        print(f"{fw}: {len(ew.table)} (component, target) pairs, {O.shape[0]} units, "
              f"{n_boot} resamples: best {min(ts):.2f} s, median {np.median(ts):.2f} s")


def coverage(case: str, sims: int, n_boot: int, n: int = 513, level: float = 0.90) -> None:
    rng = np.random.default_rng(20261202)
    if case == "linear":
        truth = 0.36
    else:
        truth = (4 / 45) / (4 / 45 + 0.04)
    for interval in ("bca", "percentile"):
        hits, widths, est, outside = 0, [], [], 0
        rng = np.random.default_rng(20261202)
        for s in range(sims):
            if case == "linear":
                x = rng.normal(size=n)
                y = 0.6 * x + 0.8 * rng.normal(size=n)
            else:
                x = rng.uniform(-1, 1, n)
                y = x ** 2 + 0.2 * rng.normal(size=n)
            r = correlation_ratio(x, y, n_boot=n_boot, seed=s, level=level, interval=interval)
            hits += r["lo"] <= truth <= r["hi"]
            outside += not (r["lo"] <= r["S"] <= r["hi"])
            widths.append(r["hi"] - r["lo"])
            est.append(r["S"])
        est = np.array(est)
        print(f"{case:9s} {interval:10s} truth {truth:.3f}: coverage {hits / sims:.3f} "
              f"({sims} data sets; binomial SE {np.sqrt(level * (1 - level) / sims):.3f}); "
              f"mean width {np.mean(widths):.3f} vs 2·1.645·SD(estimates) "
              f"{2 * 1.645 * est.std(ddof=1):.3f}; mean estimate {est.mean():.3f}; "
              f"estimate outside own interval {outside}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=400)
    ap.add_argument("--boot", type=int, default=1000)
    a = ap.parse_args()
    timing(a.boot)
    for case in ("linear", "nonlinear"):
        coverage(case, a.sims, a.boot)


if __name__ == "__main__":
    main()

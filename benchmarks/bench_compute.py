"""Time compute_index on a synthetic 513 units × 60 indicators index.

3-level tree (60 indicators → 10 dimensions → 3 networks → index), ~5 % missing cells, COINr
treatment, group-median imputation by subregion, min-max [0, 100], arithmetic mean.
Run: .venv/bin/python benchmarks/bench_compute.py [repeats]
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

from cityindex.model import Framework, MethodSpec, Node, compute_index
from cityindex.model.data import from_frame


def synthetic(n_units: int = 513, n_ind: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    nodes = [Node("Index", level=4)]
    nodes += [Node(f"N{k}", parent="Index", level=3) for k in range(3)]
    nodes += [Node(f"D{d}", parent=f"N{d % 3}", level=2) for d in range(10)]
    nodes += [Node(f"x{i:02d}", parent=f"D{i % 10}", level=1, direction=1 if i % 4 else -1,
                   weight=float(1 + i % 3)) for i in range(n_ind)]
    fw = Framework(nodes)
    # skewed counts and normal-ish scores, ~5 % missing
    X = np.where(np.arange(n_ind) % 2 == 0, rng.lognormal(1.0, 1.5, (n_units, n_ind)),
                 rng.normal(50, 10, (n_units, n_ind)))
    X[rng.random(X.shape) < 0.05] = np.nan
    units = pd.Index([f"C{u:04d}" for u in range(n_units)], name="uCode")
    df = pd.DataFrame(X, index=units, columns=[f"x{i:02d}" for i in range(n_ind)])
    meta = pd.DataFrame({"subregion": [f"R{u % 17}" for u in range(n_units)]}, index=units)
    spec = MethodSpec.from_dict({
        "imputation": {"method": "group_median", "group": "subregion"},
        "screening": {"min_availability": 0.0},
        "treatment": {"method": "coinr", "winmax": 5, "skew": 2.0, "kurtosis": 3.5},
        "normalisation": {"method": "minmax", "range": [0, 100]},
        "aggregation": {"method": "arithmetic"}})
    return fw, from_frame(df, fw, meta=meta), spec


def main(repeats: int = 5) -> float:
    fw, data, spec = synthetic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compute_index(fw, data, spec)  # warm-up (imports, caches)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = compute_index(fw, data, spec)
            times.append(time.perf_counter() - t0)
    best, med = min(times), float(np.median(times))
    n_treated = int((r.treatment["action"] != "none").sum())
    print(f"compute_index 513 units x 60 indicators (3 aggregate levels, "
          f"{int(data.values.isna().sum().sum())} missing cells, {n_treated} treated): "
          f"best {best * 1000:.1f} ms, median {med * 1000:.1f} ms over {repeats} runs")
    return med


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

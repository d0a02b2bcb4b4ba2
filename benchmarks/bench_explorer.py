"""Explorer and one-at-a-time scenarios: how long they take (issue 18).

    .venv/bin/python benchmarks/bench_explorer.py [--units 10000]

Prints, for a synthetic index of ``--units`` units (tests/explorer_synth.py: 12 indicators,
3 dimensions): the light audit the page needs (uncertainty N = 200 with node ranks, Sobol base
N = 16), building the page's data from the audit's views, writing explorer.html, its size; and
the one-at-a-time scenarios of the bundled GDCI over the default space (21 scenarios read from
the prepared alternatives). The page's times in a browser (first render, filter) are measured
by tests/test_explorer_browser.py::test_ten_thousand_units.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=10_000)
    args = ap.parse_args()

    import explorer_synth as S

    import cityindex as ci
    from cityindex.report.explorer import explorer_data, render_explorer
    from cityindex.validation.scenarios import one_at_a_time

    t = time.perf_counter()
    r = S.result(args.units)
    t_compute = time.perf_counter() - t
    t = time.perf_counter()
    a = ci.audit(r, space=S.space(r), light=True, quick=True, n_ua=200, n_sa=16, seed=0)
    t_audit = time.perf_counter() - t
    t = time.perf_counter()
    data = explorer_data(a)
    t_data = time.perf_counter() - t
    t = time.perf_counter()
    page = render_explorer(data)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "explorer.html").write_text(page, encoding="utf-8")
    t_write = time.perf_counter() - t
    print(f"{args.units} synthetic units: compute {t_compute:.2f} s, light audit "
          f"{t_audit:.2f} s, explorer data {t_data:.2f} s, page {t_write:.2f} s "
          f"({len(page.encode()) / 1e6:.1f} MB)")

    g = ci.compute("gdci")
    p = ci.prepare(g, "default")
    t = time.perf_counter()
    sc = one_at_a_time(p, g)
    print(f"GDCI one-at-a-time scenarios: {len(sc.table)} rows in "
          f"{time.perf_counter() - t:.2f} s (no pipeline run)")


if __name__ == "__main__":
    main()

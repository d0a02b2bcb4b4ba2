"""One validation path, as a property: whatever ``validate`` accepts (cityindex.checking), the
index (compute), the space builder, the preparation of every alternative and the audit's
uncertainty and sensitivity stages accept too; whatever it refuses, it refuses with a one-line
input error (CityIndexError), never another exception. Inputs are mutations of a small index of
the test's own making (missing cells, whole missing columns or units, zeros and negatives, a
constant column, a group column or none, flat or two pillars, any weights, any method)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

from cityindex.checking import check_inputs
from cityindex.model import Framework, MethodSpec
from cityindex.model.data import from_frame
from cityindex.model.errors import CityIndexError

INDS = ["eco_0", "eco_1", "eco_2", "eco_3", "soc_0", "soc_1", "soc_2", "soc_3"]
N = 24


def base_table(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.DataFrame(rng.gamma(2.0, 10.0, (N, len(INDS))).round(2), columns=INDS,
                     index=pd.Index([f"U{i:02d}" for i in range(N)], name="uCode"))
    return t


@st.composite
def inputs(draw):
    t = base_table(draw(st.integers(0, 3)))
    cells = draw(st.lists(st.tuples(st.integers(0, N - 1), st.integers(0, len(INDS) - 1)),
                          max_size=40))
    for i, j in cells:
        t.iat[i, j] = np.nan
    if draw(st.booleans()):                       # a whole unit missing
        t.iloc[draw(st.integers(0, N - 1))] = np.nan
    if draw(st.integers(0, 9)) == 0:              # a whole indicator missing
        t[draw(st.sampled_from(INDS))] = np.nan
    if draw(st.integers(0, 9)) == 0:              # a constant indicator
        t[draw(st.sampled_from(INDS))] = 5.0
    if draw(st.integers(0, 2)) == 0:              # zeros, negatives, an outlier
        for i, j, v in draw(st.lists(st.tuples(st.integers(0, N - 1),
                                               st.integers(0, len(INDS) - 1),
                                               st.sampled_from([0.0, -3.0, 1e6])),
                                     max_size=4)):
            t.iat[i, j] = v
    meta = None
    if draw(st.integers(0, 3)) > 0:
        meta = pd.DataFrame({"region": draw(st.lists(st.sampled_from(["A", "B", "C", None]),
                                                     min_size=N, max_size=N))},
                            index=t.index)
    flat = draw(st.booleans())
    w = draw(st.tuples(st.floats(0.05, 5), st.floats(0.05, 5)))
    nodes = [{"code": "IDX", "level": 2 if flat else 3}]
    if flat:
        nodes += [{"code": c, "parent": "IDX", "level": 1} for c in INDS]
    else:
        nodes += [{"code": "ECO", "parent": "IDX", "level": 2, "weight": w[0]},
                  {"code": "SOC", "parent": "IDX", "level": 2, "weight": w[1]}]
        nodes += [{"code": c, "parent": "ECO" if c.startswith("eco") else "SOC", "level": 1,
                   "direction": draw(st.sampled_from([1, -1]))} for c in INDS]
    imp = draw(st.sampled_from([{"method": "none"}, {"method": "median"}, {"method": "mean"},
                                {"method": "group_median", "group": "region",
                                 "fallback": "median"},
                                {"method": "group_mean", "group": "region"}]))
    method = {"imputation": imp,
              "treatment": draw(st.sampled_from([{"method": "none"}, {"method": "coinr"},
                                                 {"method": "none"}, {"method": "log"}])),
              "normalisation": draw(st.sampled_from([{"method": "minmax", "range": [0, 100]},
                                                     {"method": "minmax", "range": [1, 100]},
                                                     {"method": "zscore"},
                                                     {"method": "rank"}])),
              "aggregation": draw(st.sampled_from([{"method": "arithmetic"},
                                                   {"method": "geometric"}])),
              "screening": {"min_availability": draw(st.sampled_from([0.0, 0.5, 0.9]))}}
    return t, meta, nodes, method


def _build(t, meta, nodes, method):
    fw = Framework.from_dict({"nodes": nodes}, origin="user.yaml")
    return fw, from_frame(t, fw, meta=meta), MethodSpec.from_dict(method)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(inputs())
def test_what_validate_accepts_compute_space_and_audit_accept(case):
    from cityindex.auditing import audit
    from cityindex.model import compute_index
    from cityindex.validation.engine import prepare
    from cityindex.validation.space import load_space

    try:
        inp = _build(*case)
        check = check_inputs(inp)
    except CityIndexError as exc:               # refused: one line, an input error
        assert "\n" not in str(exc)
        return
    # accepted: the commands' own steps accept the same inputs
    result = compute_index(*inp)
    space = load_space(None, result)
    assert space.built and [a.name for a in space.assumptions] == check.space.names
    prepare(result, space)
    a = audit(result, quick=True, light=True, bayes=False, n_ua=16, n_sa=4)
    assert not any(a.failed.values()), {k: v.status for k, v in a.indices.items()}

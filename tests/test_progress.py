"""Progress of long steps by sub-step with counts (issue 18): the weight audit, the preparation of
the alternatives, the measurement-error draws, and the audit's stage bars."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest

from cityindex.model.progress import counted, report

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"


@pytest.fixture(scope="module")
def asem():
    import cityindex as ci

    return ci.compute(str(ASEM / "asem_imeta.csv"), str(ASEM / "asem_idata.csv"),
                      method="asem")


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, step, done, total):
        self.calls.append((step, done, total))

    def last(self) -> "OrderedDict[str, tuple[int, int]]":
        out = OrderedDict()
        for s, d, t in self.calls:
            out[s] = (d, t)
        return out

    def monotone(self) -> bool:
        seen = {}
        for s, d, t in self.calls:
            if d < seen.get(s, 0) or d > t:
                return False
            seen[s] = d
        return True


def test_helpers():
    rec = Recorder()
    report(None, "x", 1, 2)          # no callback: nothing
    tick = counted(rec, "step", 3)
    tick()
    tick(2)
    assert rec.calls == [("step", 0, 3), ("step", 1, 3), ("step", 3, 3)]


def test_weight_audit_reports_every_sub_step(asem):
    from cityindex.validation.weight_audit import weight_audit

    rec = Recorder()
    wa = weight_audit(asem, loo=True, n_boot=2, bod=True, progress=rec)
    last = rec.last()
    steps = list(last)
    assert steps[0].startswith("coherence")
    assert any(s.startswith("effective weights") for s in steps)
    assert "PCA, factor and optimised weights" in steps
    assert any(s.startswith("benefit of the doubt") for s in steps)
    assert steps[-1] == "leave-one-out rebuilds"
    # every sub-step ends complete, counts never go back
    assert all(d == t for d, t in last.values()), last
    assert rec.monotone()
    assert last["leave-one-out rebuilds"][1] == len(wa.loo)
    n = len(asem.scores)
    assert last[f"benefit of the doubt ({n} linear programmes)"] == (n, n)


def test_prepare_and_measurement_draws_report_pipeline_runs(asem):
    from cityindex.validation.engine import prepare
    from cityindex.validation.measurement import measurement_score_draws

    rec = Recorder()
    p = prepare(asem, "coinr_asem", seed=0, progress=rec)
    assert rec.last() == {"alternatives prepared": (len(p.Z), len(p.Z))}
    assert [d for _, d, _ in rec.calls] == list(range(len(p.Z) + 1))
    rec = Recorder()
    measurement_score_draws(asem, sd=0.05, draws=7, seed=0, progress=rec)
    # the 7 perturbed data sets go through the pipeline as one batch
    assert rec.calls == [("alternatives prepared", 0, 7), ("alternatives prepared", 7, 7)]


def test_audit_stage_handle_shows_sub_steps(asem):
    """The audit's stage handle: advance(k) and step(label, done, total) on one bar; the
    weights and rank-set stages use step."""
    from cityindex.auditing import IndexAudit, _Stages

    a = IndexAudit(asem, None)
    with _Stages(show=False) as st:
        seen = []

        def fn(adv):
            adv.step("leave-one-out rebuilds", 3, 10)
            task = st.progress.tasks[-1]
            seen.append((task.description, task.completed, task.total))
            adv(2)
            return "done"

        assert st.run(a, "weights", fn, label="coherence & weights") == "done"
    assert seen == [("Index: coherence & weights · leave-one-out rebuilds", 3, 10)]
    task = st.progress.tasks[-1]
    assert task.description == "Index: coherence & weights" and task.completed == task.total
    assert a.status["weights"].ok

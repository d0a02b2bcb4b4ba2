"""One validation path: every input check that ``compute``, ``uncertainty`` and ``audit`` run,
and a plain account of what they will do with the inputs.

:func:`check_inputs` takes validated inputs (framework, data, method: :class:`~cityindex.cli.
common.Inputs` or a triple) and runs, in order, what the commands run before any long work:
the deterministic index (:func:`cityindex.model.compute_index`: screening, imputation,
treatment, normalisation, aggregation, ranking), the uncertainty space the audit would use
(:func:`cityindex.validation.space.load_space`: the given one, the bundled default of a bundled
framework, or the one built from the framework and data) and the preparation of every
alternative of that space (:func:`cityindex.validation.engine.prepare`: each alternative is run
through the pipeline once). Inputs it accepts are accepted by those commands; it raises the
same :class:`~cityindex.model.errors.CityIndexError` they would.

The returned :class:`InputCheck` also holds the plausibility checks of the data
(:mod:`cityindex.model.datachecks`, warnings only) and :meth:`InputCheck.lines` says what will
happen: the method in force and where it came from, the weights as used (normalised within
each parent), the cells imputed and left missing, the indicators treated, the units screened
out and the units that will not be ranked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class InputCheck:
    """What :func:`check_inputs` found: the nominal result, the space, the data checks."""

    result: Any
    space: Any
    method_source: str = ""
    data_checks: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def framework(self):
        return self.result.framework

    def weight_lines(self) -> list[str]:
        """One line per parent: each child's weight as written → as used (its share of the
        parent's total over the children that have data)."""
        fw = self.result.framework
        nw = fw.normalised_weights()
        out = []
        for parent in dict.fromkeys([fw.root, *fw.aggregates]):
            kids = fw.children(parent)
            if not kids:
                continue
            ws = [fw.nodes[k].weight for k in kids]
            total = sum(ws)
            parts = [f"{k} {fw.nodes[k].weight:g} → {nw[k]:.3f}" for k in kids]
            note = ("" if abs(total - 1) < 1e-9 or len(set(ws)) == 1
                    else f" (written weights sum to {total:g}, used as shares)")
            out.append(f"  {parent}{note}: " + ", ".join(parts))
        return out

    def lines(self, max_items: int = 10) -> list[str]:
        """What the commands will do with these inputs, line by line."""
        r, fw = self.result, self.result.framework
        data = r.data
        ind = data.values[fw.indicators]
        miss = ind.isna()
        out = [f"framework {fw.origin or fw.name}: index {fw.root}, {len(fw.indicators)} "
               f"indicators, {len(fw.aggregates)} aggregates, levels 1..{fw.max_level}"
               + (f"; no open indicator: {', '.join(fw.empty_aggregates)}"
                  if fw.empty_aggregates else ""),
               f"data {data.source}: {len(data.units)} units, {int(miss.to_numpy().sum())} "
               f"missing cells ({100 * miss.to_numpy().mean():.1f}%), sha256 "
               f"{data.sha256[:12]}…"]
        m = r.method
        out.append(f"method in force: {self.method_source or m.origin or 'built-in defaults'}")
        st = m.stages
        out.append("  " + "; ".join(
            f"{s}: " + " ".join([str(st[s].get('method', ''))] + [
                f"{k}={v}" for k, v in st[s].items() if k != "method"]).strip()
            for s in ("screening", "imputation", "treatment", "normalisation", "aggregation")))
        ov = m.overrides if hasattr(m, "overrides") else {}
        n_ov = sum(len(v or {}) for v in (ov or {}).values()) if isinstance(ov, dict) else 0
        if n_ov:
            out.append(f"  overrides: {n_ov} level/node override(s)")
        if m.weights:
            out.append(f"  the method replaces the weights of {', '.join(m.weights)}")
        out.append("weights as used (relative within each parent: written → share of the "
                   "parent):")
        out.extend(self.weight_lines())
        kept = r.imputed.index
        before = r.denominated.loc[kept].isna()
        after = r.imputed.isna()
        imputed = before & r.imputed.notna()
        left = int((before & after).to_numpy().sum())
        per = imputed.sum()
        per = per[per > 0]
        out.append(f"imputation ({st['imputation'].get('method')}): "
                   f"{int(imputed.to_numpy().sum())} cells will be imputed"
                   + (" (" + ", ".join(f"{k} {int(v)}" for k, v in per.items()) + ")"
                      if len(per) else "")
                   + f"; {left} left missing (aggregated over the observed children)")
        tr = r.treatment
        treated = tr[tr["action"] != "none"]
        out.append(f"treatment: {len(treated)} indicators treated"
                   + (" (" + ", ".join(f"{k}: {v}" for k, v in treated["action"].items()) + ")"
                      if len(treated) else ""))
        out_units = list(r.screening.index[~r.screening["kept"]])
        out.append(f"screening: {len(out_units)} units screened out"
                   + (": " + _some(out_units, max_items) if out_units else ""))
        nr = r.availability.not_ranked()
        codes = list(nr["unit"]) if "unit" in getattr(nr, "columns", []) else list(
            getattr(nr, "index", []))
        out.append(f"ranking: {r.availability.counts_line()}"
                   + (f"; not ranked: {_some(codes, max_items)}" if codes else ""))
        sp = self.space
        src = ("built from the framework and data (written to the run folder as space.yaml)"
               if sp.built else sp.origin)
        out.append(f"uncertainty space: {src}: {len(sp.assumptions)} assumptions ("
                   + ", ".join(f"{a.name}×{a.n_levels}" for a in sp.assumptions)
                   + "), every alternative ran through the pipeline")
        from cityindex.model.datachecks import describe

        dc = self.data_checks
        out.append(f"data checks: {len(dc)} warning(s)" + (" (no value was changed):"
                                                          if len(dc) else ""))
        out.extend("  " + line for line in describe(dc, 20))
        return out


def _some(items: list, n: int) -> str:
    return ", ".join(map(str, items[:n])) + (f" … ({len(items)} in all)" if len(items) > n
                                              else "")


def check_inputs(inputs, space=None, seed: int | None = None, method_source: str = ""
                 ) -> InputCheck:
    """Run every input check of compute, uncertainty and audit (see the module docstring).

    Parameters
    ----------
    inputs : (framework, data, method), e.g. :class:`cityindex.cli.common.Inputs` (whose
        ``method_source`` is used when ``method_source`` is not given).
    space : as ``--space``: a YAML path, a bundled space's name or None (the default space).
    seed : the seed of the space's pre-drawn sets (default: the method's).

    Returns
    -------
    InputCheck

    Raises
    ------
    CityIndexError (FrameworkError, DataError, MethodError) as the commands would.
    """
    from cityindex.model import compute_index
    from cityindex.model.datachecks import check_data
    from cityindex.validation.engine import prepare
    from cityindex.validation.space import load_space

    fw, data, method = tuple(inputs)
    result = compute_index(fw, data, method)
    sp = load_space(space, result)
    prepare(result, sp, seed)  # every alternative must run through the pipeline
    return InputCheck(result, sp, method_source or getattr(inputs, "method_source", ""),
                      check_data(result.data, result.framework, result.method))

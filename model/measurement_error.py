"""The measurement-error model of the indicator values, per indicator.

Each indicator's observed values carry an error with a standard error (SE) that is either
**relative** (``x·(1 + ε)``, ε ~ N(0, se²): a share of the value; zeros stay zero) or
**absolute** (``x + ε``, ε ~ N(0, se²), se in the indicator's unit). Where it comes from, in
order of precedence:

1. the method's ``measurement_error.indicators.<code>`` (an analyst's assumption for this run);
2. the framework node's ``error: {kind, se}`` (what the data source states);
3. the method's ``measurement_error: {kind, se}`` default for every other indicator;
4. the built-in assumption, a relative SE of 10 % (:data:`BUILTIN_SE`) — no source states the
   errors of the bundled open proxies, so this is an assumption and every output that uses it
   says so.

Imputed cells are not perturbed by this model: they are drawn from their imputation
distribution instead (one completed data set of a multiple imputation per draw,
:mod:`.multiple_imputation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import MethodError
from .summary import Result, Summary, json_safe

BUILTIN_KIND = "relative"
BUILTIN_SE = 0.10


@dataclass(repr=False)
class ErrorModel(Result):
    """Per-indicator error model. ``table``: one row per indicator (index: code) with ``kind``
    ("relative"/"absolute"), ``se`` and ``source`` ("method indicator", "framework", "method
    default", "built-in assumption")."""

    table: pd.DataFrame

    @property
    def indicators(self) -> list[str]:
        return list(self.table.index)

    @property
    def is_builtin(self) -> bool:
        """Whether every indicator uses the built-in assumption."""
        return bool((self.table["source"] == "built-in assumption").all())

    def describe(self) -> str:
        """One sentence stating the model (and that it is an assumption where it is one)."""
        t = self.table
        groups = []
        for (kind, se, src), sub in t.groupby(["kind", "se", "source"], sort=False):
            who = ("every indicator value" if len(sub) == len(t) else
                   f"the values of {len(sub)} indicator(s): {', '.join(sub.index[:6])}"
                   + (" …" if len(sub) > 6 else ""))
            what = (f"{se:.0%} multiplicative measurement error in {who} (relative SE; {src})"
                    if kind == "relative" else
                    f"additive measurement error of SE {se:g} in {who} (absolute SE, in the "
                    f"indicator's unit; {src})")
            groups.append(what)
        out = "; ".join(groups)
        if (t["source"] == "built-in assumption").any():
            out += (" — the built-in SE is an assumption (no source states these errors); set "
                    "framework node 'error' or method 'measurement_error' to replace it")
        return out

    def perturb(self, values: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """One draw of ``values`` (units × columns ⊇ the model's indicators) with every
        indicator perturbed by its error; other columns and missing cells are unchanged."""
        out = values.copy()
        cols = [c for c in self.indicators if c in out.columns]
        out[cols] = self.perturb_array(out[cols].to_numpy(dtype=float), rng, cols)
        return out

    def perturb_array(self, X: np.ndarray, rng: np.random.Generator,
                      columns: list[str] | None = None) -> np.ndarray:
        """One draw of ``X`` (units × indicators, in ``columns`` order, default the model's):
        relative x·(1 + ε) or absolute x + ε, ε ~ N(0, se²) per value; NaN stays NaN."""
        t = self.table.loc[columns or self.indicators]
        X = np.asarray(X, dtype=float)
        eps = rng.standard_normal(X.shape) * t["se"].to_numpy(float)
        rel = (t["kind"] == "relative").to_numpy()
        return np.where(rel, X * (1.0 + eps), X + eps)

    def to_frame(self) -> pd.DataFrame:
        return self.table.rename_axis("indicator").reset_index()

    def to_dict(self) -> dict:
        return json_safe({"description": self.describe(), "table": self.to_frame()})

    def summary(self) -> Summary:
        s = Summary("Measurement-error model")
        s.add_text(self.describe() + ".")
        s.add_table(self.to_frame(), max_rows=None)
        return s

    def _repr_lines(self):
        return [self.describe()[:120]]


def error_model(framework, method=None, override: float | None = None) -> ErrorModel:
    """The per-indicator error model of ``framework`` under ``method`` (see the module
    docstring). ``override``: a relative SE for every indicator (e.g. ``--sd`` on the command
    line), replacing all the sources.

    Raises
    ------
    MethodError for an indicator named in ``measurement_error.indicators`` that the framework
    lacks.
    """
    sect = dict(method.stages.get("measurement_error", {})) if method is not None else {}
    per = dict(sect.get("indicators") or {})
    unknown = sorted(set(per) - set(framework.indicators))
    if unknown:
        raise MethodError(f"measurement_error.indicators: unknown indicator(s) {unknown}")
    rows = {}
    for code in framework.indicators:
        if override is not None:
            rows[code] = ("relative", float(override), "given for this run")
        elif code in per:
            e = per[code]
            rows[code] = (e.get("kind", "relative"), float(e["se"]), "method indicator")
        elif framework.nodes[code].error is not None:
            kind, se = framework.nodes[code].error
            rows[code] = (kind, float(se), "framework")
        elif sect.get("se") is not None:
            rows[code] = (sect.get("kind", BUILTIN_KIND), float(sect["se"]), "method default")
        else:
            rows[code] = (BUILTIN_KIND, BUILTIN_SE, "built-in assumption")
    t = pd.DataFrame.from_dict(rows, orient="index", columns=["kind", "se", "source"])
    return ErrorModel(t)

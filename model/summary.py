"""The results protocol shared by every result object of cityindex.

Every result (an :class:`~cityindex.model.pipeline.IndexResult`, a coherence table, an
uncertainty analysis, rank sets, a comparison, the whole audit) offers the same four views, after
statsmodels' results classes and ArviZ's one-container-many-views:

* ``summary()`` → :class:`Summary`: a title, short text lines and small tables, rendered with
  ``as_text()`` (fixed-width, for a terminal) or ``as_html()`` (escaped, for a report or a
  notebook);
* ``to_frame()`` → a tidy :class:`pandas.DataFrame` (one row per unit, node, factor, …);
* ``to_dict()`` → a JSON-safe dict (numbers, strings, lists, dicts; NaN as None);
* ``repr()`` → a few lines naming what the object holds, never a dump of its tables.

:class:`Result` is the mixin that gives ``__repr__`` from ``_repr_lines()`` and ``to_dict()`` from
``to_frame()`` by default; subclasses implement ``summary`` and ``to_frame``.
"""

from __future__ import annotations

import html as _html
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd


def json_safe(obj: Any) -> Any:
    """``obj`` with numpy/pandas scalars, arrays, Series and DataFrames turned into plain JSON
    types (NaN and NA become None; DataFrames become lists of records)."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, pd.DataFrame):
        return [json_safe(r) for r in obj.to_dict("records")]
    if isinstance(obj, pd.Series):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [json_safe(v) for v in obj.tolist()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in obj]
    if obj is pd.NA or obj is pd.NaT:
        return None
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return json_safe(obj.to_dict())
    return str(obj)


def _fmt(v: Any, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}" if abs(int(v)) >= 10_000 else str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        return f"{v:.{digits}f}" if abs(v) >= 10 ** -digits or v == 0 else f"{v:.{digits}g}"
    return str(v)


@dataclass
class _Table:
    frame: pd.DataFrame
    title: str = ""
    digits: int = 3
    max_rows: int | None = 20


@dataclass
class Summary:
    """A titled report of text lines and small tables (statsmodels' ``Summary`` convention).

    Build with :meth:`add_text`, :meth:`add_table`, :meth:`add_dict`; render with
    :meth:`as_text` or :meth:`as_html`. ``str(summary)`` is ``as_text()``; in a notebook the
    HTML is shown.
    """

    title: str
    blocks: list = field(default_factory=list)

    def add_text(self, *lines: str) -> "Summary":
        """Add one or more lines of plain text (escaped in HTML)."""
        self.blocks.extend(str(x) for x in lines if x)
        return self

    def add_table(self, frame: pd.DataFrame, title: str = "", digits: int = 3,
                  max_rows: int | None = 20) -> "Summary":
        """Add a table (its first ``max_rows`` rows are shown; ``None`` shows all)."""
        self.blocks.append(_Table(frame.reset_index(drop=True), title, digits, max_rows))
        return self

    def add_dict(self, values: Mapping[str, Any], title: str = "", digits: int = 3
                 ) -> "Summary":
        """Add key-value pairs as a two-column table."""
        frame = pd.DataFrame({"": list(values), "value": list(values.values())})
        return self.add_table(frame, title, digits, None)

    # ------------------------------------------------------------------ rendering
    def _cells(self, t: _Table) -> tuple[list[str], list[list[str]], int]:
        df = t.frame if t.max_rows is None else t.frame.head(t.max_rows)
        head = [str(c) for c in df.columns]
        rows = [[_fmt(v, t.digits) for v in r] for r in df.itertuples(index=False)]
        return head, rows, len(t.frame) - len(df)

    def as_text(self) -> str:
        """Fixed-width text."""
        out = [self.title, "=" * len(self.title)]
        for b in self.blocks:
            if isinstance(b, str):
                out.append(b)
                continue
            head, rows, more = self._cells(b)
            if b.title:
                out += ["", b.title]
            widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                      for i, h in enumerate(head)]
            out.append("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
            out.append("  ".join("-" * w for w in widths))
            for r in rows:
                out.append("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w)
                                     for c, w in zip(r, widths)).rstrip())
            if more:
                out.append(f"… {more} more row(s)")
            out.append("")
        return "\n".join(out).rstrip() + "\n"

    def as_html(self) -> str:
        """An HTML fragment; every string is escaped."""
        e = _html.escape
        out = [f"<div class='ci-summary'><h4>{e(self.title)}</h4>"]
        for b in self.blocks:
            if isinstance(b, str):
                out.append(f"<p>{e(b)}</p>")
                continue
            head, rows, more = self._cells(b)
            cap = f"<caption>{e(b.title)}</caption>" if b.title else ""
            th = "".join(f"<th>{e(h)}</th>" for h in head)
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>"
                           for r in rows)
            out.append(f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>")
            if more:
                out.append(f"<p>… {more} more row(s)</p>")
        out.append("</div>")
        return "".join(out)

    def __str__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()

    def __repr__(self) -> str:
        return f"Summary({self.title!r}, {len(self.blocks)} block(s))"


def _numeric(cell: str) -> bool:
    try:
        float(cell.replace(",", ""))
        return True
    except ValueError:
        return False


class Result:
    """Mixin of the results protocol (see the module docstring).

    Subclasses implement :meth:`summary` and :meth:`to_frame`, and list what their repr shows
    in :meth:`_repr_lines` (one short line each).
    """

    def summary(self) -> Summary:  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def to_dict(self) -> dict:
        """JSON-safe dict; by default ``{"table": to_frame() as records}``."""
        return {"table": json_safe(self.to_frame())}

    def _repr_lines(self) -> Iterable[str]:
        return ()

    def __repr__(self) -> str:
        lines = [str(x) for x in self._repr_lines()]
        head = type(self).__name__
        if not lines:
            return f"<{head}>"
        return f"<{head}: " + "\n  ".join(lines) + ">"

    def _repr_html_(self) -> str:
        return self.summary().as_html()

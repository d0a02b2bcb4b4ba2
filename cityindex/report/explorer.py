"""``explorer.html``: one self-contained, offline, interactive page over an audit.

:func:`write_explorer` writes the page for an :class:`~cityindex.auditing.Audit` (``cityindex
audit`` writes it beside ``index.html``; ``cityindex explore`` for any framework and data). The
page is a template (``explorer_template.html``), a stylesheet (``explorer.css``) and a plain
JavaScript program (``explorer.js``, no library) shipped as package data and inlined, plus the
data as one JSON document in a ``<script type="application/json">`` element. It loads nothing
from the network (a Content-Security-Policy forbids it) and works from ``file://``.

The data (:func:`explorer_data`) come from views of each
:class:`~cityindex.auditing.IndexAudit`; the page only sorts, filters and draws them. Schema
``cityindex-explorer/1`` (no date: the run's date is in its manifest.json, so the same seed
gives the same bytes)::

    {"schema", "title", "version",
     "indices": [{
        "code", "name", "root", "noun": [singular, plural],
        "band": {"lo": 5, "hi": 95, "label": "5–95 %", "n": replications} | null,
        "nodes": [{"code", "name", "level", "parent", "weight", "unit", "empty"}, …],  # tree order
        "units": {"code": [...], "name": [...]},
        "groups": {"region": [...], …},            # categorical metadata to filter by
        "observed_share": [...], "flags": [...],
        "scores": {AGGREGATE: {"score", "rank", "median", "q5", "q95"[, "width"]}},
        "indicators": {INDICATOR: {"raw", "imputed", "observed", "norm", "rank", "of"}},
        "strengths": [[codes] per unit], "weaknesses": [[codes] per unit],
        "drivers": [[[assumption, STi], …] per unit] | null,
        "history": {"years": [...], "nodes": {NODE: {"score": [[per unit] per year],
                    "rank": …, "q5": …, "q95": …}}} | null}]}

Every per-unit array is aligned with ``units.code``. Missing numbers are ``null``. The history
block is optional: a multi-year run sets ``IndexAudit.history`` (tidy: year, unit, node, score,
rank[, q5, q95, median]) and the page then shows score and rank over the years with bands.

Safety: every string of the data is inserted in the page with ``textContent`` (never as HTML);
the JSON is embedded with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, so no data value can
close the script element or break the JavaScript parser.
"""

from __future__ import annotations

import html
import json
import math
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

SCHEMA = "cityindex-explorer/1"
#: the package data the page is made of
ASSETS = ("explorer_template.html", "explorer.css", "explorer.js")


def _num(v, digits: int = 6):
    """A JSON number with ``digits`` significant digits, or None for NaN/inf/None."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    if f == int(f) and abs(f) < 1e15:
        return int(f)
    return float(f"{f:.{digits}g}")


def _nums(values, digits: int = 6) -> list:
    """:func:`_num` of every value, vectorised (integral values as ints, NaN as None)."""
    a = np.asarray(values, dtype=float).ravel()
    out = np.empty(a.shape, dtype=object)             # None where not finite
    fin = np.isfinite(a)
    whole = fin & (np.abs(a) < 1e15)
    whole[whole] = a[whole] == np.round(a[whole])
    if whole.any():
        out[np.flatnonzero(whole)] = a[whole].astype(np.int64).tolist()
    rest = fin & ~whole
    if rest.any():
        x = a[rest]
        e = np.floor(np.log10(np.abs(x))).astype(int)
        r = np.empty_like(x)
        for k in np.unique(e):                         # one rounding per order of magnitude
            m = e == k
            r[m] = np.round(x[m], digits - 1 - int(k))
        out[np.flatnonzero(rest)] = r.tolist()
    return out.tolist()


def _strs(values) -> list:
    return [None if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA)
            else str(v) for v in values]


def _index_block(a) -> dict:
    """The data of one index audit (see the module docstring)."""
    fw, res = a.framework, a.result
    units = list(res.scores.index)
    nodes = []

    def walk(code):
        n = fw.nodes[code]
        nodes.append({"code": code, "name": n.name or "", "level": int(n.level),
                      "parent": n.parent, "weight": _num(n.weight), "unit": n.unit or "",
                      "empty": bool(n.status)})
        for k in fw.children(code, active_only=False):
            walk(k)

    walk(fw.root)
    band = None
    if a.uncertainty is not None:
        pc = a.uncertainty.figures.get("percentiles", [5, 95])
        band = {"lo": pc[0], "hi": pc[-1], "label": f"{pc[0]:g}–{pc[-1]:g} %",
                "n": int(a.uncertainty.figures["n_replications"])}
    scores = {}
    for code, t in a.node_bands().items():
        t = t.reindex(units)
        scores[code] = {c: _nums(t[c]) for c in ("score", "rank", "median", "q5", "q95")
                        if c in t}
    if a.uncertainty is not None:
        scores[fw.root]["width"] = _nums(a.uncertainty.rank_stats["width"].reindex(units))
    st = a.indicator_standing()
    indicators = {}
    for c in st["normalised"].columns:
        indicators[c] = {"raw": _nums(st["raw"][c]), "imputed": _nums(st["imputed"][c]),
                         "observed": [int(x) for x in st["observed"][c].to_numpy(bool)],
                         "norm": _nums(st["normalised"][c]), "rank": _nums(st["rank"][c]),
                         "of": int(st["of"][c])}
    sw = a.strengths_weaknesses().reindex(units)
    drivers = None
    if a.sensitivity is not None:
        d = a.unit_drivers(3).reindex(units)
        cols = [(d[f"driver_{j}"].tolist(), _nums(d[f"ST_{j}"], 3)) for j in (1, 2, 3)
                if f"driver_{j}" in d]
        drivers = [[[f[i], st[i]] for f, st in cols if isinstance(f[i], str)]
                   for i in range(len(units))]
    hist = a.history_blocks()
    if hist is not None:
        hist = {"years": [_num(y) if isinstance(y, (int, float, np.integer, np.floating))
                          else str(y) for y in hist["years"]],
                "nodes": {k: {c: [_nums(row) for row in v] for c, v in b.items()}
                          for k, b in hist["nodes"].items()}}
    table = a.unit_table().set_index("unit").reindex(units)
    return {
        "code": a.root, "name": fw.nodes[a.root].name or fw.name or a.root, "root": fw.root,
        "noun": list(a.unit_noun()), "band": band, "nodes": nodes,
        "units": {"code": [str(u) for u in units], "name": a.name_of(units)},
        "groups": {g: _strs(col.reindex(units)) for g, col in a.unit_groups().items()},
        "observed_share": _nums(a.observed_share().reindex(units), 4),
        "flags": [str(x) if isinstance(x, str) else "" for x in table["flags"]],
        "scores": scores, "indicators": indicators,
        "strengths": [list(x) if isinstance(x, list) else [] for x in sw["strengths"]],
        "weaknesses": [list(x) if isinstance(x, list) else [] for x in sw["weaknesses"]],
        "drivers": drivers, "history": hist,
    }


def explorer_data(audit, title: str | None = None) -> dict:
    """The JSON document the page embeds (see the module docstring), from the views of every
    :class:`~cityindex.auditing.IndexAudit` of ``audit`` (an Audit, or one IndexAudit)."""
    from cityindex import __version__

    indices = list(audit.indices.values()) if hasattr(audit, "indices") else [audit]
    return {"schema": SCHEMA,
            "title": title or "cityindex explorer — " + ", ".join(a.root for a in indices),
            "version": __version__,
            "indices": [_index_block(a) for a in indices]}


_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                   "\u2029": "\\u2029"}


def embed_json(data) -> str:
    """``data`` as JSON that is safe inside ``<script type="application/json">``: no ``<``,
    ``>`` or ``&`` (so ``</script>`` and ``<!--`` cannot occur) and no raw U+2028/U+2029;
    NaN is refused (use None)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_ESCAPES[m.group(0)], text)


def _asset(name: str) -> str:
    return resources.files("cityindex.report").joinpath(name).read_text(encoding="utf-8")


def render_explorer(data: dict) -> str:
    """The page: the template with the stylesheet, the program and the data inlined."""
    parts = {"TITLE": html.escape(str(data.get("title", "cityindex explorer"))),
             "CSS": _asset("explorer.css"), "JS": _asset("explorer.js"),
             "DATA": embed_json(data)}
    # one pass: text put in is never scanned again for markers
    return re.sub(r"@@(TITLE|CSS|JS|DATA)@@", lambda m: parts[m.group(1)],
                  _asset("explorer_template.html"))


def write_explorer(audit, folder, title: str | None = None) -> Path:
    """Write ``folder/explorer.html`` (the folder is created if needed) for ``audit`` (an
    Audit or an IndexAudit); return its path."""
    path = Path(folder) / "explorer.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_explorer(explorer_data(audit, title)), encoding="utf-8")
    return path

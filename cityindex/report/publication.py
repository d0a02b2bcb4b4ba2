"""Writers of the publication table (:mod:`cityindex.validation.publication`): CSV, XLSX and an
HTML fragment to paste into a report. They compute nothing; every string is escaped in the
HTML (attributes included), and text cells that a spreadsheet would read as a formula are
written as text in the XLSX."""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from cityindex.validation.publication import CHANGE_WORDS, PublicationTable

__all__ = ["write_csv", "write_xlsx", "html_fragment"]

_HEAD = {"rank_label": "Rank", "unit": "Code", "name": "Name", "score": "Score",
         "previous_rank": "Previous rank", "rank_change": "Change", "places": "Places",
         "band_lower": "Band from", "band_upper": "Band to", "flags": "Flags"}


def _score_format(pt: PublicationTable):
    d = pt.conventions.get("round")
    published_rounded = d is not None and pt.conventions.get("publish") == "rounded"
    return (lambda x: f"{x:.{d}f}") if published_rounded else (lambda x: f"{x:.6g}")


def write_csv(pt: PublicationTable, path: str | Path) -> None:
    """The table as CSV (rank changes as words: up, down, same, new)."""
    pt.table.drop(columns=["rank"]).to_csv(path, index=False)


def _safe_cell(v):
    """A text cell a spreadsheet would read as a formula (=, +, -, @ first) is written as text."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
        return "'" + v
    return v


def write_xlsx(pt: PublicationTable, path: str | Path) -> None:
    """The table (sheet ``table``) and its conventions (sheet ``about``) as XLSX."""
    t = pt.table.drop(columns=["rank"]).copy()
    for c in t.columns:
        if not pd.api.types.is_numeric_dtype(t[c]):
            t[c] = t[c].astype(object).map(_safe_cell)
    about = pd.DataFrame({"item": ["node", "conventions", "band", "previous vintage"],
                          "value": [pt.node, pt.conventions.get("description", ""), pt.band,
                                    pt.previous]})
    about["value"] = about["value"].map(_safe_cell)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        t.to_excel(xw, sheet_name="table", index=False)
        about.to_excel(xw, sheet_name="about", index=False)


def html_fragment(pt: PublicationTable, caption: str | None = None) -> str:
    """A ``<table>`` (no page around it) with an escaped caption stating the conventions.

    Rank changes show as ↑ ↓ — or "new", with the word in the cell's title; ranks shared by
    several units as "=12"; units not ranked as "–" with the reason in the flags column.
    """
    esc = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    fmt = _score_format(pt)
    cols = [c for c in _HEAD if c in pt.table.columns]
    cap = caption or (f"{pt.node}: {pt.conventions.get('description', '')}"
                      + (f"; band: {pt.band}" if pt.band else "")
                      + (f"; change against {pt.previous}" if pt.previous else ""))
    out = [f'<table class="cityindex-publication" data-node="{esc(pt.node)}">',
           f"<caption>{esc(cap)}</caption>",
           "<thead><tr>" + "".join(f'<th scope="col">{esc(_HEAD[c])}</th>' for c in cols)
           + "</tr></thead>", "<tbody>"]
    for _, row in pt.table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if c == "rank_change":
                word = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                sym = CHANGE_WORDS.get(word, word)
                cells.append(f'<td class="change {esc(word)}" title="{esc(word)}">{esc(sym)}</td>')
                continue
            if isinstance(v, float) and math.isnan(v):
                text = "–" if c != "flags" else ""
            elif c == "score":
                text = fmt(float(v))
            elif c in ("previous_rank", "places", "band_lower", "band_upper"):
                text = f"{float(v):+g}" if c == "places" else f"{float(v):g}"
            else:
                text = str(v)
            cells.append(f"<td>{esc(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out) + "\n"

"""Text rendering of city profiles (:class:`cityindex.profiles.CityProfile`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: columns of profile tables that hold ranks (shown as integers, round half up)
RANK_COLS = ("rank", "median", "q5", "q95")


def display_rank(v) -> str:
    """A rank (or rank quantile) for display: an integer, rounded half up; "–" for NaN."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "–" if not np.isfinite(v) else str(int(np.floor(v + 0.5)))


def _fmt(df: pd.DataFrame) -> str:
    if df is None or not len(df):
        return "  (none)"
    shown = df.copy()
    for c in RANK_COLS:
        if c in shown:
            shown[c] = shown[c].map(display_rank)
    return shown.to_string(index=False, float_format=lambda v: f"{v:.2f}")


def profile_text(p) -> str:
    """A plain-text rendering of a :class:`~cityindex.profiles.CityProfile` for the terminal
    (ranks as integers)."""
    region = f", {p.region}" if p.region else ""
    status = getattr(p, "status", "")
    parts = [f"{p.name} ({p.code}{region}) — {p.index}"
             + (f" [{status}]" if status and status != "ranked" else "")]
    for part, title in p.parts:
        table = getattr(p, part)
        parts += [f"{title}:", _fmt(table) if part != "drivers" or len(table)
                  else "  (sensitivity analysis not run)"]
    if p.notes:
        parts += ["Notes:"] + [f"  * {n}" for n in p.notes]
    return "\n".join(parts)

"""Figures of ``cityindex compare`` (matplotlib Figure objects, no pyplot state): the slope chart
of rank moves, the rank scatter with A's band, and the stacked Shapley bars of the stage
attribution. They render :mod:`cityindex.validation.compare` results and compute nothing.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib
import numpy as np
import pandas as pd

from cityindex.validation.compare import Attribution, Comparison

from . import figures as _figures  # noqa: F401,E402 - shared rcParams: names shown as written


def slope_chart(comp: Comparison, node: str | None = None, n: int = 20,
                names: Mapping[str, str] | None = None):
    """Slope (bump) chart of ranks A → B for the units in either top ``n`` of ``node``
    (default: the index); moves outside method A's methodological band drawn red (when a band
    was given), others up green / down orange / same grey. ``names``: unit → label."""
    from matplotlib.figure import Figure

    df = comp.node(node)
    sel = df[(df["rank_a"] <= n) | (df["rank_b"] <= n)]
    fig = Figure(figsize=(6.5, max(4.0, 0.28 * len(sel) + 1.5)))
    ax = fig.add_subplot(1, 1, 1)
    ymax = 1
    for unit, r in sel.iterrows():
        ya = r.rank_a if not np.isnan(r.rank_a) else n + 2
        yb = r.rank_b if not np.isnan(r.rank_b) else n + 2
        ymax = max(ymax, min(ya, n + 2), min(yb, n + 2))
        beyond = comp.has_band and not pd.isna(r.get("beyond_band", np.nan)) and bool(
            r.beyond_band)
        color = ("#c0392b" if beyond else "#1e8449" if r.arrow == "up" else "#d35400"
                 if r.arrow == "down" else "#7f8c8d")
        ya_c, yb_c = min(ya, n + 2), min(yb, n + 2)
        ax.plot([0, 1], [ya_c, yb_c], color=color, lw=2.0 if beyond else 1.2, marker="o",
                ms=3)
        label = (names or {}).get(unit, unit)
        # units outside the top n sit on one line below it, labelled with their rank
        out_a, out_b = ya > n, yb > n
        ra_txt = "–" if np.isnan(r.rank_a) else str(int(r.rank_a))
        rb_txt = "–" if np.isnan(r.rank_b) else str(int(r.rank_b))
        if not out_a or not out_b:
            if out_a:
                ax.text(0.03, ya_c, f"{label} ({ra_txt})", ha="left", va="top", fontsize=6,
                        color="grey", rotation=-20)
            else:
                ax.text(-0.03, ya_c, f"{label} {ra_txt}", ha="right", va="center", fontsize=7)
            if out_b:
                ax.text(0.97, yb_c, f"{label} ({rb_txt})", ha="right", va="top", fontsize=6,
                        color="grey", rotation=20)
            else:
                ax.text(1.03, yb_c, f"{rb_txt} {label}", ha="left", va="center", fontsize=7)
    ax.set_ylim(ymax + 1, 0)
    ax.set_xlim(-0.6, 1.6)
    ax.set_xticks([0, 1], list(comp.labels))
    ax.set_yticks([])
    for s in ("left", "right", "top"):
        ax.spines[s].set_visible(False)
    ax.set_title(f"{node or comp.root}: rank moves, top {n}"
                 + (" (red: outside A's methodological band)" if comp.has_band else ""),
                 fontsize=9)
    fig.tight_layout()
    return fig


def shapley_chart(att: Attribution, node: str | None = None, n: int = 15,
                  value: str = "rank_shapley", names: Mapping[str, str] | None = None):
    """Horizontal stacked bars of each stage's Shapley share of the ``n`` largest moves; a
    black tick marks the total move (the bars sum to it)."""
    from matplotlib.figure import Figure

    w = att.wide(value, node).head(n).iloc[::-1]
    fig = Figure(figsize=(7, max(3.5, 0.32 * len(w) + 1.5)))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(w))
    pos = np.zeros(len(w))
    neg = np.zeros(len(w))
    cmap = matplotlib.colormaps["tab10"]
    for i, s in enumerate(att.stages):
        v = w[s].to_numpy(float)
        v = np.nan_to_num(v)
        left = np.where(v >= 0, pos, neg)
        ax.barh(y, v, left=left, color=cmap(i % 10), label=s, height=0.7)
        pos += np.where(v >= 0, v, 0)
        neg += np.where(v < 0, v, 0)
    ax.scatter(w["total"], y, marker="|", color="black", s=120, zorder=3, label="total")
    ax.set_yticks(y, [(names or {}).get(u, u) for u in w.index], fontsize=7)
    ax.axvline(0, color="grey", lw=0.8)
    what = "rank" if value.startswith("rank") else "score"
    ax.set_xlabel(f"{what} shift B − A" + (" (negative = moved up)" if what == "rank" else ""))
    ax.set_title(f"Shapley attribution of {what} moves by stage", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def rank_scatter(comp: Comparison, node: str | None = None):
    """Rank under A vs rank under B for ``node`` (default: the index), with method A's
    methodological band as error bars when available (moves outside it in red)."""
    from matplotlib.figure import Figure

    df = comp.node(node).dropna(subset=["rank_a", "rank_b"])
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot(1, 1, 1)
    if comp.has_band and "band_lo" in df and df["band_lo"].notna().any():
        ax.errorbar(df["rank_a"], df["rank_a"],
                    yerr=[(df["rank_a"] - df["band_lo"]).clip(lower=0),
                          (df["band_hi"] - df["rank_a"]).clip(lower=0)],
                    fmt="none", ecolor="#bbbbbb", lw=0.6, label="A's band")
        beyond = df["beyond_band"].fillna(False).astype(bool)
        ax.scatter(df.loc[~beyond, "rank_a"], df.loc[~beyond, "rank_b"], s=6, color="#2c3e50")
        ax.scatter(df.loc[beyond, "rank_a"], df.loc[beyond, "rank_b"], s=10, color="#c0392b",
                   label="outside A's band")
        ax.legend(fontsize=7)
    else:
        ax.scatter(df["rank_a"], df["rank_b"], s=6, color="#2c3e50")
    m = max(df["rank_a"].max(), df["rank_b"].max()) if len(df) else 1
    ax.plot([1, m], [1, m], color="grey", lw=0.8)
    ax.set_xlabel(f"rank, {comp.labels[0]}")
    ax.set_ylabel(f"rank, {comp.labels[1]}")
    ax.set_title(f"{node or comp.root}: ranks A vs B", fontsize=9)
    fig.tight_layout()
    return fig


_MOVE_COLORS = {"up": "#1e8449", "down": "#c0392b", "within band": "#7f8c8d"}
_ARROW_TEXT = {"up": "↑", "down": "↓", "same": "=", "new": "new", "exit": "exit", "": ""}


def year_moves_chart(yc, n: int = 40, names: Mapping[str, str] | None = None):
    """Year-on-year moves of the top ``n`` units of year B (a
    :class:`~cityindex.validation.compare.years.YearComparison`): the nominal rank change (dot)
    and its band from paired replications (whisker), green for a rise and red for a fall
    beyond the band, grey within it; our arrow and, when given, the published arrow written at
    the right ("ours | published")."""
    from matplotlib.figure import Figure

    t = yc.table[yc.table["classification"].isin(list(_MOVE_COLORS))]
    t = t[t["rank_b"] <= n].sort_values("rank_b")
    fig = Figure(figsize=(7.5, max(3.0, 0.22 * len(t) + 1.4)))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(t))
    for k, (unit, r) in enumerate(t.iterrows()):
        c = _MOVE_COLORS[r.classification]
        ax.plot([r.band_lo, r.band_hi], [k, k], color=c, lw=1.6, alpha=0.8)
        ax.plot([r.change], [k], "o", color=c, ms=4)
        pub = _ARROW_TEXT.get(str(r.get("arrow_published", "")), "")
        ax.annotate(f"{_ARROW_TEXT.get(r.arrow, '')} | {pub}" if "arrow_published" in t
                    else _ARROW_TEXT.get(r.arrow, ""), (1.01, k),
                    xycoords=("axes fraction", "data"), va="center", fontsize=7)
    labels = [f"{(names or {}).get(u, u)} ({r:.0f})" for u, r in zip(t.index, t["rank_b"])]
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    a, b = yc.years
    lo, hi = yc.percentiles
    ax.set_xlabel(f"rank change {a} → {b} (places; + = up), band {lo:g}–{hi:g} % of paired "
                  "replications")
    title = f"{yc.node}: moves of the top {n} in {b}"
    if "agreement" in yc.figures:
        title += (f" — direction agrees with the published arrows for "
                  f"{yc.figures['n_agree']}/{yc.figures['n_published_both']}")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig

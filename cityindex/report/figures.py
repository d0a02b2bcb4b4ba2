"""Figures of the audit report (matplotlib, Agg). Each function returns a Figure.

``save(fig, folder, name)`` writes ``name.png`` and ``name.svg`` and returns the PNG bytes for
embedding in the HTML report.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

BLUE, ORANGE, GREY, RED, GREEN = "#1f4e79", "#e07b00", "#9aa5b1", "#b22222", "#2e7d32"
plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                     "svg.fonttype": "none", "figure.dpi": 100,
                     # the same figure gives the same bytes: fixed SVG ids, no date
                     "svg.hashsalt": "cityindex",
                     # codes and names are shown as written: "$" is no math mode
                     "text.parse_math": False})
#: metadata of every saved figure: no creation date (byte-identical files for one seed)
SVG_METADATA = {"Date": None}
PNG_METADATA = {"Software": None}


def save(fig, folder: Path, name: str) -> bytes:
    """Save ``fig`` as PNG and SVG in ``folder``; return the PNG bytes; close the figure.

    The tight bounding box is measured once (one layout pass without rendering) and used for
    both files, instead of a measuring pass per file as ``bbox_inches="tight"`` does."""
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "cityindex"}):
        if not hasattr(fig.canvas, "get_renderer"):   # a Figure made without pyplot
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            FigureCanvasAgg(fig)
        fig.draw_without_rendering()
        bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(
            plt.rcParams["savefig.pad_inches"])
        fig.savefig(buf, format="png", dpi=110, bbox_inches=bbox, metadata=PNG_METADATA)
        png = buf.getvalue()
        (folder / f"{name}.png").write_bytes(png)
        fig.savefig(folder / f"{name}.svg", format="svg", bbox_inches=bbox,
                    metadata=SVG_METADATA)
    plt.close(fig)
    return png


def availability(raw: pd.DataFrame, title: str = ""):
    """Share of units with an observed value, per indicator (before imputation)."""
    share = raw.notna().mean().sort_values()
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(share) + 1))
    ax.barh(share.index, share.to_numpy(), color=[RED if v < 0.65 else BLUE for v in share])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of units observed")
    ax.set_title(title or "Data availability per indicator")
    return fig


def correlation_heatmap(C: pd.DataFrame, title: str = ""):
    """A correlation matrix (codes × codes) as a heatmap."""
    codes = list(C.columns)
    n = len(codes)
    fig, ax = plt.subplots(figsize=(0.32 * n + 2.5, 0.32 * n + 2))
    im = ax.imshow(C.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(n), codes, rotation=90, fontsize=7)
    ax.set_yticks(range(n), codes, fontsize=7)
    if n <= 30:
        for i in range(n):
            for j in range(n):
                v = C.iat[i, j]
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=5.5,
                            color="white" if abs(v) > 0.6 else "black")
    fig.colorbar(im, ax=ax, shrink=0.7, label="Pearson r")
    ax.set_title(title or "Correlations")
    return fig


def weights(table: pd.DataFrame, title: str = ""):
    """Within-parent weights: nominal vs PCA vs effective (correlation-ratio share).

    ``table``: one row per element with columns code and any of nominal_in_parent (or
    nominal), pca, effective, bayes. All are shares within the element's parent.
    """
    if "nominal_in_parent" in table and "nominal" not in table:
        table = table.rename(columns={"nominal_in_parent": "nominal"})
    cols = [c for c in ("nominal", "reference", "pca", "effective", "bayes") if c in table and
            table[c].notna().any()]
    colors = {"nominal": GREY, "reference": "#bbbbbb", "pca": BLUE, "effective": ORANGE,
              "bayes": GREEN}
    labels = {"nominal": "nominal (within parent)",
              "reference": "scale-matched reference (w·σ)²/Σ(w·σ)²", "pca": "PCA",
              "effective": "effective (correlation-ratio share, BCa interval)", "bayes": "Bayes"}
    n, k = len(table), len(cols)
    fig, ax = plt.subplots(figsize=(7, 0.32 * n * max(1, k / 2) + 1))
    y = np.arange(n)
    h = 0.8 / k
    for j, c in enumerate(cols):
        v = table[c].astype(float).fillna(0).to_numpy()
        xerr = None
        if c == "effective" and "effective_lo" in table:
            lo = table["effective_lo"].astype(float).to_numpy()
            hi = table["effective_hi"].astype(float).to_numpy()
            xerr = np.nan_to_num(np.clip(np.vstack([v - lo, hi - v]), 0, None))
        ax.barh(y + (j - (k - 1) / 2) * h, v, height=h, label=labels[c], color=colors[c],
                xerr=xerr, error_kw=dict(lw=0.8, capsize=2), hatch="//" if c == "reference"
                else None, edgecolor="white" if c == "reference" else None)
    ax.set_yticks(y, table["code"])
    ax.invert_yaxis()
    ax.set_xlabel("weight within the parent (shares sum to 1 per parent)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    ax.set_title(title or "Weights")
    return fig


def rank_uncertainty(stats: pd.DataFrame, top: int | None = None, title: str = "",
                     lo: str = "q5", hi: str = "q95", mid: str = "median",
                     labels: pd.Series | None = None, band_label: str = "5–95 % band"):
    """JRC-style rank chart: units sorted by nominal rank; 5–95 % band as a line, median as a
    tick, nominal rank as a dot. ``top`` zooms on the first ``top`` units (with labels).

    The legend sits outside the axes (right of the plot), so it never covers a unit's band."""
    s = stats.dropna(subset=["nominal"]).sort_values("nominal")  # units not ranked: no point
    if top:
        s = s.head(top)
    x = np.arange(1, len(s) + 1)
    wide = len(s) > 100
    fig, ax = plt.subplots(figsize=(12 if wide else 10, 5))
    ax.vlines(x, s[lo], s[hi], color=GREY, lw=0.8 if wide else 2, label=band_label)
    ax.scatter(x, s[mid], marker="_", s=12 if wide else 40, color=ORANGE, label="median",
               zorder=3)
    ax.scatter(x, s["nominal"], s=3 if wide else 14, color=BLUE, label="nominal rank", zorder=4)
    ax.invert_yaxis()
    ax.set_ylabel("rank")
    if top and len(s) <= 60:
        names = [labels.get(u, u) if labels is not None else u for u in s.index]
        ax.set_xticks(x, names, rotation=90, fontsize=7)
    else:
        ax.set_xlabel("units, sorted by nominal rank")
    ax.set_xlim(0, len(s) + 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0,
              frameon=False, markerscale=3 if wide else 1)
    ax.set_title(title or "Rank uncertainty")
    return fig


def sobol(overall: pd.DataFrame, title: str = "", dummy: str = "dummy (floor)"):
    """First-order (Si) and total (STi) Sobol indices with their intervals; the dummy factor
    (a factor the model ignores, row ``factor == dummy``) is drawn last and its upper bounds
    shade the noise floor below which an index is indistinguishable from zero."""
    real = overall[overall["factor"] != dummy].sort_values("ST", ascending=False)
    dm = overall[overall["factor"] == dummy]
    t = pd.concat([real, dm])
    x = np.arange(len(t))
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    if len(dm):
        floor = np.nanmax([dm["S1_hi"].iloc[0], dm["ST_hi"].iloc[0]])
        if np.isfinite(floor) and floor > 0:
            ax.axhspan(0, floor, color=GREY, alpha=0.18, lw=0,
                       label="noise floor (dummy's upper bound)")
    for off, col, color, lab in ((-0.2, "S1", BLUE, "Si (first order)"),
                                 (0.2, "ST", ORANGE, "STi (total)")):
        v = t[col].to_numpy(float)
        err = np.vstack([v - t[f"{col}_lo"].to_numpy(float), t[f"{col}_hi"].to_numpy(float) - v])
        ax.bar(x + off, v, width=0.4, color=color, label=lab,
               yerr=np.nan_to_num(np.clip(err, 0, None)), capsize=3)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xticks(x, t["factor"], rotation=20)
    ax.set_ylabel("share of variance of the mean |rank shift|")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(title or "Sobol sensitivity indices")
    return fig


def sobol_convergence(conv: pd.DataFrame, title: str = "", dummy: str = "dummy (floor)"):
    """Sobol indices of the mean |rank shift| against the base sample N (nested designs of the
    first 1, 2, 4, … independent groups): one line per factor, its interval shaded; S1 left,
    ST right; the dummy factor dashed (the noise floor). ``conv``: columns n_base, factor, S1,
    S1_lo, S1_hi, ST, ST_lo, ST_hi."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    factors = list(dict.fromkeys(conv["factor"]))
    cmap = plt.get_cmap("tab10")
    for ax, col, lab in ((axes[0], "S1", "first order Si"), (axes[1], "ST", "total STi")):
        for i, f in enumerate(factors):
            d = conv[conv["factor"] == f].sort_values("n_base")
            color = "black" if f == dummy else cmap(i % 10)
            ax.plot(d["n_base"], d[col], marker="o", ms=3, color=color,
                    ls="--" if f == dummy else "-", label=f)
            ax.fill_between(d["n_base"], d[f"{col}_lo"], d[f"{col}_hi"], color=color,
                            alpha=0.12, lw=0)
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xscale("log", base=2)
        ns = sorted(conv["n_base"].unique())
        ax.set_xticks(ns, [f"{int(v):,}" for v in ns])
        ax.minorticks_off()
        lo = np.nanmin(conv[f"{col}_lo"].to_numpy(float), initial=0.0)
        hi = np.nanmax(conv[f"{col}_hi"].to_numpy(float), initial=1.0)
        ax.set_ylim(max(lo, -0.5) - 0.05, min(hi, 1.2) + 0.05)   # very wide early bands clipped
        ax.set_xlabel("base sample N")
        ax.set_title(lab, fontsize=10)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.suptitle(title or "Convergence of the Sobol indices")
    return fig


def published(comp: pd.DataFrame, title: str = "", label: str = "published 2021 rank"):
    """Published rank (``label`` on the axis) vs our nominal rank and 5–95 % band."""
    c = comp.dropna(subset=["our_rank"]).sort_values("published_rank")
    fig, ax = plt.subplots(figsize=(7, 5))
    if "our_q5" in c:
        ax.vlines(c["published_rank"], c["our_q5"], c["our_q95"], color=GREY, lw=1.2,
                  label="our 5–95 % band")
        inside = c["in_band"].astype(bool)
        ax.scatter(c["published_rank"][inside], c["our_rank"][inside], s=10, color=BLUE,
                   label="published rank inside our band", zorder=3)
        ax.scatter(c["published_rank"][~inside], c["our_rank"][~inside], s=10, color=RED,
                   label="outside", zorder=3)
    else:
        ax.scatter(c["published_rank"], c["our_rank"], s=10, color=BLUE)
    cols = [k for k in ("our_rank", "our_q95") if k in c]
    m = max(100, float(np.nanmax(c[cols].to_numpy(float))) if len(c) else 100)
    ax.plot([1, 100], [1, 100], color="black", lw=0.6, ls="--", label="equal ranks")
    ax.set_xlabel(label)
    ax.set_ylabel("our nominal rank")
    ax.set_ylim(m * 1.02, 0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    ax.set_title(title or "Published 2021 top 100 vs our ranks")
    return fig


def rank_set_curve(curve: pd.DataFrame, title: str = ""):
    """Median width of the rank confidence sets (simultaneous, marginal) against the assumed
    relative SE (``relative_se``); the per-indicator error model (``relative_se`` NaN) as a
    horizontal line."""
    c = curve.dropna(subset=["relative_se"]).sort_values("relative_se")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = 100 * c["relative_se"].to_numpy(float)
    ax.plot(x, c["median_width_simultaneous"], "o-", color=BLUE, label="simultaneous")
    ax.plot(x, c["median_width_marginal"], "s--", color=GREEN, label="marginal")
    own = curve[curve["relative_se"].isna()]
    if len(own):
        ax.axhline(float(own["median_width_simultaneous"].iloc[0]), color=GREY, lw=1,
                   ls=":", label="per-indicator error model (simultaneous)")
    ax.set_xlabel("assumed relative SE of every indicator value (%)")
    ax.set_ylabel("median set width (places)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title or "Rank-set width vs assumed measurement error")
    return fig


def bayes_weights(implied: pd.DataFrame, title: str = ""):
    """Bayesian implied indicator weights in the index (mean, 90 % interval) vs the nominal
    weights on the same z-scale (``nominal_z``: nominal effective weight × SD of the normalised
    indicator, renormalised), both on standardised indicators."""
    t = implied.sort_values("mean")
    y = np.arange(len(t))
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(t) + 1))
    ax.errorbar(t["mean"], y, xerr=np.clip([t["mean"] - t["lo"], t["hi"] - t["mean"]], 0, None),
                fmt="o", color=GREEN, ms=4, capsize=2, label="Bayesian implied (90 %)")
    nom = "nominal_z" if "nominal_z" in t else ("nominal" if "nominal" in t else None)
    if nom:
        ax.scatter(t[nom], y, marker="|", s=80, color=BLUE,
                   label="nominal, on the z-scale (nominal_z)", zorder=3)
    ax.set_yticks(y, t.index)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel("weight of the standardised indicator in the index (z-scale)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    ax.set_title(title or "Bayesian implied weights")
    return fig


def trajectories(history: pd.DataFrame, units, names=None, title: str = ""):
    """Rank over the years with the 5–95 % band (``history``: year, unit, rank, q5, q95), one
    line per unit of ``units`` (a few), rank 1 at the top."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    h = history[history["unit"].isin(list(units))]
    for u in units:
        g = h[h["unit"] == u].sort_values("year")
        if not len(g):
            continue
        line = ax.plot(g["year"], g["rank"], marker="o", ms=3, lw=1.2,
                       label=str((names or {}).get(u, u)))[0]
        if "q5" in g and g["q5"].notna().any():
            ax.fill_between(g["year"], g["q5"], g["q95"], color=line.get_color(), alpha=0.12)
    ax.invert_yaxis()
    ax.set_xticks(sorted(h["year"].unique()))
    ax.set_ylabel("rank (band: 5–95 % of the replications)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig

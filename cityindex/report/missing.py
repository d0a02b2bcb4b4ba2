"""The report's missing-data section: availability per unit and per indicator, who is not ranked
and why, observed-only vs imputed coherence and weights, and the effect of multiple imputation
on the bands. Renders views of an :class:`~cityindex.auditing.IndexAudit`; computes nothing.
"""

from __future__ import annotations

import html as _html

import pandas as pd

TITLE = "Missing data and ranking"


def _esc(x) -> str:
    return _html.escape(str(x))


def missing_data_section(doc, a) -> None:
    """Append the section for index audit ``a`` to the report document ``doc`` (html._Doc)."""
    from cityindex.safety import html_id

    root, res = a.root, a.result
    slug = html_id(root).lower()
    av = res.availability
    c = av.counts()
    doc.add(f'<h3 id="{slug}-missing">{TITLE}</h3>')
    doc.add(f"<p><b>{_esc(av.counts_line())}.</b> Rule: a unit with no observed indicator "
            "under a node has no score and no rank at that node (an imputed value alone is not "
            f"ranked); a unit with fewer than {c['flag_below']:.0%} of a node's indicators "
            "observed is ranked but flagged (method key <code>availability.flag_below</code>). "
            "Every ranking table of this report has the unit's <code>status</code>.</p>")
    nr = a.not_ranked()
    if len(nr):
        doc.add("<p>Units not ranked in the index:</p>")
        doc.table(f"{root}_not_ranked", nr, None)
    nodes = a.not_ranked_nodes()
    nodes = nodes[nodes["node"] != root]
    if len(nodes):
        per = nodes.groupby("node").size().rename("units not ranked").reset_index()
        doc.tables[f"{root}_not_ranked_nodes"] = nodes
        doc.add("<p>Not ranked at a lower node (no observed indicator there), per node "
                f"(every pair in <code>{_esc(doc.table_file(f'{root}_not_ranked_nodes'))}"
                "</code>):</p>")
        doc.table(f"{root}_not_ranked_per_node", per, None)

    doc.add("<p>Availability per indicator (share of units observed before imputation):</p>")
    doc.table(f"{root}_indicator_availability", a.indicator_availability(), None)
    units = a.availability_table()
    low = units[units["status"] != "ranked"]
    doc.tables[f"{root}_unit_availability"] = units
    doc.add(f"<p>Availability per unit: {len(low)} unit(s) flagged or not ranked are shown; "
            f"every unit is in <code>{_esc(doc.table_file(f'{root}_unit_availability'))}"
            "</code>.</p>")
    from .html import _low_note, _marked

    shown = low[["unit", "name", "n_observed", "of", "observed_share", "status", "reason"]]
    doc.add(_table_only(doc, _marked(shown, flag_below=c["flag_below"]), 25))
    doc.add(_low_note(low, c["flag_below"]))

    cmp = a.coherence_comparison()
    if len(cmp):
        doc.add("<p><b>Observed data vs imputed data.</b> The coherence statistics and the "
                "PCA/FA and effective weights of this report are computed on the observed "
                "cells only: correlations on the units that observed both codes (pairwise, "
                "<code>n_observed</code>), Cronbach's α, KMO and PCA from the EM "
                "maximum-likelihood covariance of the observed cells (Little &amp; Rubin, "
                "ch. 11: it uses every observed cell and, unlike a pairwise correlation matrix, "
                "is always positive semi-definite), aggregates recomputed from the observed "
                "indicators alone. The same statistics on the imputed data are beside them; "
                "a sign flip or a difference above 0.1 is flagged.</p>")
        grp = cmp[cmp["statistic"] != "pearson"].dropna(subset=["observed", "imputed"],
                                                          how="all")
        doc.table(f"{root}_coherence_observed_vs_imputed", grp, None)
        flagged = cmp[(cmp["statistic"] == "pearson") & (cmp["flag"] != "")]
        doc.tables[f"{root}_correlations_observed_vs_imputed"] = cmp[
            cmp["statistic"] == "pearson"]
        if len(flagged):
            doc.add(f"<p>{len(flagged)} correlation(s) flip sign or move by more than 0.1 "
                    "when imputed cells are left out:</p>")
            doc.add(_table_only(doc, flagged, None))
        else:
            doc.add("<p>No correlation flips sign or moves by more than 0.1 when imputed "
                    "cells are left out.</p>")
    if a.weights is not None and "pca_imputed" in a.weights.table:
        t = a.weights.table
        cols = [x for x in ("code", "parent", "nominal", "pca", "pca_imputed", "fa",
                            "fa_imputed", "S_share", "S_share_imputed") if x in t]
        w = t[cols].copy()
        doc.add("<p>Data-driven weights within each parent on the observed cells "
                "(<code>pca</code>, <code>fa</code>, effective <code>S_share</code>) and on "
                "the imputed data (<code>*_imputed</code>):</p>")
        doc.table(f"{root}_weights_observed_vs_imputed", w, None)

    bw = a.band_width_by_availability()
    if len(bw):
        mi = next((x for x in getattr(a.space, "assumptions", [])
                   if x.kind == "multiple_imputation"), None)
        how = (f"the uncertainty space draws one of M = {mi.n_levels} completed data sets of "
               "a multiple imputation in each replication (assumption "
               f"<i>{_esc(mi.name)}</i>), and the rank sets' draws take the imputed cells "
               "from those sets" if mi is not None else
               "this space has no multiple-imputation assumption: imputed cells are held at "
               "their single imputation in the bands")
        doc.add(f"<p><b>Effect of multiple imputation on the bands.</b> Here {how}, so a "
                "unit whose score rests on imputed values gets a band that carries their "
                "uncertainty. Median width of the 5–95 % methodological band (and of the "
                "simultaneous rank set) by the share of the unit's indicators observed:</p>")
        doc.table(f"{root}_band_width_by_availability", bw, None)
    if a.rank_sets is not None:
        doc.add(f"<p>Rank sets' score draws: {_esc(a.rank_sets.assumption)}.</p>")


def _table_only(doc, df: pd.DataFrame, show) -> str:
    from .html import RANK_COLUMNS, table_html

    return table_html(df, show, ints=RANK_COLUMNS)

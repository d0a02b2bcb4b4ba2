"""Write an audit run folder: self-contained ``index.html``, ``figures/`` (PNG + SVG),
``tables/`` (CSV) and ``tables.xlsx`` (one sheet per table), ``results.json``.

The HTML has no external URL, script or stylesheet: CSS is inline and figures are embedded as
base64 PNG, so the file can be mailed or archived as is.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd

from ..auditing import LOW_OBSERVED
from ..safety import Namer, esc, html_id, inside, neutralise_frame
from cityindex.model.bayes.structure import collapsed_nodes, equal_loading_pairs

from . import figures as F
from .xlsx import write_workbook
from . import jrc
from .missing import missing_data_section

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;
 color:#1d2733;background:#fafbfc;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:1.5em 2em 4em}
h1{color:#1f4e79;margin-bottom:.2em} h2{color:#1f4e79;border-bottom:2px solid #1f4e79;
 padding-bottom:.2em;margin-top:2.2em} h3{color:#33475b;margin-top:1.6em}
table{border-collapse:collapse;font-size:12.5px;margin:.6em 0 1.2em;background:#fff}
th,td{border:1px solid #d8dee4;padding:3px 7px;text-align:left}
.wrap{overflow-x:auto;max-width:100%}
th{background:#eef2f6;overflow-wrap:anywhere} td:first-child,th:first-child{text-align:left}
.tree td.l4{font-weight:700}.tree td.l3{padding-left:1.5em;font-weight:600}
.tree td.l2{padding-left:3em}.tree td.l1{padding-left:4.5em;color:#44515e}
.empty{color:#b22222;font-style:italic}
figure{margin:1em 0;background:#fff;border:1px solid #e1e6eb;padding:.5em}
figure img{max-width:100%;height:auto} figcaption{font-size:12px;color:#55636f}
.key{background:#fff;border-left:4px solid #e07b00;padding:.6em 1em;margin:1em 0}
.note{background:#fff7e6;border-left:4px solid #e07b00;padding:.4em .8em;font-size:13px}
.scroll{max-height:420px;overflow:auto;border:1px solid #e1e6eb}
nav a{margin-right:1em} code{background:#eef2f6;padding:0 .25em}
.foot{font-size:12px;color:#55636f;margin-top:-.6em}
""" + jrc.CSS

#: the sections of every index (a published-ranking section follows when a table is given)
SECTIONS = ["Framework", "Data availability and treatment", "Missing data and ranking",
            "Coherence", "Weights",
            "Leave-one-out and benefit of the doubt", "Rank uncertainty",
            "Sensitivity analysis", "One-at-a-time scenarios", "Bayesian latent-score model",
            "Rank confidence sets"]
#: tables with more rows than this are collapsed (a <details> element: no JavaScript needed)
COLLAPSE_ROWS = 25


#: the mark put after the name of such a unit in HTML tables
MARK = "†"
#: columns shown as integer ranks (round half up) wherever they appear in an HTML table
RANK_COLUMNS = ("rank", "median", "q5", "q95", "width", "nominal_rank", "lower", "upper",
                "simultaneous_lower", "simultaneous_upper", "marginal_lower",
                "marginal_upper", "our_rank", "our_median", "our_q5", "our_q95",
                "published_rank", "shift", "rank_median", "rank_lo", "rank_hi")


def display_rank(v) -> str:
    """A rank for display: integer, rounded half up (2.5 → 3); "–" when missing."""
    from .profile import display_rank as _d

    return _d(v)


def table_html(df: pd.DataFrame, max_rows: int | None = None, cls: str = "",
               digits: int = 3, ints=()) -> str:
    """A DataFrame as an escaped HTML table (numbers rounded; the columns in ``ints`` as
    integer ranks, rounded half up — the CSV/XLSX copies keep the raw values)."""
    if max_rows is not None and len(df) > max_rows:
        df = df.head(max_rows)
    df = df.copy()
    for c in ints:
        if c in df.columns and pd.api.types.is_numeric_dtype(df[c]):
            df[c] = df[c].map(display_rank)
    body = df.to_html(index=False, classes=cls, border=0, na_rep="–",
                      float_format=lambda v: f"{v:.{digits}f}", escape=True)
    out = f'<div class="wrap">{body}</div>'
    if len(df) > COLLAPSE_ROWS:
        out = (f'<details class="long"><summary>Show the table ({len(df)} rows'
               f'{" shown of more" if max_rows is not None and len(df) == max_rows else ""})'
               f"</summary>{out}</details>")
    return out


class _Doc:
    """Accumulates HTML parts, figure files and tables for one run folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.parts: list[str] = []
        self.tables: dict[str, pd.DataFrame] = {}
        self.figures: list[str] = []
        self.table_names = Namer()   # table name -> safe file name (tables/<name>.csv)
        self.figure_names = Namer()  # figure name -> safe file name (figures/<name>.svg)

    def add(self, s: str) -> None:
        self.parts.append(s)

    def table_file(self, name: str) -> str:
        """The CSV file of table ``name``, relative to the run folder."""
        return f"tables/{self.table_names(name)}.csv"

    def figure(self, fig, name: str, caption: str) -> None:
        name = self.figure_names(name)
        png = F.save(fig, inside(self.folder, self.folder / "figures"), name)
        self.figures.append(name)
        b64 = base64.b64encode(png).decode()
        self.add(f'<figure id="fig-{esc(name)}"><img alt="{esc(caption)}" '
                 f'src="data:image/png;base64,{b64}"><figcaption>{esc(caption)} '
                 f'(<code>figures/{esc(name)}.svg</code>)</figcaption></figure>')

    def table(self, name: str, df: pd.DataFrame, show: int | None = 25,
              display: pd.DataFrame | None = None, **kw) -> None:
        """Store ``df`` (written raw to CSV/XLSX) and show ``display`` (default ``df``) with
        rank columns as integers."""
        self.tables[name] = df
        kw.setdefault("ints", RANK_COLUMNS)
        self.add(table_html(df if display is None else display, show, **kw))


def _tree_html(t: pd.DataFrame) -> str:
    head = ("<tr><th>code</th><th>name</th><th>level</th><th>weight in parent</th>"
            "<th>weight in index</th><th>indicators</th><th>status</th></tr>")
    rows = []
    for r in t.itertuples():
        cls = ' class="empty"' if r.status else ""
        f = lambda v: "–" if not np.isfinite(v) else f"{v:.3f}"
        rows.append(f'<tr{cls}><td class="l{r.level}">{esc(r.code)}</td><td>{esc(r.name)}</td>'
                    f"<td>{r.level}</td><td>{f(r.weight)}</td><td>{f(r.index_weight)}</td>"
                    f"<td>{r.n_indicators}</td><td>{esc(r.status)}</td></tr>")
    return f'<table class="tree">{head}{"".join(rows)}</table>'


def headline_sentences(a) -> list[str]:
    """The measured figures of one index, as sentences (escaped HTML)."""
    h = a.headline()
    out = []
    if "mean_abs_rank_shift" in h:
        out.append(f"Mean absolute rank shift over {h['n_replications']} Monte Carlo "
                   f"replications: <b>{h['mean_abs_rank_shift']:.2f}</b> places.")
        out.append(f"Share of {a.unit_noun()[1]} whose 5–95 % methodological rank band is "
                   "wider than 10 "
                   f"places: <b>{h['share_band_wider_than_10']:.1%}</b>.")
    else:
        out.append(f"Uncertainty analysis did not run ({esc(a.note('uncertainty'))}).")
    if "top_drivers" in h:
        d = "; ".join(f"{esc(x['factor'])} (STi {x['ST']:.2f} [{x['ST_lo']:.2f}, "
                      f"{x['ST_hi']:.2f}])" for x in h["top_drivers"])
        how = (a.sensitivity.interval_text() if a.sensitivity is not None
               else "95% intervals")
        out.append(f"Largest total Sobol indices of the mean absolute rank shift (one output "
                   f"of the sensitivity analysis; {esc(how)} in brackets): "
                   f"<b>{d}</b>.")
    bayes = a.status.get("bayes")
    if h.get("max_rhat") is not None:
        out.append(f"Largest R-hat of the Bayesian model: <b>{h['max_rhat']:.3f}</b>"
                   f"{' (converged: ≤ 1.01)' if h['max_rhat'] <= 1.01 else ' (above 1.01: not converged)'}.")
    elif bayes is not None and bayes.state == "timeout":
        out.append(f"Bayesian model: <b>timed out</b> — {esc(bayes.message)}; no Bayesian "
                   "figures in this report.")
    elif bayes is not None and bayes.state == "failed":
        out.append(f"Bayesian model: <b>failed</b>; no Bayesian figures in this report "
                   f"(<code>{esc(bayes.message)}</code>).")
    elif bayes is not None and bayes.message:
        out.append(f"Bayesian model: {esc(bayes.message)}.")
    if "rank_set_median_width" in h and a.rank_sets is not None:
        out.append(f"Simultaneous {1 - a.rank_sets.alpha:.0%} rank confidence sets under "
                   f"{esc(a.rank_sets.assumption)}: median width "
                   f"<b>{h['rank_set_median_width']:.0f}</b> places.")
    if "n_ranked" in h:
        nr = h.get("not_ranked") or []
        out.append(f"<b>{h['n_ranked']}</b> of {h['n_units']} {a.unit_noun()[1]} ranked, "
                   f"<b>{h['n_flagged']}</b> of them flagged (fewer than "
                   f"{h['flag_below']:.0%} of their indicators observed, marked {MARK}: their "
                   f"ranks rest mostly on imputed values); <b>{h['n_not_ranked']}</b> not "
                   "ranked (no observed indicator)"
                   + (f": {esc(', '.join(a.name_of(nr)))}" if nr else "") + ".")
    bw = h.get("median_band_width_by_availability")
    if bw and len(bw) > 1:
        out.append("Median 5–95 % band width by share of indicators observed (multiple "
                   "imputation in the bands): " + "; ".join(
                       f"{esc(k)}: <b>{v:.0f}</b> places" for k, v in bw.items()) + ".")
    if a.published_audit is not None:
        pa = a.published_audit
        b = pa.baseline
        out.append(f"Published rank inside our 5–95 % methodological band for "
                   f"<b>{b['observed']:.0%}</b> of the {b['n']} published {a.unit_noun()[1]} "
                   f"we rank, against <b>{b['expected']:.0%}</b> expected by chance (published "
                   f"ranks shuffled among the same {a.unit_noun()[1]}; {b['level']:.0%} range "
                   f"{b['range_lo']:.0%}–{b['range_hi']:.0%}, P = {b['p_value']:.2g}): the "
                   f"share mostly measures how wide the bands are. {esc(pa.correlation_text())}.")
    elif "published_in_band" in h:
        out.append(f"Published rank inside our 5–95 % methodological band for "
                   f"<b>{h['published_in_band']:.0%}</b> of the published table (no chance "
                   f"baseline computed).")
    return out


def _low(t: pd.DataFrame, flag_below: float = LOW_OBSERVED) -> pd.Series:
    """Rows of flagged units: by their ``status`` when the table has one, else by share."""
    if "status" in t:
        return t["status"] == "flagged"
    return t["observed_share"] < flag_below


def _marked(df: pd.DataFrame, col: str = "name", flag_below: float = LOW_OBSERVED
            ) -> pd.DataFrame:
    """Display copy: ``MARK`` after the ``col`` of flagged units (status "flagged", else
    observed_share < ``flag_below``); the observed share as a percentage."""
    t = df.copy()
    if "observed_share" in t and col in t:
        low = _low(t, flag_below)
        t[col] = [f"{v} {MARK}" if f else v for v, f in zip(t[col].astype(str), low)]
    if "observed_share" in t:
        t["observed_share"] = [f"{v:.0%}" if pd.notna(v) else "–" for v in t["observed_share"]]
    return t


def _low_note(df: pd.DataFrame, flag_below: float = LOW_OBSERVED) -> str:
    """A footnote for the marked units of a table ("" when none)."""
    if "observed_share" not in df:
        return ""
    low = df[_low(df, flag_below)]
    if low.empty:
        return ""
    who = ", ".join(f"{esc(r.get('name', r['unit']))} ({r['observed_share']:.0%})"
                    for _, r in low.iterrows())
    return (f'<p class="foot">{MARK} fewer than {flag_below:.0%} of the unit\'s indicators '
            f"observed before imputation (share observed in brackets): {who}.</p>")


def _index_sections(doc: _Doc, a) -> None:
    fw, res, root = a.framework, a.result, a.root
    slug = html_id(root).lower()  # ids, fragments and figure names: no markup, no path
    noun = a.unit_noun()
    doc.add(f'<h2 id="{slug}">{esc(root)} — {esc(fw.nodes[root].name or fw.name)}</h2>')
    doc.add(f'<p>Key figures: <a href="#key-{slug}">above</a>.</p>')
    # a failed, skipped or warned stage is listed here and must not stop the rest of the report
    doc.add(jrc.stage_notes(a))

    # framework
    doc.add(f'<h3 id="{slug}-framework">Framework</h3>')
    tree = fw.tree_frame()
    doc.tables[f"{root}_framework"] = tree
    doc.add(f"<p>{len(fw.indicators)} indicators, {len(fw.aggregates)} aggregates. Rows in "
            f"red italics are sub-dimensions with no open indicator (skipped; siblings' weights "
            f"renormalised): {esc(', '.join(fw.empty_aggregates) or 'none')}.</p>")
    doc.add(_tree_html(tree))

    # data
    doc.add(f'<h3 id="{slug}-data">Data availability and treatment</h3>')
    doc.add(f"<p>{len(res.raw)} units from <code>{esc(res.data.source)}</code> "
            f"(SHA-256 <code>{esc(res.data.sha256[:16])}…</code>); "
            f"{int((~res.screening['kept']).sum())} screened out.</p>")
    doc.figure(F.availability(res.raw, f"{root}: data availability before imputation"),
               f"{slug}_availability", "Share of units observed per indicator")
    lt = a.mostly_imputed()
    if len(lt):
        low = lt
        doc.add(f'<p class="note">{MARK} {len(low)} ranked {noun[1]} have fewer than '
                f"{a.flag_below:.0%} of their {len(fw.indicators)} indicators observed before "
                "imputation; their scores and ranks rest mostly on imputed values and are "
                f"marked {MARK} in the tables below. The rankings table "
                f"(<code>{esc(doc.table_file(f'{root}_rankings'))}</code>) has the share of every unit "
                "(<code>observed_share</code>).</p>")
        doc.table(f"{root}_mostly_imputed", lt, None)
    tr = res.treatment.reset_index()
    doc.table(f"{root}_treatment", tr, None)
    from cityindex.model.datachecks import check_data

    dc = check_data(res.data, fw, res.method)
    doc.add(f'<p id="{slug}-data-checks">Data checks (values outside a plausible range declared '
            "in the framework, suspicious zeros, units repeating another unit's values; "
            f"warnings only, no value was changed): {len(dc)} flagged"
            + (":" if len(dc) else ".") + "</p>")
    if len(dc):
        doc.table(f"{root}_data_checks", dc, None)
    log = res.log
    if len(log):
        summ = res.log_summary()
        doc.add("<p>Log of what each stage changed (counts):</p>")
        doc.table(f"{root}_log", summ, None)

    missing_data_section(doc, a)

    # coherence
    doc.add(f'<h3 id="{slug}-coherence">Coherence</h3>')
    doc.figure(F.correlation_heatmap(a.correlation_matrix(), f"{root}: correlations "
                                     "(observed cells)"),
               f"{slug}_correlations", "Pearson correlations of indicators and aggregates on "
               "the observed cells (pairwise; imputed cells left out)")
    wa = a.weights
    if wa is not None:
        doc.add("<p>Cronbach's α on standardised items (parents of three or more children; "
                "for two children the inter-item correlation <code>mean_r</code> and its "
                "Spearman–Brown reliability), KMO and PCA per parent, on the observed cells (EM "
                "covariance; the imputed-data figures are in the section "
                f"<a href=\"#{slug}-missing\">{esc('Missing data and ranking')}</a>):</p>")
        doc.table(f"{root}_coherence", wa.groups, None)
    else:
        doc.add(f'<p class="note">Weight audit unavailable: {esc(a.note("weights"))}</p>')

    # weights
    doc.add(f'<h3 id="{slug}-weights">Weights</h3>')
    if wa is not None:
        wt = a.weights_table()
        lvl = wa.settings.get("level", 0.9)
        nb = wa.settings.get("n_boot")
        doc.add("<p>Within each parent: nominal weights (<code>nominal_in_parent</code>) vs PCA "
                "weights vs effective weights (correlation-ratio importance share, Paruolo, "
                "Saisana &amp; Saltelli 2013, with its "
                f"{lvl:.0%} BCa bootstrap interval <code>effective_lo</code>–"
                f"<code>effective_hi</code> from {nb:,} resamples of the units; Efron 1987). "
                "Nominal weights and correlation ratios are on different scales: under "
                "independence an element's share would be (w·σ)²/Σ(w·σ)² (its weight times the "
                "SD of its values, squared; Paruolo et al. 2013, Becker et al. 2017), shown as "
                "<code>reference</code>. A gap between nominal and effective weight is "
                "<i>more than scale</i> only where the reference lies outside the interval "
                "(<code>beyond_scale</code>"
                + (f": {', '.join(esc(c) for c in wt.loc[wt['beyond_scale'].fillna(False).astype(bool), 'code'])}"
                   if "beyond_scale" in wt and wt["beyond_scale"].fillna(False).astype(bool).any()
                   else ": none") + "). <code>nominal_in_index</code> is the nominal "
                "weight of each indicator in the whole index (on the normalised scale)"
                + ("; <code>bayes_in_index</code> is the Bayesian implied weight of the "
                   "standardised indicator in the index, to be compared with "
                   "<code>nominal_z_in_index</code> (the nominal weight put on the same z-scale: "
                   "nominal weight in the index × SD of the normalised indicator, renormalised),"
                   " not with <code>nominal_in_index</code>" if a.bayes else "") + ".</p>")
        doc.figure(F.weights(wt, f"{root}: weights within the parent"), f"{slug}_weights",
                   "Nominal (within parent) vs PCA vs effective weights")
        # flags joined with "; " in the page so that the column wraps (the CSV keeps ";")
        doc.table(f"{root}_weights", wt, None,
                  display=wt.assign(flags=wt["flags"].str.replace(";", "; ", regex=False)))
    if a.bayes is not None:
        doc.figure(F.bayes_weights(a.bayes.implied_weights,
                                   f"{root}: Bayesian implied weights in the index"),
                   f"{slug}_bayes_weights", "Bayesian implied weights vs nominal weights on "
                   "the same z-scale (nominal_z), per standardised indicator")
        pairs = equal_loading_pairs(fw)
        if pairs:
            doc.add(f'<p class="note">Identification rule (<code>two_child="equal"</code>): '
                    f"the two indicators of a node with exactly two indicators share one "
                    f"loading by construction, so the split of weight within each such pair is "
                    f"assumed, not estimated (it then differs only through the two error "
                    f"variances): {esc('; '.join(f'{n}: {x} + {y}' for n, (x, y) in pairs))}."
                    "</p>")
    jrc.loo_bod_section(doc, a, slug)

    # rank uncertainty
    doc.add(f'<h3 id="{slug}-uncertainty">Rank uncertainty</h3>')
    if a.uncertainty is not None:
        rs = a.uncertainty.rank_stats
        doc.add(f"<p>Monte Carlo over the uncertainty space <i>{esc(a.space.name if hasattr(a.space, 'name') else '')}</i> "
                f"({', '.join(map(esc, a.space.names))}); N = {a.uncertainty.figures['n_replications']}.</p>")
        doc.figure(F.rank_uncertainty(rs, title=f"{root}: rank uncertainty, all {len(rs)} "
                                      f"{noun[1]}"),
                   f"{slug}_rank_uncertainty", "Nominal rank (dot), median (tick) and 5–95 % "
                   "band (line), sorted by nominal rank")
        doc.figure(F.rank_uncertainty(rs, top=50, title=f"{root}: top 50", labels=a.names),
                   f"{slug}_rank_uncertainty_top50", "Zoom on the top 50")
        wid = a.widest_bands()
        if len(wid):
            doc.add("<p>Widest bands (5–95 %, in ranks; <code>observed_share</code> = share of "
                    "the unit's indicators observed before imputation):</p>")
            doc.table(f"{root}_widest_bands", wid, None,
                      display=_marked(wid, flag_below=a.flag_below))
            doc.add(_low_note(wid, a.flag_below))
        jrc.rank_shift_section(doc, a)
    jrc.unit_table_section(doc, a, slug)
    # sensitivity
    doc.add(f'<h3 id="{slug}-sensitivity">Sensitivity analysis</h3>')
    if a.sensitivity is not None:
        sa = a.sensitivity
        doc.add(f"<p>Sobol indices of the mean absolute rank shift (Saltelli design, base N = "
                f"{sa.n_base}, {sa.n_runs} runs; {esc(sa.interval_text())}). "
                f"{esc(sa.floor_text())}</p>")
        doc.figure(F.sobol(sa.overall, f"{root}: Sobol indices"), f"{slug}_sobol",
                   "First-order and total Sobol indices with their intervals; the dummy factor "
                   "(ignored by the model) last, its upper bound shading the noise floor")
        doc.table(f"{root}_sobol", sa.overall, None)
        if sa.convergence is not None:
            doc.figure(F.sobol_convergence(sa.convergence, f"{root}: Sobol indices against N"),
                       f"{slug}_sobol_convergence",
                       "Convergence: the indices of the mean |rank shift| on the nested designs "
                       "made of the first 1, 2, 4, … independent groups (no extra runs)")
            doc.table(f"{root}_sobol_convergence", sa.convergence, None)
        jrc.sobol_units_export(doc, a)
    else:
        doc.add('<p class="note">Sensitivity analysis did not run.</p>')
    jrc.scenario_section(doc, a, slug)

    # bayes
    doc.add(f'<h3 id="{slug}-bayes">Bayesian latent-score model</h3>')
    if a.bayes is not None:
        b = a.bayes
        pr = b.posterior_ranks.copy()
        pr["nominal"] = res.ranks[root].reindex(pr.index)
        stats = pr.rename(columns={"rank_median": "median", "rank_lo": "q5", "rank_hi": "q95"})
        collapsed = collapsed_nodes(fw)
        doc.add(
            "<p><b>An alternative aggregation model, not a confidence band for the ranks "
            f"above.</b> The hierarchical factor model treats each {noun[0]}'s standing on every "
            "node as an unknown latent score and learns how strongly each indicator measures "
            "it; the index's posterior ranks below are ranks of that latent score, so they "
            "differ from our nominal ranks (the dots) by design, and the implied weights are "
            "what the data's correlation structure gives each indicator, not a revision of "
            "the nominal weights. It is fitted on the observed cells only (imputed cells are "
            f"missing in its likelihood); {len(pr)} units ranked"
            + (f", {len(b.not_ranked)} not ranked (no observed indicator): "
               f"{esc(', '.join(a.name_of(b.not_ranked['unit'])))}"
               if b.not_ranked is not None and len(b.not_ranked) else "")
            + ". Identification matters: "
            + (f"the aggregates {', '.join(map(esc, collapsed))} have a single indicator, "
               "which therefore loads directly on the parent's latent score (a one-child node "
               "is collapsed) and can take a large implied weight; " if collapsed else "")
            + "two indicators under one node share one loading by assumption. Read the "
            "intervals as the uncertainty of this model's ranking, given its assumptions.</p>")
        doc.figure(F.rank_uncertainty(stats, title=f"{root}: posterior rank intervals of the "
                                      "latent score (90 %), sorted by nominal rank",
                                      band_label="90 % posterior interval"),
                   f"{slug}_bayes_ranks", "Bayesian posterior rank intervals (latent-score "
                   "model; the dots are our nominal ranks, for orientation)")
        conv = pd.DataFrame([b.convergence])
        doc.add(f"<p>Settings: {esc(b.settings)}. Convergence:</p>")
        doc.table(f"{root}_bayes_convergence", conv, None)
        doc.table(f"{root}_bayes_diagnostics", b.diagnostics.reset_index()
                  .sort_values("r_hat", ascending=False), 15)
    else:
        why = a.note("bayes") or "see notes"
        doc.add(f'<p class="note">Not available: {esc(why)}.</p>')

    # rank sets
    doc.add(f'<h3 id="{slug}-ranksets">Rank confidence sets</h3>')
    if a.rank_sets is not None:
        rsets = a.rank_set_table()
        conf = 1 - a.rank_sets.alpha
        w_s, w_m = a.rank_sets.widths()[["simultaneous", "marginal"]].median()
        doc.add(f"<p>Rank confidence sets (Mogstad, Romano, Shaikh &amp; Wilhelm 2024) under "
                f"<b>{esc(a.rank_sets.assumption)}</b>: the index is recomputed with the nominal "
                f"method on each perturbed data set, so all draws share one score scale; the "
                f"sets are centred on our nominal scores, and the covariance of the draws is "
                f"measured about those scores, so that the draws' own offset from them "
                f"counts as uncertainty (imputed cells are drawn from their imputation "
                f"distribution). <i>If that error model holds</i>, "
                f"with probability at least "
                f"{conf:.0%} every unit's true rank lies inside its <b>simultaneous</b> set "
                f"[<code>simultaneous_lower</code>, <code>simultaneous_upper</code>] jointly; "
                f"the <b>marginal</b> set holds one unit's true rank with probability "
                f"{conf:.0%} on its own. They measure uncertainty from measurement error in the "
                f"data only, not from methodological choices (those are the 5–95 % bands of the "
                f"uncertainty analysis above). The error model is an assumption: zeros stay "
                f"zero under a multiplicative error, "
                + ("country-level indicators are perturbed city by city, "
                   if noun[0] == "city" else "")
                + f"and ordinal indicators are perturbed as if continuous. <code>nominal_rank</code> is "
                f"our rank under the nominal method (not a published rank). Median width: "
                f"{w_s:.0f} places (simultaneous), {w_m:.0f} (marginal)."
                + (f" Not in the sets (no observed indicator, not ranked): "
                   f"{esc(', '.join(a.name_of(a.not_ranked()['unit'])))}."
                   if len(a.not_ranked()) else "") + " Top 25:</p>")
        doc.table(f"{root}_rank_sets", rsets, 25,
                  display=_marked(rsets, flag_below=a.flag_below))
        doc.add(_low_note(rsets.head(25), a.flag_below))
        doc.add(f'<p class="foot">Draws: {a.rank_sets.n_boot:,} bootstrap replications of the '
                f'score covariance estimated from the measurement-error draws; '
                f'{esc(a.rank_sets.note)}.</p>' if a.rank_sets.note else "")
        curve = a.rank_curve
        if curve is not None and len(curve):
            doc.add("<p><b>The width of the sets is set by the assumed error.</b> Median width "
                    "of the sets when every indicator carries the same relative SE, and under "
                    "the per-indicator error model of the framework and method (same seed, "
                    "same draws otherwise):</p>")
            try:
                doc.figure(F.rank_set_curve(curve, f"{root}: rank-set width vs assumed "
                                            "measurement error"),
                           f"{slug}_rank_set_curve", "Median width of the simultaneous and "
                           "marginal rank confidence sets against the assumed relative SE")
            except Exception as exc:  # noqa: BLE001 - never let one figure stop the report
                doc.add(f'<p class="note">Figure not drawn: {esc(exc)}</p>')
            doc.table(f"{root}_rank_set_curve", curve, None, digits=2)
        elif a.note("rank_curve"):
            doc.add(f'<p class="note">Width against the assumed error: '
                    f'{esc(a.note("rank_curve"))}.</p>')
    else:
        doc.add(f'<p class="note">Not available: {esc(a.note("rank_sets") or "not run")}.</p>')

    # published (only when a published table is given)
    pub = a.published_comparison()
    if pub is not None:
        doc.add(f'<h3 id="{slug}-published">{esc(a.published_label())}</h3>')
        doc.add("<p>The published ranks beside our nominal rank, median and 5–95 % "
                "methodological band (<code>our_q5</code>–<code>our_q95</code>); "
                "<code>percentile</code> is where the published rank lies in our rank "
                "distribution over the uncertainty analysis (0.5 = our median; "
                "P(rank &lt; published) + ½ P(rank = published)).</p>")
        if a.published_audit is not None:
            doc.add(f"<p>{esc(a.published_audit.headline())}. "
                    f"{esc(a.published_audit.correlation_text())}.</p>")
        try:
            doc.figure(F.published(pub, f"{root}: {a.published_label().lower()} vs ours",
                                   label=a.published_label().lower().replace(" ranking", "")
                                   + " rank"),
                       f"{slug}_published", "Published rank vs our rank and band"
                       + ("" if "in_band" in pub else
                          " (no band: the uncertainty analysis did not run)"))
        except Exception as exc:  # noqa: BLE001 - never let one figure stop the report
            doc.add(f'<p class="note">Published-ranking figure not drawn: '
                    f"{esc(type(exc).__name__)}: {esc(exc)}</p>")
        try:
            doc.table(f"{root}_published", pub, 100, digits=1)
        except Exception as exc:  # noqa: BLE001 - never let one table stop the report
            doc.add(f'<p class="note">Published table not shown: {esc(exc)}</p>')
    if getattr(a, "years", None) is not None:
        _years_html(doc, a, slug)
    doc.tables[f"{root}_rankings"] = a.rankings()


def _years_html(doc: _Doc, a, slug: str) -> None:
    """The year-on-year section: moves A → B with their paired bands, the arrows (ours, the
    published ones), the agreement, and the trajectories of the top 10."""
    from .compare_figures import year_moves_chart

    yc, root = a.years, a.root
    ya, yb = yc.years
    f = yc.figures
    doc.add(f'<h3 id="{slug}-years">Year-on-year moves {ya} → {yb}</h3>')
    doc.add(f"<p>Each unit's rank change from {ya} to {yb} with its band: the 5–95 % range "
            f"of the change over {yc.n} replications of the uncertainty space, each method "
            "draw applied to both years (paired). A move is <b>up</b> or <b>down</b> when the "
            "whole band lies on one side of zero, else <b>within band</b>: smaller than the "
            f"uncertainty of the two rankings. Of {f['n_compared']} units ranked in both "
            f"years, <b>{f['n_up']}</b> rise and <b>{f['n_down']}</b> fall beyond their "
            f"band; {f['n_within']} move within it (median band width "
            f"{f['median_band_width']:g} places). The arrows: ours (<code>arrow</code>, "
            "up / down / same as a seed-style table prints them) beside the classification."
            "</p>")
    if "agreement" in f:
        doc.add(f"<p>Against the published arrows of {yb} (cities in both published top-100 "
                f"lists, {f['n_published_both']}): our open-data direction agrees for "
                f"<b>{f['n_agree']}</b> ({f['agreement']:.0%}; {f['agreement_chance']:.0%} "
                "expected if the two sets of arrows were independent with the same "
                f"frequencies); among our real moves {f['n_agree_real']} of "
                f"{f['n_published_real']}. A figure, not a target: the open panel holds "
                "few indicators that change from year to year.</p>")
        conf = yc.confusion()
        if conf is not None:
            doc.add("<p>Our arrow (rows) against the published arrow (columns):</p>")
            doc.table(f"{root}_arrows_{ya}_{yb}", conf.reset_index(), None)
    names = a.names.to_dict() if len(a.names) else None
    try:
        doc.figure(year_moves_chart(yc, names=names), f"{slug}_year_moves",
                   f"Moves {ya} → {yb} of the top 40 in {yb}, with their paired bands")
        if a.history is not None:
            top = a.result.index_ranks.dropna().sort_values().index[:10]
            doc.figure(F.trajectories(a.history, top, names,
                                      f"{root}: rank over the years, top 10 of {yb}"),
                       f"{slug}_trajectories", "Rank over the years with 5–95 % bands")
    except Exception as exc:  # noqa: BLE001 - never let one figure stop the report
        doc.add(f'<p class="note">Year figures not drawn: {esc(type(exc).__name__)}: '
                f"{esc(exc)}</p>")
    t = yc.table.copy()
    t.insert(0, "name", a.name_of(t.index))
    t = t.reset_index().sort_values(["rank_b", "rank_a"])
    cols = [c for c in ("unit", "name", "rank_a", "rank_b", "change", "band_lo", "band_hi",
                        "classification", "arrow", "arrow_published", "rank_published")
            if c in t]
    doc.table(f"{root}_years_{ya}_{yb}", t[cols], 100, digits=2)
    if a.history is not None:
        doc.tables[f"{root}_history"] = a.history


def calibration_table() -> pd.DataFrame | None:
    """The calibration table bundled with the product (``cityindex/data/calibration.csv``,
    written by ``benchmarks/bench_calibration.py``), or None when there is none."""
    from importlib import resources

    f = resources.files("cityindex.data").joinpath("calibration.csv")
    if not f.is_file():
        return None
    with f.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def _calibration_section(doc: _Doc) -> None:
    """Coverage of every interval type the report prints, from the bundled calibration table
    (the report computes nothing: it shows the table and the version it was run on)."""
    import cityindex

    doc.add("<h2 id='calibration'>Calibration of the intervals</h2>")
    cal = calibration_table()
    if cal is None or not len(cal):
        doc.add('<p class="note">No calibration table is bundled: run '
                "<code>benchmarks/bench_calibration.py</code>.</p>")
        return
    ver = str(cal["version"].iloc[0]) if "version" in cal else "?"
    mode = str(cal["mode"].iloc[0]) if "mode" in cal else "?"
    now = getattr(cityindex, "__version__", "?")
    doc.add(f"<p>Coverage of each interval type this report prints, simulated with a known "
            f"truth by <code>benchmarks/bench_calibration.py</code> (table "
            f"<code>calibration.csv</code>, run on cityindex {esc(ver)}, {esc(mode)} mode"
            + ("" if ver == now else f"; this report was made by cityindex {esc(now)}")
            + "). <code>within</code>: the coverage lies within nominal ± max(3 Monte Carlo "
            "SE, 0.03); the design of each simulation is in the CSV.</p>")
    cols = [c for c in ("interval", "nominal", "coverage", "mc_se", "mean_width", "tolerance",
                        "within", "replications") if c in cal]
    doc.table("calibration", cal[cols], None)


def _profile_html(doc: _Doc, p) -> None:
    key = f"{p.index}_{p.code}"
    doc.add(f'<h3 id="profile-{html_id(key)}">{esc(p.name)} ({esc(p.code)}, '
            f'{esc(p.region)}) — {esc(p.index)}</h3>')
    for part, title in p.parts:
        table = getattr(p, part)
        doc.add(f"<p><b>{esc(title)}</b></p>")
        if table is None or not len(table):
            doc.add('<p class="foot">(none)</p>')
            doc.tables[f"profile_{key}_{part}"[:60]] = table
            continue
        doc.table(f"profile_{key}_{part}"[:60], table, None)
    if p.notes:
        doc.add('<div class="note"><ul>' + "".join(f"<li>{esc(n)}</li>" for n in p.notes)
                + "</ul></div>")


def write_report(audit, folder: Path, manifest: dict | None = None,
                 explorer: bool = True) -> Path:
    """Write the run folder of an :class:`~cityindex.auditing.Audit` into ``folder``; return the
    path of index.html. With ``explorer`` (default) also ``explorer.html``, the interactive
    page over the same audit (:mod:`.explorer`), linked from the report.

    index.html, results.json, the tables and the figures depend only on the inputs and the seed
    (byte for byte): the date and the wall times of the run go into ``manifest["timings"]``
    (manifest.json) only."""
    from cityindex.runio import write_json

    folder = Path(folder)
    doc = _Doc(folder)
    s = audit.settings
    nav = " ".join(f'<a href="#{html_id(k).lower()}">{esc(k)}</a>' for k in audit.indices)
    nouns = {a.unit_noun()[0] for a in audit.indices.values()}
    profiles_title = "City profiles" if nouns == {"city"} else "Unit profiles"
    doc.add(f"<h1>cityindex audit report</h1><p>"
            f"{'quick' if s.quick else 'full'} run · seed {esc(s.seed)} · uncertainty N = "
            f"{s.n_ua} · Sobol base N = {s.n_sa}</p>"
            f"<nav>{nav}{f' <a href=#profiles>{profiles_title}</a>' if audit.profiles else ''}"
            f"{' <a href=explorer.html>Interactive explorer</a>' if explorer else ''}</nav>")
    doc.add(failed_sections_html(audit))
    doc.add('<h2 id="key-figures">Key figures</h2>')
    for k, a in audit.indices.items():
        doc.add(f'<h3 id="key-{html_id(k).lower()}">{esc(k)}</h3><ul>'
                + "".join(f"<li>{x}</li>" for x in headline_sentences(a) + jrc.key_sentences(a))
                + "</ul>")
    from .parallel import render_sections

    render_sections(doc, list(audit.indices.values()), _index_sections,
                    workers=getattr(s, "workers", None))
    if audit.profiles:
        doc.add(f'<h2 id="profiles">{profiles_title}</h2>')
        for plist in audit.profiles.values():
            for p in plist:
                _profile_html(doc, p)
    _calibration_section(doc)
    doc.add("<h2 id='files'>Files</h2><p>Figures (PNG and SVG) in <code>figures/</code>, tables "
            "as CSV in <code>tables/</code> and in <code>tables.xlsx</code> (one sheet per "
            "table), <code>results.json</code>, <code>manifest.json</code> (with the date, "
            "the wall time of every stage and the list of files written; every other file is "
            "the same, byte for byte, for the same inputs and seed).</p>")
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>cityindex audit</title><style>{CSS}</style></head><body><main>"
            + "\n".join(doc.parts) + "</main>" + jrc.SEARCH_SCRIPT + "</body></html>")
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    join_tables = _write_tables(doc, folder, workers=getattr(s, "workers", None))
    if explorer:
        from .explorer import write_explorer

        write_explorer(audit, folder)
    results = audit.to_dict()
    timings = strip_timings(results)
    results["figures"] = doc.figures
    results["tables"] = sorted(doc.tables)
    write_json(folder / "results.json", results)
    if manifest is not None:
        manifest = dict(manifest)
        manifest["timings"] = timings
        write_json(folder / "manifest.json", manifest)
    join_tables()
    return index


def failed_sections_html(audit) -> str:
    """A banner listing the requested sections that failed or timed out ("" when none); the
    audit then exits with status 3 (see ``cityindex audit --help``)."""
    failed = {k: v for k, v in audit.failed.items() if v}
    if not failed:
        return ""
    items = "".join(f"<li><b>{esc(k)}</b>: " + ", ".join(
        f"{esc(st)} ({esc(audit.indices[k].status[st].state)}: "
        f"{esc(audit.indices[k].status[st].message)})" for st in stages) + "</li>"
        for k, stages in failed.items())
    return ('<div class="note" id="incomplete"><b>Incomplete report.</b> These requested '
            f"sections failed or timed out and are missing below:<ul>{items}</ul></div>")


def strip_timings(results: dict) -> dict:
    """Remove the wall times from the results dict (in place) and return them: ``total_s``,
    per index the stage times, and the seconds of every stage status."""
    out = {"total_s": results.get("timings", {}).get("total_s"), "indices": {}}
    results.pop("timings", None)
    for k, r in results.get("indices", {}).items():
        out["indices"][k] = {"stages": r.pop("timings", {}),
                             "status_seconds": {st: v.pop("seconds", None)
                                                for st, v in r.get("status", {}).items()}}
    return out


def _sheet_name(name: str, used: set) -> str:
    """An Excel sheet name: no []:*?/\\, not starting or ending with an apostrophe, at most 31
    characters, unique regardless of case, not the reserved "History"."""
    base = "".join(c for c in str(name) if c not in "[]:*?/\\").strip("'")[:31] or "sheet"
    if base.casefold() == "history":
        base = f"{base}_"
    out, i = base, 1
    while out.casefold() in used:
        i += 1
        out = f"{base[:27]}_{i}"
    used.add(out.casefold())
    return out


def _write_tables(doc: _Doc, folder: Path, workers: int | None = None):
    """Each table as ``tables/<safe name>.csv`` and as one sheet of ``tables.xlsx``; text
    cells that a spreadsheet would read as formulas are neutralised in both. Returns
    ``join()``: the workbook may still be being written (:func:`.parallel.in_background`)."""
    tdir = inside(folder, folder / "tables")
    tdir.mkdir(exist_ok=True)
    used: set = set()
    sheets = {}
    for name, df in doc.tables.items():
        sheets[_sheet_name(name, used)] = neutralise_frame(
            df if df is not None else pd.DataFrame(), index=False)
    book = inside(folder, folder / "tables.xlsx")
    from .parallel import in_background

    # the workbook (the slowest file) is written beside the CSVs
    join = in_background(lambda: write_workbook(book, sheets), workers)
    for (name, _), safe in zip(doc.tables.items(), sheets.values()):
        safe.to_csv(inside(folder, folder / doc.table_file(name)), index=False)
    return join

"""Report sections of a JRC-style statistical audit, beside those of :mod:`.html`.

* key figures on coherence (Cronbach's α, indicator–parent–index correlations against their
  thresholds) and on the distribution of rank shifts;
* the leave-one-out and benefit-of-the-doubt results of the weight audit;
* the distribution of rank shifts (share of units within ±3 / ±10 places of their nominal
  rank) and the per-unit table (nominal rank, median rank, 5–95 % band, flags), collapsible,
  with a search box (a small inline script; without JavaScript the table is all there);
* the one-at-a-time scenario table (Spearman ρ and mean absolute rank shift of each
  alternative applied alone);
* the per-unit Sobol indices as a table of the run folder (CSV and XLSX).

Everything shown is a view of the :class:`~cityindex.auditing.IndexAudit`; nothing is computed
here.
"""

from __future__ import annotations

import html as _html

import numpy as np

#: the one script of the report: the search boxes of long unit tables (inputs stay hidden
#: without JavaScript; the tables are complete either way)
SEARCH_SCRIPT = """<script>
(function () {
  var boxes = document.querySelectorAll("input[data-filter-table]");
  for (var b = 0; b < boxes.length; b++) (function (inp) {
    var table = document.getElementById(inp.getAttribute("data-filter-table"));
    var count = document.getElementById(inp.getAttribute("data-count"));
    if (!table) return;
    inp.hidden = false;
    inp.addEventListener("input", function () {
      var q = inp.value.trim().toLowerCase(), rows = table.tBodies[0].rows, n = 0;
      for (var i = 0; i < rows.length; i++) {
        var hit = !q || rows[i].textContent.toLowerCase().indexOf(q) >= 0;
        rows[i].hidden = !hit;
        if (hit) n++;
      }
      if (count) count.textContent = q ? n + " of " + rows.length + " shown" : "";
    });
  })(boxes[b]);
})();
</script>"""

#: CSS of the sections (added to the report's stylesheet)
CSS = """
details.long>summary,details.units>summary{cursor:pointer;color:#1f4e79;margin:.4em 0}
details.units table td,details.units table th{white-space:nowrap}
input.unit-search{margin:.3em 0 .5em;width:18em}
.flagtag{background:#fde8e8;color:#8a1c1c;border-radius:3px;padding:0 .3em;margin-right:.2em;
 font-size:11px;white-space:nowrap}
"""

#: human names of the audit's stages, for notes
STAGE_LABELS = {"weights": "Coherence and weights", "prepare": "Alternatives of the uncertainty "
                "space", "scenarios": "One-at-a-time scenarios", "uncertainty": "Uncertainty "
                "analysis", "sensitivity": "Sensitivity analysis", "bayes": "Bayesian model",
                "rank_sets": "Rank confidence sets", "rank_curve": "Rank-set width vs assumed error",
                "published": "Published ranking"}
STATE_LABELS = {"ok": "note", "skipped": "skipped", "failed": "failed", "timeout": "timed out"}


def esc(x) -> str:
    return _html.escape(str(x))


def _rank(v) -> str:
    from .profile import display_rank

    return display_rank(v)


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


# ----------------------------------------------------------------------------- key figures
def key_sentences(a) -> list[str]:
    """Coherence and rank-shift figures for the key figures (escaped HTML)."""
    out = []
    c = a.coherence_figures()
    if c is not None:
        thr = c["alpha_threshold"]
        below = c["alpha_below"]
        out.append(f"Cronbach's α on standardised items (internal consistency of each "
                   f"group of three or more children; threshold {thr:g}): at or above in "
                   f"<b>{c['n_alpha_ok']} of {c['n_groups']}</b> groups"
                   + (f"; below: {esc(', '.join(below))} (lowest "
                      f"{esc(c['alpha_min_group'])}, α = {c['alpha_min']:.2f})"
                      if below else "") + "."
                   + (f" Groups of two children ({c.get('n_two_item', 0)}) get the "
                      "inter-item correlation and its Spearman–Brown reliability instead of α"
                      + (f"; below {thr:g}: {esc(', '.join(c['spearman_brown_below']))}"
                         if c.get("spearman_brown_below") else "") + "."
                      if c.get("n_two_item") else ""))
        parts = []
        for key, label in (("indicator_parent", "indicator–parent"),
                           ("indicator_index", "indicator–index"),
                           ("aggregate_index", "sub-index–index")):
            lo, hi = c[f"{key}_range"]
            if not np.isfinite(lo):
                continue
            weak = c[f"{key}_weak"]
            parts.append(f"{label} {lo:.2f} to {hi:.2f}"
                         + (f" ({len(weak)} below {c['weak']:g}: {esc(', '.join(weak))})"
                            if weak else ""))
        if parts:
            out.append("Pearson correlations (weak below " f"{c['weak']:g}; children of "
                       "one-child groups left out): " + "; ".join(parts) + ".")
        red = c["redundant_pairs"]
        out.append(f"Sibling pairs correlated above {c['redundancy']:g} (redundant): "
                   + (f"<b>{esc(', '.join(red))}</b>" if red else "none")
                   + ("; significantly negative correlations ("
                      + {"holm": "Holm-adjusted", "bh": "Benjamini–Hochberg-adjusted"}.get(
                          c.get("p_adjust", "holm"), "unadjusted")
                      + f" p &lt; 0.05): {esc(', '.join(c['negative']))}"
                      if c["negative"] else "") + ".")
    rs = a.rank_shifts()
    if rs is not None:
        s = rs.shares
        out.append(f"Median rank over the Monte Carlo replications within ±3 places of the "
                   f"nominal rank for <b>{s['median_within_3']:.0%}</b> of "
                   f"{a.unit_noun()[1]}, within ±10 places for "
                   f"<b>{s['median_within_10']:.0%}</b>.")
    return out


def stage_notes(a) -> str:
    """The box of stage notes (skipped, failed, timed-out or warned stages) in plain words."""
    notes = {k: st for k, st in a.status.items() if st.message}
    if not notes:
        return ""
    return ('<div class="note"><b>Notes</b><ul>' + "".join(
        f"<li><b>{esc(stage_label(k))}</b> ({esc(STATE_LABELS.get(st.state, st.state))}): "
        f"{esc(st.message)}</li>" for k, st in notes.items()) + "</ul></div>")


# ----------------------------------------------------------------------------- sections
def loo_bod_section(doc, a, slug: str) -> None:
    """Leave-one-out rank shifts and benefit-of-the-doubt scores (weight audit)."""
    doc.add(f'<h3 id="{slug}-loo">Leave-one-out and benefit of the doubt</h3>')
    loo, bod = a.loo_table(), a.bod_table()
    if loo is None and bod is None:
        why = ("not run in --quick mode (run without --quick, or <code>cityindex weights</code>)"
               if a.status.get("weights") is not None and a.status["weights"].ok
               else esc(a.note("weights") or "the weight audit did not run"))
        doc.add(f'<p class="note">Leave-one-out and benefit of the doubt: {why}.</p>')
        return
    noun = a.unit_noun()[1]
    if loo is not None:
        top = loo.iloc[0]
        doc.add(f"<p><b>Leave-one-out</b>: the index rebuilt without each indicator and "
                f"aggregate in turn (siblings' weights renormalised); mean and largest absolute "
                f"shift of the {noun}' ranks, and how many {noun} moved. Largest: removing "
                f"<b>{esc(top['removed'])}</b> moves {noun} by {top['mean_abs_shift']:.1f} "
                "places on average.</p>")
        doc.table(f"{a.root}_leave_one_out", loo, None, digits=2, ints=("max_abs_shift",))
    if bod is not None:
        f = a.bod_figures()
        doc.add(f"<p><b>Benefit of the doubt</b> (Cherchye et al. 2007): each unit's most "
                f"favourable indicator weights (one linear programme per unit, no bounds on the "
                f"weight shares). {f['n_frontier']} of {f['n_units']} {noun} reach the frontier "
                f"(score 1); median score {f['median']:.3f}; Spearman's ρ with the index score "
                f"{f['spearman_with_index']:.3f}; mean absolute shift between BoD and nominal "
                f"ranks {f['mean_abs_rank_shift']:.1f} places.</p>")
        doc.table(f"{a.root}_benefit_of_the_doubt", bod, None, digits=3,
                  ints=("rank", "bod_rank", "rank_shift"))


def rank_shift_section(doc, a) -> None:
    """The distribution of rank shifts (JRC: share within ±3 / ±10 places)."""
    rs = a.rank_shifts()
    if rs is None:
        return
    doc.add(f"<p><b>Distribution of rank shifts.</b> {esc(rs.sentence())} "
            "Shares by absolute shift from the nominal rank, of the units' median ranks and of "
            "all simulated ranks:</p>")
    t = rs.table.rename(columns={"shift": "|shift| (places)",
                                 "units_median": "share of units (median rank)",
                                 "replications": "share of all simulated ranks"})
    doc.table(f"{a.root}_rank_shift_distribution", rs.table, None, display=t)


def unit_table_section(doc, a, slug: str) -> None:
    """Every unit: nominal rank, median rank, 5–95 % band, observed share, top driver, flags;
    collapsed, with a search box."""
    t = a.unit_table()
    doc.tables[f"{a.root}_units"] = t
    noun = a.unit_noun()
    band = "5–95 %"
    if a.uncertainty is not None:
        pc = a.uncertainty.figures.get("percentiles", [5, 95])
        band = f"{pc[0]:g}–{pc[-1]:g} %"
    doc.add(f'<h3 id="{slug}-units">All {esc(noun[1])}: ranks and bands</h3>')
    tid = f"{slug}-units-table"
    has_band = "q5" in t
    head = ["rank", "name"] + (["region"] if "region" in t else []) + (
        ["median rank", f"{band} band", "band width"] if has_band else []) + [
        "observed"] + (["top driver"] if "top_driver" in t else []) + ["flags"]
    rows = []
    for r in t.itertuples(index=False):
        d = r._asdict()
        cells = [_rank(d["rank"]), esc(d["name"])]
        if "region" in t:
            cells.append(esc(d["region"]) if isinstance(d["region"], str) else "–")
        if has_band:
            cells += [_rank(d["median"]), f"{_rank(d['q5'])}–{_rank(d['q95'])}",
                      _rank(d["width"])]
        cells.append(f"{d['observed_share']:.0%}" if np.isfinite(d["observed_share"]) else "–")
        if "top_driver" in t:
            cells.append(esc(d["top_driver"]) if isinstance(d["top_driver"], str) else "–")
        cells.append("".join(f'<span class="flagtag">{esc(f)}</span>'
                             for f in str(d["flags"] or "").split(";") if f))
        rows.append(f'<tr data-unit="{esc(d["unit"])}">'
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    doc.add(f'<details class="units" id="{slug}-units-details"><summary>Show all {len(t)} '
            f"{esc(noun[1])}: nominal rank, median rank and {band} methodological band "
            f"({a.uncertainty.figures['n_replications'] if a.uncertainty else 0} Monte Carlo "
            "replications), share of indicators observed, the assumption that drives the "
            "rank most (largest total Sobol index), flags</summary>"
            f'<input type="search" class="unit-search" hidden placeholder="search {esc(noun[1])}'
            f'" aria-label="search {esc(noun[1])}" data-filter-table="{tid}" '
            f'data-count="{tid}-count"> <span id="{tid}-count" class="foot"></span>'
            f'<div class="wrap"><table id="{tid}"><thead><tr>'
            + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>"
            f'<p class="foot">Also as <code>{esc(doc.table_file(f"{a.root}_units"))}</code>; the '
            "interactive <code>explorer.html</code> filters and compares them.</p></details>")


def scenario_section(doc, a, slug: str) -> None:
    """One-at-a-time scenarios: each alternative applied alone, against the nominal ranking."""
    doc.add(f'<h3 id="{slug}-scenarios">One-at-a-time scenarios</h3>')
    sc = a.scenarios
    if sc is None:
        doc.add(f'<p class="note">Not available: {esc(a.note("scenarios") or a.note("prepare") or "the alternatives were not prepared")}.</p>')
        return
    t = sc.to_frame()
    noun = a.unit_noun()[1]
    alt = t[t["kind"] != "baseline"]
    low = alt.nsmallest(1, "spearman")
    doc.add("<p>Each alternative of the uncertainty space applied <i>alone</i>, every other "
            "choice nominal: Spearman's ρ between its index scores and the nominal scores, and "
            f"the mean and largest absolute shift of the {noun}' ranks from their nominal "
            "ranks. Read from the alternatives the uncertainty analysis prepared (no extra "
            "pipeline run). Random perturbations (weight noise, measurement error) are "
            "summarised over their draws (median; 5–95 % range in the note)."
            + (f" Largest change: <b>{esc(low['assumption'].iloc[0])} = "
               f"{esc(low['alternative'].iloc[0])}</b> (ρ = {low['spearman'].iloc[0]:.3f}, "
               f"mean shift {low['mean_abs_shift'].iloc[0]:.1f} places)." if len(low)
               and np.isfinite(low["spearman"].iloc[0]) else "") + "</p>")
    show = t[["assumption", "alternative", "spearman", "mean_abs_shift", "max_abs_shift",
              "note"]].rename(columns={"spearman": "Spearman ρ",
                                       "mean_abs_shift": "mean |rank shift|",
                                       "max_abs_shift": "max |rank shift|"})
    doc.table(f"{a.root}_scenarios", t, None, display=show, ints=("max |rank shift|",))


def sobol_units_export(doc, a) -> None:
    """The per-unit Sobol indices as a table of the run folder, with a sentence."""
    t = a.sobol_units()
    if not len(t):
        return
    doc.tables[f"{a.root}_sobol_units"] = t
    noun = a.unit_noun()
    doc.add(f"<p>Sobol indices of every {esc(noun[0])}'s rank (S1 and STi of each assumption "
            f"with {a.sensitivity.conf_level:.0%} bootstrap intervals): "
            f"<code>tables/{esc(a.root)}_sobol_units.csv</code> and the sheet of "
            f"<code>tables.xlsx</code>; the three largest per {esc(noun[0])} are in the "
            f"table of all {esc(noun[1])} (top driver), in the explorer and in the "
            "profiles.</p>")

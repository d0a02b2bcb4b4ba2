"""Compare two index results before publication: method A vs B, year t−1 vs t, ours vs published.

``compare(result_a, result_b)`` is the entry point: it takes two
:class:`~cityindex.model.pipeline.IndexResult` objects and returns a :class:`Comparison` of
their rank and score shifts (:mod:`.shifts`), carrying the Shapley attribution of the moves to
the method stages in which A and B differ (:mod:`.attribution`) and, on request, a comparison
of B with a published ranking (:mod:`.published`). Figures live in
:mod:`cityindex.report.compare_figures`.

* :mod:`.shifts` — :func:`compare_results`, :class:`Comparison`, arrows, band limits;
* :mod:`.attribution` — :func:`diff_specs`, :func:`hybrid_spec`, :func:`shared_inputs`,
  :func:`attribute_stages`, :class:`Attribution`;
* :mod:`.published` — :func:`read_published`, :func:`compare_published`,
  :class:`PublishedComparison`, :func:`published_rank_audit`, :func:`published_audit`
  (the published ranking in our rank distribution with its permutation baseline,
  :func:`permutation_band_baseline`, and bootstrap intervals of Spearman and Kendall,
  :func:`rank_correlation_intervals`).
"""

from __future__ import annotations

from typing import Any

from cityindex.model.errors import CityIndexError, DataError, FrameworkError

from .attribution import (ALL_VALID, Attribution, attribute_stages, diff_specs, hybrid_spec,
                          shared_inputs)
from .published import (PublishedAudit, PublishedComparison, compare_published,
                        permutation_band_baseline, published_audit, published_rank_audit,
                        rank_correlation_intervals, read_published)
from .shifts import ARROWS, Comparison, arrows, band_limits, band_name, compare_results

__all__ = ["compare", "Comparison", "compare_results", "arrows", "band_limits", "band_name",
           "ARROWS", "Attribution", "attribute_stages", "diff_specs", "hybrid_spec",
           "shared_inputs", "PublishedComparison", "compare_published", "read_published",
           "published_rank_audit", "PublishedAudit", "published_audit",
           "permutation_band_baseline", "rank_correlation_intervals"]


def compare(result_a, result_b, *, band: Any = None, top_k: int = 10,
            labels: tuple[str, str] = ("A", "B"), attribution: bool = True,
            published: Any = None) -> Comparison:
    """Compare two index results: shifts, correlations, top-k moves, band, attribution.

    Parameters
    ----------
    result_a, result_b : IndexResult of A and B (two methods, two data vintages or two
        frameworks). Every aggregate common to both is compared.
    band : method A's methodological rank band over an uncertainty space: A's
        ``UncertaintyResult``, its ``rank_stats`` table, or a mapping node → table (see
        :func:`compare_results`). None: moves are not classified.
    top_k : size of the top group for entries and exits.
    labels : names of A and B.
    attribution : attribute each unit's move to the differing method stages (exact Shapley,
        :func:`attribute_stages`, over every aggregate). There is none — and
        ``Comparison.attribution_note`` says why — when the methods are the same, when
        framework or data differ between A and B, or when the attribution fails: a failing
        hybrid method never breaks the comparison (its error becomes the note).
    published : a published ranking (path or DataFrame, see :func:`compare_published`) to
        compare B with; None for none.

    Returns
    -------
    Comparison, with ``differing_stages``, ``attribution`` (an :class:`Attribution` or None),
    ``attribution_note`` and ``published`` (a :class:`PublishedComparison` or None) set.

    Raises
    ------
    MethodError for a bad ``top_k``; DataError for a band table without percentile columns or
    a published table without ranks. Errors of the attribution are not raised.
    """
    comp = compare_results(result_a, result_b, band=band, top_k=top_k, labels=labels)
    att, note = None, ""
    differing = diff_specs(result_a.method, result_b.method)
    if not attribution:
        note = "no stage attribution: not requested"
    elif not differing:
        note = "no stage attribution: the methods are the same"
    else:
        try:
            shared_inputs(result_a, result_b)
        except (FrameworkError, DataError):
            note = "no stage attribution: framework or data differ between A and B"
        else:
            att, note = _attribution(result_a, result_b)
    comp.differing_stages = differing
    comp.attribution = att
    comp.attribution_note = " ".join(note.split())
    if published is not None:
        comp.published = compare_published(result_b, published)
    return comp


def _attribution(result_a, result_b) -> tuple[Attribution | None, str]:
    """The attribution over every aggregate and its note; whatever goes wrong in the hybrid
    methods, (None, the reason) — reported as the hybrid's error, never as one of the data."""
    try:
        att = attribute_stages(result_a, result_b, nodes="all")
    except Exception as exc:  # noqa: BLE001 - the comparison must survive its attribution
        reason = " ".join(str(exc).split())
        if not isinstance(exc, CityIndexError):
            reason = f"{type(exc).__name__}: {reason}"
        return None, (reason if reason.startswith("stage attribution not possible")
                      else f"stage attribution not possible: {reason}")
    return att, att.note or ALL_VALID

"""The publishable audit report of a composite city index (``cityindex audit``).

* :mod:`.audit` runs every stage (compute, coherence and weights, uncertainty, sensitivity,
  Bayesian model, rank confidence sets, published-ranking comparison) and returns one
  :class:`~validation.report.audit.AuditResult` that everything else reads from;
* :mod:`.figures` draws each figure (matplotlib, Agg) as a function returning a Figure;
* :mod:`.profile` builds city profiles;
* :mod:`.html` renders the self-contained ``index.html`` and writes the run folder.
"""

from .audit import AuditResult, AuditSettings, IndexAudit, run_audit

__all__ = ["AuditResult", "AuditSettings", "IndexAudit", "run_audit"]

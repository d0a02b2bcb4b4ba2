"""Variance-based (Sobol') sensitivity analysis: problem, Saltelli design, estimators, bootstrap CIs.

The workflow reads like SALib::

    problem = SobolProblem(["weights", "normalisation", "winmax"], [None, 2, 5])
    design = saltelli_design(problem, n=4096, seed=1)      # A, B, AB_i  -> N(d+2) runs
    X = design.matrix()                                      # (N(d+2), d) unit-cube values
    lv = design.levels()                                     # discrete columns -> level indices
    Y = evaluate_all_rows(X, lv)                             # (N(d+2),) or (N(d+2), n_outputs)
    res = analyze(design, Y, seed=1)                         # SobolResult
    res.to_frame()                                           # tidy DataFrame
    print(res.summary().as_text())

Modules, one job each:

* :mod:`.design` — :class:`SobolProblem` (continuous and discrete factors, ``floor(u * L)``
  levels; case B12), :func:`sample_uniform`, :class:`SaltelliDesign`, :func:`saltelli_design`
  (scrambled Sobol' points; Saltelli et al. 2010, Sobol' 2001, OECD/JRC Handbook 2008, Step 7);
* :mod:`.estimators` — first order (Saltelli et al. 2010, Table 2 (b)), total order (Jansen
  1999), centring, the bootstrap of base rows as a count-matrix product, flags and
  :class:`SensitivityWarning` (small samples, case B13);
* :mod:`.analysis` — :func:`analyze`, which runs the estimators on a design's outputs;
* :mod:`.result` — :class:`SobolResult` (results protocol: ``summary()``, ``to_frame()``,
  ``to_dict()``).
"""

from cityindex.validation.sobol.estimators import MIN_BASE_ROWS, WIDE_CI, SensitivityWarning
from cityindex.validation.sobol.design import (
    SaltelliDesign,
    SobolProblem,
    saltelli_design,
    sample_uniform,
)
from cityindex.validation.sobol.result import SobolResult
from cityindex.validation.sobol.analysis import analyze

__all__ = [
    "SensitivityWarning",
    "SobolProblem",
    "SaltelliDesign",
    "SobolResult",
    "sample_uniform",
    "saltelli_design",
    "analyze",
    "MIN_BASE_ROWS",
    "WIDE_CI",
]

"""Bayesian hierarchical latent-score model for composite indices (issue 5).

Public API (PyMC/ArviZ are imported lazily, only when a model is fitted)::

    from cityindex.model.bayes import LatentScoreModel, compare_likelihoods, simulate
    m = LatentScoreModel(likelihood="normal", chains=4, draws=1000, tune=1000, seed=0)
    m.fit(X, framework)          # X: units × indicators (treated values, NaN = missing)
    m.latent_scores(); m.posterior_ranks("Index", top_k=(10,)); m.implied_weights()
    m.ppc(); m.loo(); m.summary(); m.save("posterior.nc")

Modules: ``result`` (the fit to an index result), ``structure`` (tree → latent structure, standardisation), ``models`` (PyMC builders,
conditional score draws), ``estimator`` (the estimator), ``simulate`` (simulation check),
``summaries`` (HDI, ranks).
"""

from .result import BayesResult, bayes_input, fit_bayes
from .estimator import (ConvergenceError, ConvergenceWarning, LatentScoreModel,
                        compare_likelihoods)
from .simulate import (SimulatedData, framework_of_shape, loading_error, rank_coverage,
                       simulate)
from .structure import LatentStructure, standardise

__all__ = ["BayesResult", "bayes_input", "fit_bayes", "LatentScoreModel", "compare_likelihoods", "ConvergenceWarning", "ConvergenceError",
           "simulate", "framework_of_shape", "SimulatedData", "rank_coverage", "loading_error", "LatentStructure",
           "standardise"]

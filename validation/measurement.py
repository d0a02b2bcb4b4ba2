"""Score draws under measurement error, for rank inference (:mod:`.rank_inference`).

Each draw perturbs every observed indicator value multiplicatively, x·(1 + ε), ε ~ N(0, sd²),
and recomputes the index with the nominal method (treatment and normalisation included), so the
draws are on one common score scale, as rank confidence sets need. The draws give the score
covariance; the sets are centred on the nominal scores (Mogstad, Romano, Shaikh & Wilhelm 2024
assume estimates centred on the truth, which the nonlinear pipeline's draw mean is not).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .engine import prepare, run_replications
from .rank_inference import ScoreDraws
from .space import UncertaintySpace


def measurement_score_draws(result, sd: float = 0.10, draws: int = 200,
                            seed: int | None = None, progress=None) -> ScoreDraws:
    """Index scores of ``result`` (an IndexResult) under a multiplicative measurement error of
    relative standard deviation ``sd`` in every indicator value.

    ``progress(step, done, total)`` reports the pipeline runs of the perturbed data sets
    (:mod:`cityindex.model.progress`).

    Returns
    -------
    ScoreDraws: ``draws`` (draws × units) of the index score, centred on the nominal scores
    (``estimates``), with ``source="measurement"`` and the assumption stated.
    """
    space = UncertaintySpace.from_dict({"assumptions": {"measurement": {"measurement": {
        "kind": "multiplicative", "sd": float(sd), "draws": int(draws)}}}}, result.framework,
        result.method)
    p = prepare(result, space, seed, progress=progress)
    out = run_replications(p, np.arange(draws)[:, None])
    S = pd.DataFrame(out["index_scores"], columns=p.units).rename_axis("draw")
    return ScoreDraws.from_draws(
        S, estimates=result.index_scores.loc[p.units], source="measurement",
        assumption=f"{sd:.0%} multiplicative measurement error in every indicator value, "
                   f"{draws} draws")

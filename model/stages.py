"""The stage registry: every method of every pipeline stage, with its parameters, in one place.

Each stage module registers its methods with :func:`register` (a decorator on the function that
implements the method); the method spec (:mod:`.method`) validates a spec against this registry
and the pipeline (:mod:`.pipeline`, through each stage's dispatcher) looks the function up here,
so a valid method name and its parameter keys are declared exactly once.

Stages with a choice of method: ``imputation``, ``treatment``, ``normalisation``,
``aggregation`` (OECD/JRC Handbook 2008, Steps 3–6). Stages without one (``denomination``,
``screening``, and ``ranking``: the publication conventions of :mod:`.ranking`) have a fixed set
of keys in :data:`PLAIN_STAGES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import MethodError

#: stages whose section names a ``method``, in pipeline order
METHOD_STAGES = ("imputation", "treatment", "normalisation", "aggregation")
#: keys every method of a stage accepts besides its own
COMMON_PARAMS: dict[str, frozenset[str]] = {
    "imputation": frozenset(), "treatment": frozenset(),
    "normalisation": frozenset({"direction"}), "aggregation": frozenset({"min_availability"}),
}
#: stages without a method choice: stage -> allowed keys
PLAIN_STAGES: dict[str, frozenset[str]] = {
    "denomination": frozenset({"enabled"}),
    "screening": frozenset({"min_availability", "force_include", "force_exclude", "measure"}),
    "ranking": frozenset({"round", "ties", "publish"}),
    # sections of the method that are not pipeline stages (same validation): the availability
    # flag of the ranking rule (model/availability.py) and the per-indicator measurement-error
    # model behind the rank sets (model/measurement_error.py)
    "availability": frozenset({"flag_below"}),
    "measurement_error": frozenset({"kind", "se", "indicators"}),
    # data of several years (model/temporal.py): temporal imputation within each unit's own
    # series, and the reference of treatment and normalisation (each year, or all years)
    "panel": frozenset({"interpolation", "carry", "reference"}),
}
#: plain sections that may also be overridden per level and per node
PLAIN_PER_NODE = ("ranking",)


@dataclass(frozen=True)
class StageMethod:
    """One method of one stage: the function that implements it, the parameter keys a method
    spec may give it (besides ``method`` and the stage's common keys), their defaults, and
    free-form ``options`` the stage's dispatcher reads (e.g. ``directional``)."""

    stage: str
    name: str
    func: Callable
    params: frozenset[str]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> frozenset[str]:
        """Every key the method's section may hold besides ``method``."""
        return self.params | COMMON_PARAMS[self.stage]


_REGISTRY: dict[str, dict[str, StageMethod]] = {s: {} for s in METHOD_STAGES}


def register(stage: str, name: str, params=(), defaults: Mapping[str, Any] | None = None,
             **options) -> Callable[[Callable], Callable]:
    """Decorator: register the decorated function as method ``name`` of ``stage``."""
    if stage not in _REGISTRY:
        raise ValueError(f"unknown stage '{stage}'")

    def deco(func: Callable) -> Callable:
        if name in _REGISTRY[stage]:
            raise ValueError(f"{stage} method '{name}' registered twice")
        _REGISTRY[stage][name] = StageMethod(stage, name, func, frozenset(params),
                                             dict(defaults or {}), dict(options))
        return func

    return deco


def get(stage: str, name: str) -> StageMethod:
    """The registered method ``name`` of ``stage``.

    Raises
    ------
    MethodError naming the valid methods when ``name`` is unknown.
    """
    try:
        return _REGISTRY[stage][name]
    except KeyError:
        raise MethodError(f"unknown {stage} method '{name}'; valid: {methods(stage)}") from None


def methods(stage: str) -> list[str]:
    """The method names of ``stage``, in registration order."""
    return list(_REGISTRY[stage])


def stage_methods() -> dict[str, dict[str, frozenset[str]]]:
    """stage -> method -> allowed parameter keys (besides ``method``)."""
    return {s: {n: m.keys for n, m in table.items()} for s, table in _REGISTRY.items()}


def param_defaults(stage: str, name: str) -> dict[str, Any]:
    """The default parameters of a method (empty for an unknown one)."""
    m = _REGISTRY.get(stage, {}).get(name)
    return dict(m.defaults) if m else {}


# The stage modules register their methods when imported.
from . import aggregate, impute, normalise, treat  # noqa: E402,F401

"""Method spec: which rule each pipeline stage applies, with per-level and per-node overrides.

A spec is a YAML mapping with one section per stage (see DESIGN.md), e.g.::

    imputation: {method: group_mean, group: EurAsia_group}
    screening: {min_availability: 0.9}
    treatment: {method: coinr, winmax: 5, skew: 2.0, kurtosis: 3.5}
    normalisation: {method: minmax, range: [0, 100]}
    aggregation: {method: arithmetic}
    weights: {P1: 0.7, P2: 0.3}          # optional: replaces framework weights
    ranking: {round: 3, ties: min}       # publication conventions (model.ranking)
    overrides:
      levels: {2: {aggregation: {method: geometric}}}
      nodes: {Flights: {treatment: {method: none}}}

Resolution for a node: the stage section, then its level's override, then its own override; an
override that names a different ``method`` replaces the section instead of merging into it.
Unknown keys and unknown choices raise :class:`MethodError` listing the valid ones.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import MethodError, read_yaml
from .schema import MAX_WEIGHT, PARAM_TYPES, SchemaError, Text, short
from .yamlio import Float, Int, plain

from . import stages as registry
from .ranking import check_ranking
from .stages import PLAIN_PER_NODE, PLAIN_STAGES, METHOD_STAGES as STAGES_PER_NODE

DEFAULTS: dict[str, dict[str, Any]] = {
    "denomination": {"enabled": True},
    "screening": {"min_availability": 0.0, "force_include": [], "force_exclude": [],
                  "measure": "denominated"},
    "imputation": {"method": "none"},
    "treatment": {"method": "none"},
    "normalisation": {"method": "minmax", "range": [0.0, 100.0]},
    "aggregation": {"method": "arithmetic"},
    "ranking": {"round": None, "ties": "min", "publish": "rounded"},
    # not stages: units with fewer than this share of a node's indicators observed are flagged
    # (model/availability.py); units with none are never ranked there
    "availability": {"flag_below": 0.5},
    # the error model of the rank sets' measurement draws for indicators without their own
    # (framework node ``error``, or ``indicators`` here); se None = the built-in assumption,
    # relative SE 0.10 (model/measurement_error.py)
    "measurement_error": {"kind": "relative", "se": None, "indicators": {}},
    # panel data (model/temporal.py): gaps between a unit's observed years interpolated
    # linearly, years outside them carried from the nearest observation (flagged), each year
    # treated and normalised on its own (reference: panel = one range over all years)
    "panel": {"interpolation": "linear", "carry": "both", "reference": "year"},
}
TOP_KEYS = set(registry.METHOD_STAGES) | set(PLAIN_STAGES) | {"weights", "overrides", "name",
                                                     "description", "seed"}


def _key_text(key: Any) -> str:
    """A mapping key as a code: a number keeps the text it was written as."""
    return key.text if isinstance(key, (Int, Float)) else str(key)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# parameter key -> type (model.schema.PARAM_TYPES), applied wherever the key appears; as
# (check, what a valid value is) pairs for callers of the earlier form
PARAM_CHECKS: dict[str, tuple[Any, str]] = {k: (t.ok, t.describe())
                                            for k, t in PARAM_TYPES.items()}


def _check_params(stage: str, section: Mapping, where: str) -> dict:
    """The section with every known parameter checked against its type (and converted to
    plain Python values: a unit code written as a number keeps its source text)."""
    out = {}
    for key, value in section.items():
        if key in PARAM_TYPES:
            try:
                out[key] = PARAM_TYPES[key].check(value)
            except SchemaError:
                raise MethodError(f"{where}{stage}.{key} must be "
                                  f"{PARAM_TYPES[key].describe()}, got {short(value)}") from None
        else:
            out[key] = plain(value)
    return out


def _check_stage(stage: str, section: Any, where: str, partial: bool = False) -> dict:
    """The checked section (plain values); raises MethodError naming the key at fault."""
    if not isinstance(section, Mapping):
        raise MethodError(f"{where}'{stage}' must be a mapping, got {type(section).__name__}")
    if stage in PLAIN_STAGES:
        unknown = set(section) - PLAIN_STAGES[stage]
        if unknown:
            raise MethodError(f"{where}unknown key(s) {sorted(map(str, unknown))} in '{stage}'; "
                              f"valid: {sorted(PLAIN_STAGES[stage])}")
        out = _check_params(stage, section, where)
        if stage == "ranking":
            check_ranking(out, where)
        return out
    methods = registry.stage_methods()[stage]
    method = section.get("method")
    if method is not None and not isinstance(method, str):
        raise MethodError(f"{where}{stage}.method must be the name of a method, got "
                          f"{short(method)}; valid: {sorted(methods)}")
    if method is None and not partial:
        raise MethodError(f"{where}'{stage}' needs a 'method'; valid: {sorted(methods)}")
    if method is not None and method not in methods:
        raise MethodError(f"{where}unknown {stage} method '{method}'; valid: {sorted(methods)}")
    allowed = ({"method"} | methods[method]) if method else (
        {"method"} | set().union(*methods.values()))
    unknown = set(section) - allowed
    if unknown:
        raise MethodError(f"{where}unknown key(s) {sorted(map(str, unknown))} for {stage} "
                          f"method '{method}'; valid: {sorted(allowed)}")
    return _check_params(stage, section, where)


def _read_extended(path: Path, seen: tuple) -> dict:
    """The spec of ``path`` with its ``extends`` chain resolved (see MethodSpec.load)."""
    if path.resolve() in seen:
        raise MethodError(f"{path}: 'extends' loops back to itself")
    spec = read_yaml(path, MethodError, "method")
    if not isinstance(spec, Mapping):
        raise MethodError(f"{path}: a method spec must be a mapping of stage sections")
    spec = dict(spec)
    base_name = spec.pop("extends", None)
    if base_name is None:
        return spec
    base = _read_extended(path.parent / str(base_name), seen + (path.resolve(),))
    merged = {**base, **{k: v for k, v in spec.items() if k not in ("weights", "overrides")}}
    merged["weights"] = {**(base.get("weights") or {}), **(spec.get("weights") or {})}
    bo, so = base.get("overrides") or {}, spec.get("overrides") or {}
    merged["overrides"] = {key: {**(bo.get(key) or {}), **(so.get(key) or {})}
                           for key in ("levels", "nodes")}
    return merged


@dataclass
class MethodSpec:
    """A validated method spec (see module docstring). Build with :meth:`from_dict`/``load``."""

    stages: dict[str, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    weights: dict[str, float] = field(default_factory=dict)
    level_overrides: dict[int, dict[str, dict]] = field(default_factory=dict)
    node_overrides: dict[str, dict[str, dict]] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    seed: int = 0
    origin: str = field(default="", compare=False)  # file the spec came from, for messages

    @classmethod
    def from_dict(cls, spec: Mapping | None, origin: str = "") -> "MethodSpec":
        where = f"{origin}: " if origin else ""
        if spec is not None and not isinstance(spec, Mapping):
            raise MethodError(f"{where}a method spec must be a mapping of stage sections, got "
                              f"{type(spec).__name__}")
        spec = dict(spec or {})
        unknown = set(spec) - TOP_KEYS
        if unknown:
            raise MethodError(f"{where}unknown section(s) {sorted(unknown)}; valid: "
                              f"{sorted(TOP_KEYS)}")
        stages = copy.deepcopy(DEFAULTS)
        for stage in DEFAULTS:
            if stage in spec and spec[stage] is not None:
                section = _check_stage(stage, spec[stage], where)
                if stage in PLAIN_STAGES:
                    stages[stage].update(section)
                else:
                    stages[stage] = section
        weights = spec.get("weights") or {}
        if not isinstance(weights, Mapping):
            raise MethodError(f"{where}'weights' must map node codes to numbers")
        weights = {_key_text(k): v for k, v in weights.items()}
        for code, w in weights.items():
            if not _is_num(w) or w <= 0 or w > MAX_WEIGHT:
                raise MethodError(f"{where}weight of '{code}' must be a positive number (at "
                                  f"most {MAX_WEIGHT:,.0f}), got {short(w)}")
        overrides = spec.get("overrides") or {}
        if not isinstance(overrides, Mapping) or set(overrides) - {"levels", "nodes"}:
            raise MethodError(f"{where}'overrides' takes keys 'levels' and 'nodes' only")
        for key in ("levels", "nodes"):
            if not isinstance(overrides.get(key) or {}, Mapping):
                raise MethodError(f"{where}overrides.{key} must be a mapping")
        levels: dict[int, dict] = {}
        for lv, sect in (overrides.get("levels") or {}).items():
            try:
                lv_int = int(lv)
            except (TypeError, ValueError):
                raise MethodError(f"{where}override level '{lv}' is not an integer") from None
            levels[lv_int] = cls._check_override(sect, f"{where}overrides.levels.{lv}: ")
        nodes = {_key_text(code): cls._check_override(sect, f"{where}overrides.nodes.{code}: ")
                 for code, sect in (overrides.get("nodes") or {}).items()}
        seed = spec.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise MethodError(f"{where}'seed' must be a non-negative integer, got {short(seed)}")
        text = {}
        for key in ("name", "description"):
            try:
                text[key] = Text().check(spec.get(key))
            except SchemaError:
                raise MethodError(f"{where}'{key}' must be text, got "
                                  f"{short(spec.get(key))}") from None
        return cls(stages, {k: float(v) for k, v in weights.items()}, levels, nodes,
                   text["name"], text["description"], int(seed), origin)

    @staticmethod
    def _check_override(sect: Any, where: str) -> dict:
        if not isinstance(sect, Mapping):
            raise MethodError(f"{where}must be a mapping of stage sections")
        for stage, body in sect.items():
            if stage not in STAGES_PER_NODE and stage not in PLAIN_PER_NODE:
                raise MethodError(f"{where}stage '{stage}' cannot be overridden per node/level; "
                                  f"valid: {sorted(STAGES_PER_NODE + PLAIN_PER_NODE)}")
        return {str(stage): _check_stage(stage, body, where, partial=True)
                for stage, body in sect.items()}

    @classmethod
    def load(cls, path: str | Path | None) -> "MethodSpec":
        """Read a YAML method spec (``None`` gives the defaults).

        A file may start from another one with ``extends: other.yaml`` (a path relative to the
        file): its stage sections replace the base's, and its ``weights`` and
        ``overrides.levels``/``overrides.nodes`` entries are added to the base's.
        """
        if path is None:
            return cls()
        return cls.from_dict(_read_extended(Path(path), ()), origin=str(path))

    def restricted_to(self, framework) -> "MethodSpec":
        """A copy without the weights and node overrides of nodes ``framework`` lacks — for a
        framework with elements removed on purpose (leave-one-out); elsewhere an unknown node
        stays an error."""
        spec = copy.deepcopy(self)
        spec.weights = {c: w for c, w in spec.weights.items() if c in framework.nodes}
        spec.node_overrides = {c: o for c, o in spec.node_overrides.items()
                               if c in framework.nodes}
        return spec

    def to_dict(self) -> dict:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        out.update(copy.deepcopy(self.stages))
        if out.get("panel") == DEFAULTS["panel"]:  # single-year specs read as before
            del out["panel"]
        if self.weights:
            out["weights"] = dict(self.weights)
        if self.level_overrides or self.node_overrides:
            out["overrides"] = {"levels": copy.deepcopy(self.level_overrides),
                                "nodes": copy.deepcopy(self.node_overrides)}
        out["seed"] = self.seed
        return out

    def dump(self, path: str | Path | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text)
        return text

    def replace(self, path: str, value: Any) -> "MethodSpec":
        """A copy with one dotted path set, e.g. ``replace("treatment.winmax", 3)``; validated.

        Paths: ``stage.key``, ``weights.CODE``, ``overrides.nodes.CODE.stage.key``,
        ``overrides.levels.L.stage.key``. A path whose parent does not exist is an error.
        """
        d = self.to_dict()
        keys = path.split(".")
        cur = d
        for k in keys[:-1]:
            if isinstance(cur, Mapping) and k not in cur and k.isdigit() and int(k) in cur:
                k = int(k)
            if not isinstance(cur, dict) or k not in cur:
                if keys[0] in ("weights", "overrides") or (keys[0] in DEFAULTS and cur is d):
                    cur = cur.setdefault(k, {})
                    continue
                raise MethodError(f"method path '{path}' does not exist")
            cur = cur[k]
        cur[keys[-1]] = value
        return MethodSpec.from_dict(d)

    # -------------------------------------------------------------- resolution
    def resolve(self, stage: str, code: str | None = None, level: int | None = None) -> dict:
        """The effective parameters of ``stage`` for node ``code`` at ``level``."""
        out = dict(self.stages[stage])
        layers = []
        if level is not None and stage in self.level_overrides.get(level, {}):
            layers.append(self.level_overrides[level][stage])
        if code is not None and stage in self.node_overrides.get(code, {}):
            layers.append(self.node_overrides[code][stage])
        for layer in layers:
            if "method" in layer and layer["method"] != out.get("method"):
                out = dict(layer)
            else:
                out.update(layer)
        if out.get("method") is not None:
            out = {**registry.param_defaults(stage, out["method"]), **out}
        return out

    def resolve_ranking(self, code: str | None = None, level: int | None = None) -> dict:
        """The publication conventions (``ranking`` keys) of node ``code`` at ``level``: the
        section, then its level override, then its node override, keys merged (see
        :func:`cityindex.model.ranking.ranking_for`)."""
        out = dict(self.stages.get("ranking") or DEFAULTS["ranking"])
        if level is not None:
            out.update(self.level_overrides.get(level, {}).get("ranking", {}))
        if code is not None:
            out.update(self.node_overrides.get(code, {}).get("ranking", {}))
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MethodSpec) and self.to_dict() == other.to_dict()

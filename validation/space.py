"""Uncertainty space: named assumptions, each a finite or pre-drawn set of alternatives.

YAML form (DESIGN.md)::

    name: COINr ASEM vignette design
    assumptions:
      winmax:        {path: treatment.winmax, values: [1, 2, 3, 4, 5]}
      normalisation: {path: normalisation, values: [{method: minmax, range: [1, 100]},
                                                    {method: zscore, mean: 10, sd: 2}]}
      weights:       {noise: {levels: [2, 3], factor: 0.25}}             # uniform ±25 %
      # levels: aggregates  = every aggregate level below the index
      # or           {noise: {levels: [2, 3], kind: dirichlet, concentration: 100}}
      weight_set:    {weight_sets: {nominal: {}, equal: equal, expert: {P1: 2, P2: 1}}}
      drop:          {leave_one_out: {level: 1}}                          # none + each node
      aggregation:   {path: aggregation.method, values: [arithmetic, geometric]}
      noise:         {measurement: {kind: multiplicative, sd: 0.05, draws: 20}}
      imputation:    {multiple_imputation: {m: 10}}      # one of M completed data sets (pmm)

Every assumption becomes one factor of the Monte Carlo / Sobol design with ``n_levels`` equally
likely levels (pre-drawn sets for weight and measurement noise, as COINr's
``get_noisy_weights``; the M completed data sets of a multiple imputation,
:mod:`cityindex.model.multiple_imputation`, drawn once from the nominal result, for
``multiple_imputation``: each replication takes one of them, so the bands carry the uncertainty
of the imputed values). The space is validated against the framework and method: a path or node
that does not exist is an error, never a silent skip (COINr issue #60).

Sources: Saisana, Saltelli & Tarantola (2005, JRSS-A 168:307); OECD/JRC Handbook (2008) Step 7;
COINr 1.1.14 ``get_sensitivity``, ``get_noisy_weights``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

from cityindex.model.errors import MethodError, read_yaml
from cityindex.model.framework import Framework
from cityindex.model.method import MethodSpec
from cityindex.model.schema import SPACE, validate
from cityindex.model.yamlio import line_of

PRE_AGGREGATION_STAGES = ("denomination", "screening", "imputation", "treatment",
                          "normalisation")


@dataclass
class Assumption:
    """One uncertain assumption (a factor of the design)."""

    name: str
    kind: str  # "path" | "weight_noise" | "weight_sets" | "leave_one_out" | "measurement"
    #            | "multiple_imputation"
    n_levels: int
    path: str | None = None
    values: list = field(default_factory=list)  # alternatives (path), set names (weight_sets)
    params: dict = field(default_factory=dict)

    @property
    def pre_aggregation(self) -> bool:
        """Whether the assumption changes the normalised indicators (not only aggregation)."""
        if self.kind in ("measurement", "multiple_imputation"):
            return True
        if self.kind != "path":
            return False
        head = self.path.split(".")[0]
        if head in PRE_AGGREGATION_STAGES:
            return True
        if head == "overrides":
            parts = self.path.split(".")
            stage = parts[3] if len(parts) > 3 else ""
            return stage != "aggregation"
        return False

    def label(self, level: int) -> str:
        """One line naming alternative ``level`` (a mapping in YAML flow style)."""
        if self.kind in ("path", "weight_sets"):
            v = self.values[level]
            if isinstance(v, str):
                return v
            if v is None or isinstance(v, (bool, int, float)):
                return yaml.safe_dump(v).split("\n")[0]
            return " ".join(yaml.safe_dump(v, default_flow_style=True).split())
        if self.kind == "leave_one_out":
            return self.values[level]
        if self.kind == "multiple_imputation":
            return f"completed set {level + 1}"
        return f"draw {level}"


@dataclass
class UncertaintySpace:
    """A validated set of assumptions (see the module docstring)."""

    assumptions: list[Assumption]
    name: str = ""
    seed_offset: int = 0
    origin: str = ""  # the file the space was read from ("" when built in memory)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.assumptions]

    @property
    def levels(self) -> list[int]:
        return [a.n_levels for a in self.assumptions]

    def __getitem__(self, name: str) -> Assumption:
        return next(a for a in self.assumptions if a.name == name)

    @classmethod
    def load(cls, path: str | Path, framework: Framework, method: MethodSpec
             ) -> "UncertaintySpace":
        spec = read_yaml(path, MethodError, "uncertainty space")
        return cls.from_dict(spec, framework, method, origin=str(path))

    @classmethod
    def from_dict(cls, spec: Mapping, framework: Framework, method: MethodSpec,
                  origin: str = "") -> "UncertaintySpace":
        where = f"{origin}: " if origin else ""
        if not isinstance(spec, Mapping) or not isinstance(spec.get("assumptions"), Mapping):
            raise MethodError(f"{where}an uncertainty space needs an 'assumptions' mapping")
        if not spec["assumptions"]:
            raise MethodError(f"{where}the space has no assumptions")
        lines = {k: line_of(spec["assumptions"], k) for k in spec["assumptions"]}
        clean = validate(SPACE, spec, MethodError, origin)  # types and ranges (model.schema)
        out = []
        for name, body in clean["assumptions"].items():
            ln = lines.get(name)
            out.append(_parse(name, body, framework, method,
                              f"{where}{f'line {ln}: ' if ln else ''}assumption '{name}': "))
        mi = [a.name for a in out if a.kind == "multiple_imputation"]
        imp = [a.name for a in out if a.kind == "path" and a.path.split(".")[0] == "imputation"]
        if len(mi) > 1 or (mi and imp):
            raise MethodError(f"{where}assumption(s) {mi + imp}: give one way of filling the "
                              "missing cells (multiple_imputation replaces imputation "
                              "alternatives)")
        return cls(out, name=clean["name"], origin=origin)


def load_space(space, result) -> UncertaintySpace:
    """The uncertainty space of an analysis of ``result`` (an IndexResult): an
    :class:`UncertaintySpace` as it is; ``None`` for the bundled default space; a bundled
    space's name (``"default"``, ``"coinr_asem"``); or a YAML path — validated against the
    result's framework and method.

    Raises
    ------
    MethodError naming the file and the assumption at fault.
    """
    from cityindex.model import bundled

    if isinstance(space, UncertaintySpace):
        return space
    if space is None:
        space = bundled.space_path()
    elif isinstance(space, str) and not Path(space).suffix and not Path(space).exists():
        space = bundled.space_path(space)
    return UncertaintySpace.load(space, result.framework, result.method)


def _parse(name: str, body: Mapping, fw: Framework, method: MethodSpec,
           where: str) -> Assumption:
    """One assumption from its schema-checked ``body`` (:data:`cityindex.model.schema.SPACE`),
    checked against the framework and the method (every message names the file and the
    assumption)."""
    if "multiple_imputation" in body:
        p = body["multiple_imputation"]
        return Assumption(name, "multiple_imputation", int(p["m"]),
                          params={"m": int(p["m"]), "max_iter": int(p["max_iter"]),
                                  "method": p["method"]})
    if "path" in body:
        values = body["path"]["values"]
        path = body["path"]["path"]
        _check_path(path, fw, method, where)
        for v in values:  # each alternative must give a valid method spec
            try:
                method.replace(path, v)
            except MethodError as exc:
                raise MethodError(f"{where}value {_short(v)} for '{path}' is invalid: "
                                  f"{exc}") from None
        return Assumption(name, "path", len(values), path=path, values=list(values))
    if "noise" in body:
        p = body["noise"]
        kind, levels, nodes = p["kind"], p.get("levels"), p.get("nodes")
        if nodes is None:
            if levels is None:
                raise MethodError(f"{where}noise needs 'levels' (list or 'aggregates') or "
                                  "'nodes'")
            if levels == "aggregates":  # every aggregate level below the index
                levels = list(range(2, fw.max_level))
                if not levels:
                    raise MethodError(f"{where}noise levels 'aggregates': the framework has no "
                                      "aggregate level below the index")
            bad = [lv for lv in levels if not 1 <= lv < fw.max_level]
            if bad:
                raise MethodError(f"{where}noise levels {bad} do not exist (weights live at "
                                  f"levels 1..{fw.max_level - 1})")
            nodes = [c for lv in levels for c in fw.codes_at_level(lv)]
        else:
            bad = [c for c in nodes if c not in fw.nodes or c == fw.root]
            if bad:
                raise MethodError(f"{where}noise on unknown or root node(s) {bad}")
        if not nodes:
            raise MethodError(f"{where}noise perturbs no node (the levels given have none)")
        return Assumption(name, "weight_noise", p["n_sets"],
                          params={"nodes": list(nodes), "factor": float(p["factor"]),
                                  "kind": kind, "concentration": float(p["concentration"])})
    if "weight_sets" in body:
        sets = body["weight_sets"]
        for set_name, ws in sets.items():
            if ws in ("equal", "nominal", None):
                continue
            bad = [c for c in ws if c not in fw.nodes or c == fw.root]
            if bad:
                raise MethodError(f"{where}weight set '{set_name}' names unknown node(s) {bad}")
            _check_weight_sums(fw, method, ws, f"{where}weight set '{set_name}': ")
        return Assumption(name, "weight_sets", len(sets), values=list(sets),
                          params={"sets": dict(sets)})
    if "leave_one_out" in body:
        p = body["leave_one_out"]
        level = p["level"]
        if not 1 <= level < fw.max_level:
            raise MethodError(f"{where}leave_one_out level {level} does not exist "
                              f"(1..{fw.max_level - 1})")
        codes = fw.codes_at_level(level)
        emptied = [c for c in codes if not _index_defined_without(fw, c)]
        if emptied:
            raise MethodError(f"{where}leaving out '{emptied[0]}' leaves the index without any "
                              "indicator (it is the only path to the index); leave out another "
                              "level")
        values = (["none"] if p["include_none"] else []) + codes
        return Assumption(name, "leave_one_out", len(values), values=values,
                          params={"level": level})
    p = body["measurement"]
    inds = fw.indicators if p["indicators"] == "all" else list(p["indicators"])
    bad = [c for c in inds if c not in fw.indicators]
    if bad:
        raise MethodError(f"{where}measurement noise on unknown indicator(s) {bad}")
    sd = p["sd"]
    if isinstance(sd, Mapping):
        bad = [c for c in sd if c not in fw.indicators]
        if bad:
            raise MethodError(f"{where}sd given for unknown indicator(s) {bad}")
    return Assumption(name, "measurement", p["draws"],
                      params={"kind": p["kind"], "sd": sd, "indicators": inds})


def _short(v) -> str:
    from cityindex.model.schema import short

    return short(v)


def _index_defined_without(fw: Framework, code: str) -> bool:
    """Whether the index keeps at least one indicator when node ``code`` is left out."""
    def active(node: str) -> bool:
        if node == code:
            return False
        if fw.nodes[node].level == 1:
            return True
        return any(active(k) for k in fw.children(node))

    return active(fw.root)


def _check_weight_sums(fw: Framework, method: MethodSpec, ws: Mapping, where: str) -> None:
    """A weight set may not leave any parent with zero total weight over its active children
    (the weighted mean would be 0/0)."""
    base = {c: float(method.weights.get(c, n.weight)) for c, n in fw.nodes.items()}
    base.update({c: float(w) for c, w in ws.items()})
    for parent in [fw.root, *fw.aggregates]:
        kids = fw.children(parent)
        if kids and sum(base[k] for k in kids) <= 0:
            raise MethodError(f"{where}the weights of the children of '{parent}' "
                              f"({', '.join(kids)}) sum to 0")


def _check_path(path: str, fw: Framework, method: MethodSpec, where: str) -> None:
    parts = path.split(".")
    head = parts[0]
    if head in ("weights",):
        if len(parts) != 2 or parts[1] not in fw.nodes:
            raise MethodError(f"{where}path '{path}' names no framework node")
        return
    if head == "overrides":
        if len(parts) < 4 or parts[1] not in ("levels", "nodes"):
            raise MethodError(f"{where}path '{path}': use overrides.nodes.CODE.stage[.key] or "
                              "overrides.levels.L.stage[.key]")
        if parts[1] == "nodes" and parts[2] not in fw.nodes:
            raise MethodError(f"{where}path '{path}' names unknown node '{parts[2]}'")
        if parts[1] == "levels" and not (parts[2].isdigit()
                                         and 1 <= int(parts[2]) <= fw.max_level):
            raise MethodError(f"{where}path '{path}' names a level that does not exist")
        return
    if head not in method.stages:
        raise MethodError(f"{where}path '{path}' does not exist; stages: "
                          f"{sorted(method.stages)}")
    if head == "screening":
        raise MethodError(f"{where}screening alternatives would change the set of ranked "
                          "units; vary it in separate runs (cityindex compare)")

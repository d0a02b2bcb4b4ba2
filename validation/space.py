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

Every assumption becomes one factor of the Monte Carlo / Sobol design with ``n_levels`` equally
likely levels (pre-drawn sets for weight and measurement noise, as COINr's
``get_noisy_weights``). The space is validated against the framework and method: a path or node
that does not exist is an error, never a silent skip (COINr issue #60).

Sources: Saisana, Saltelli & Tarantola (2005, JRSS-A 168:307); OECD/JRC Handbook (2008) Step 7;
COINr 1.1.14 ``get_sensitivity``, ``get_noisy_weights``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from cityindex.model.errors import MethodError, read_yaml
from cityindex.model.framework import Framework
from cityindex.model.method import MethodSpec

PRE_AGGREGATION_STAGES = ("denomination", "screening", "imputation", "treatment",
                          "normalisation")


@dataclass
class Assumption:
    """One uncertain assumption (a factor of the design)."""

    name: str
    kind: str  # "path" | "weight_noise" | "weight_sets" | "leave_one_out" | "measurement"
    n_levels: int
    path: str | None = None
    values: list = field(default_factory=list)  # alternatives (path), set names (weight_sets)
    params: dict = field(default_factory=dict)

    @property
    def pre_aggregation(self) -> bool:
        """Whether the assumption changes the normalised indicators (not only aggregation)."""
        if self.kind == "measurement":
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
        if self.kind in ("path", "weight_sets"):
            v = self.values[level]
            return v if isinstance(v, str) else yaml.safe_dump(v, default_flow_style=True).strip()
        if self.kind == "leave_one_out":
            return self.values[level]
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
        unknown = set(spec) - {"name", "description", "assumptions"}
        if unknown:
            raise MethodError(f"{where}unknown key(s) {sorted(unknown)}; valid: name, "
                              "description, assumptions")
        out = [_parse(name, body, framework, method, f"{where}assumption '{name}': ")
               for name, body in spec["assumptions"].items()]
        if not out:
            raise MethodError(f"{where}the space has no assumptions")
        return cls(out, name=str(spec.get("name", "")), origin=origin)


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


def _parse(name: str, body: Any, fw: Framework, method: MethodSpec, where: str) -> Assumption:
    if not isinstance(body, Mapping) or len(set(body) & {"path", "noise", "weight_sets",
                                                          "leave_one_out", "measurement"}) != 1:
        raise MethodError(f"{where}give exactly one of path+values, noise, weight_sets, "
                          "leave_one_out, measurement")
    if "path" in body:
        values = body.get("values")
        if not isinstance(values, list) or len(values) < 1:
            raise MethodError(f"{where}'values' must be a non-empty list")
        unknown = set(body) - {"path", "values"}
        if unknown:
            raise MethodError(f"{where}unknown key(s) {sorted(unknown)}")
        path = str(body["path"])
        _check_path(path, fw, method, where)
        for v in values:  # each alternative must give a valid method spec
            try:
                method.replace(path, v)
            except MethodError as exc:
                raise MethodError(f"{where}value {v!r} for '{path}' is invalid: {exc}") from None
        return Assumption(name, "path", len(values), path=path, values=list(values))
    if "noise" in body:
        p = dict(body["noise"] or {})
        unknown = set(p) - {"levels", "factor", "kind", "concentration", "n_sets", "nodes"}
        if unknown:
            raise MethodError(f"{where}unknown noise key(s) {sorted(unknown)}; valid: levels, "
                              "factor, kind (uniform|dirichlet), concentration, n_sets, nodes")
        kind = p.get("kind", "uniform")
        if kind not in ("uniform", "dirichlet"):
            raise MethodError(f"{where}noise kind '{kind}'; valid: uniform, dirichlet")
        levels = p.get("levels")
        nodes = p.get("nodes")
        if nodes is None:
            if not levels:
                raise MethodError(f"{where}noise needs 'levels' (list or 'aggregates') or 'nodes'")
            if levels == "aggregates":  # every aggregate level below the index
                levels = list(range(2, fw.max_level))
            bad = [lv for lv in levels if not 1 <= int(lv) < fw.max_level]
            if bad:
                raise MethodError(f"{where}noise levels {bad} do not exist (weights live at "
                                  f"levels 1..{fw.max_level - 1})")
            nodes = [c for lv in levels for c in fw.codes_at_level(int(lv))]
        else:
            bad = [c for c in nodes if c not in fw.nodes or c == fw.root]
            if bad:
                raise MethodError(f"{where}noise on unknown or root node(s) {bad}")
        factor = float(p.get("factor", 0.25))
        if kind == "uniform" and not 0 < factor < 1:
            raise MethodError(f"{where}noise factor must be in (0, 1), got {factor}")
        conc = float(p.get("concentration", 100.0))
        if conc <= 0:
            raise MethodError(f"{where}concentration must be positive")
        n_sets = int(p.get("n_sets", 1000))
        return Assumption(name, "weight_noise", n_sets,
                          params={"nodes": list(nodes), "factor": factor, "kind": kind,
                                  "concentration": conc})
    if "weight_sets" in body:
        sets = body["weight_sets"]
        if not isinstance(sets, Mapping) or not sets:
            raise MethodError(f"{where}'weight_sets' must map set names to weights")
        for set_name, ws in sets.items():
            if ws in ("equal", "nominal", None) or ws == {}:
                continue
            if isinstance(ws, str):
                raise MethodError(f"{where}weight set '{set_name}': '{ws}' is not a known set "
                                  "(use equal, nominal or a mapping of node: weight)")
            if not isinstance(ws, Mapping):
                raise MethodError(f"{where}weight set '{set_name}' must be a mapping")
            bad = [c for c in ws if c not in fw.nodes or c == fw.root]
            if bad:
                raise MethodError(f"{where}weight set '{set_name}' names unknown node(s) {bad}")
            neg = [c for c, w in ws.items() if not isinstance(w, (int, float)) or w < 0]
            if neg:
                raise MethodError(f"{where}weight set '{set_name}' has invalid weight(s) for {neg}")
        return Assumption(name, "weight_sets", len(sets), values=list(sets),
                          params={"sets": dict(sets)})
    if "leave_one_out" in body:
        p = dict(body["leave_one_out"] or {})
        unknown = set(p) - {"level", "include_none"}
        if unknown:
            raise MethodError(f"{where}unknown leave_one_out key(s) {sorted(unknown)}")
        level = int(p.get("level", 1))
        if not 1 <= level < fw.max_level:
            raise MethodError(f"{where}leave_one_out level {level} does not exist "
                              f"(1..{fw.max_level - 1})")
        codes = fw.codes_at_level(level)
        values = (["none"] if p.get("include_none", True) else []) + codes
        return Assumption(name, "leave_one_out", len(values), values=values,
                          params={"level": level})
    p = dict(body["measurement"] or {})
    unknown = set(p) - {"kind", "sd", "draws", "indicators"}
    if unknown:
        raise MethodError(f"{where}unknown measurement key(s) {sorted(unknown)}")
    kind = p.get("kind", "multiplicative")
    if kind not in ("multiplicative", "additive"):
        raise MethodError(f"{where}measurement kind '{kind}'; valid: multiplicative, additive")
    inds = p.get("indicators", "all")
    inds = fw.indicators if inds == "all" else list(inds)
    bad = [c for c in inds if c not in fw.indicators]
    if bad:
        raise MethodError(f"{where}measurement noise on unknown indicator(s) {bad}")
    sd = p.get("sd", 0.05)
    if isinstance(sd, Mapping):
        bad = [c for c in sd if c not in fw.indicators]
        if bad:
            raise MethodError(f"{where}sd given for unknown indicator(s) {bad}")
    return Assumption(name, "measurement", int(p.get("draws", 20)),
                      params={"kind": kind, "sd": sd, "indicators": inds})


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

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
    text: str = ""  # the YAML text of the space (the file's, or the built default's)
    built: bool = False  # the default built from the framework and data (default_space)

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
        out = cls.from_dict(spec, framework, method, origin=str(path))
        try:
            out.text = Path(path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):  # pragma: no cover - read_yaml read it
            out.text = ""
        return out

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
    :class:`UncertaintySpace` as it is; ``None`` for the default space (the bundled
    ``spaces/default.yaml`` for a bundled framework, else the space :func:`default_space`
    builds from what the framework, data and method offer); a bundled space's name
    (``"default"``, ``"coinr_asem"``); or a YAML path — validated against the result's
    framework and method.

    Raises
    ------
    MethodError naming the file and the assumption at fault.
    """
    from cityindex.model import bundled

    if isinstance(space, UncertaintySpace):
        return space
    if space is None:
        if not bundled.is_bundled(result.framework.origin or "."):
            return default_space(result.framework, result.data, result.method)
        space = bundled.space_path()
    elif isinstance(space, str) and not Path(space).suffix and not Path(space).exists():
        space = bundled.space_path(space)
    return UncertaintySpace.load(space, result.framework, result.method)


#: the group columns the default space's group-based imputation looks for, in order
GROUP_COLUMNS = ("subregion", "region", "group")
DEFAULT_NORMALISATIONS = [{"method": "minmax", "range": [1, 100]},
                          {"method": "zscore", "mean": 10, "sd": 2},
                          {"method": "rank"}]
DEFAULT_TREATMENT = {"method": "coinr", "winmax": 5, "skew": 2.0, "kurtosis": 3.5}


def group_column(framework: Framework, data, method: MethodSpec) -> str | None:
    """A column of the data's metadata that groups the units for a group-based imputation:
    the nominal method's imputation group when the data has it, else the first of
    :data:`GROUP_COLUMNS` whose labels are complete for at least half the units and form at
    least two groups of two or more units; None when there is none."""
    meta = data.meta
    g = method.stages.get("imputation", {}).get("group")
    if g is not None and g in meta.columns:
        return g
    for c in GROUP_COLUMNS:
        if c in meta.columns:
            lab = meta[c]
            sizes = lab.dropna().value_counts()
            if lab.notna().mean() >= 0.5 and int((sizes >= 2).sum()) >= 2:
                return c
    return None


def default_space_spec(framework: Framework, data, method: MethodSpec) -> tuple[dict, list]:
    """The default uncertainty space for any framework and data, built from what they offer
    (JRC-style, as the bundled ``spaces/default.yaml``): a mapping in the space file's format
    and one comment per assumption saying why it is there.

    * ``imputation`` (only when some indicator cell is missing): the nominal imputation, the
      median and — only when the data has a group column (:func:`group_column`) — the group
      median with the median as fallback;
    * ``treatment``: the nominal treatment and no treatment (COINr's winsorisation rule in
      place of no treatment when the nominal one is none);
    * ``normalisation``: min-max [1, 100], z-scores (mean 10, sd 2), ranks;
    * ``aggregation``: arithmetic and geometric means (only when the nominal aggregation is
      arithmetic or geometric);
    * ``weights``: ±25 % uniform noise on the weights of every aggregate level below the
      index, or on the indicators' weights when the tree is flat;
    * ``drop_indicator``: each indicator left out in turn, when there are at least three and
      none is the only path to the index.
    """
    from cityindex.model.errors import CityIndexError

    miss = int(data.values[framework.indicators].isna().to_numpy().sum())
    nominal = method.stages
    a, why = {}, {}
    if miss:
        imp = nominal["imputation"]
        values = [dict(imp), {"method": "median"}]
        g = group_column(framework, data, method)
        if g is not None:
            values.append({"method": "group_median", "group": g, "fallback": "median"})
        uniq = []
        for v in values:
            if v not in uniq:
                uniq.append(v)
        a["imputation"] = {"path": "imputation", "values": uniq}
        why["imputation"] = (f"{miss} missing cells: the nominal imputation, the median"
                             + (f", the median of the unit's '{g}' group" if g else
                                " (no group column in the data: no group-based imputation)"))
    treat = nominal["treatment"]
    alt = {"method": "none"} if treat.get("method") != "none" else DEFAULT_TREATMENT
    a["treatment"] = {"path": "treatment", "values": [dict(treat), dict(alt)]}
    why["treatment"] = "the nominal outlier treatment and " + (
        "no treatment" if alt["method"] == "none" else "COINr's winsorisation rule")
    a["normalisation"] = {"path": "normalisation",
                          "values": [dict(v) for v in DEFAULT_NORMALISATIONS]}
    why["normalisation"] = "min-max vs z-score vs rank (all strictly positive)"
    if nominal["aggregation"].get("method") in ("arithmetic", "geometric"):
        a["aggregation"] = {"path": "aggregation.method", "values": ["arithmetic",
                                                                     "geometric"]}
        why["aggregation"] = "compensatory vs partially compensatory"
    if framework.max_level > 2:
        a["weights"] = {"noise": {"levels": "aggregates", "factor": 0.25, "n_sets": 1000}}
        lv = ("level 2" if framework.max_level == 3
              else f"levels 2..{framework.max_level - 1}")
        why["weights"] = f"the weights of the aggregates at {lv} ±25 %"
    else:
        a["weights"] = {"noise": {"levels": [1], "factor": 0.25, "n_sets": 1000}}
        why["weights"] = "a flat tree: the indicators' weights ±25 %"
    if (len(framework.indicators) >= 3
            and all(_index_defined_without(framework, c) for c in framework.indicators)):
        a["drop_indicator"] = {"leave_one_out": {"level": 1}}
        why["drop_indicator"] = (f"leave each of the {len(framework.indicators)} indicators "
                                 "out in turn (and none)")
    if not a:  # pragma: no cover - normalisation is always there
        raise CityIndexError("no default uncertainty space for this framework")
    spec = {"name": f"default space for {framework.root} (built from its framework and data)",
            "assumptions": a}
    return spec, [f"{k}: {v}" for k, v in why.items()]


def space_yaml(spec: Mapping, notes: list[str] = ()) -> str:
    """A space mapping as YAML text with a header of comments (``notes``), for a run folder or
    ``cityindex init``: the file can be edited and passed back with ``--space``."""
    head = ["# Uncertainty space (format: docs/formats.md#uncertainty-space). Edit it and pass",
            "# it back with --space to change the audit's assumptions."]
    # a note may name a column of the user's data: one comment line each, whatever it holds
    head += ["#   " + " ".join(str(n).splitlines()) for n in notes]
    body = yaml.safe_dump({"name": spec.get("name", ""), "assumptions": {
        k: v for k, v in spec["assumptions"].items()}}, sort_keys=False, allow_unicode=True,
        default_flow_style=None, width=100)
    return "\n".join(head) + "\n" + body


def default_space(framework: Framework, data, method: MethodSpec) -> UncertaintySpace:
    """The :func:`default_space_spec` space, validated like a file (its YAML text in
    ``.text``, to be written into a run folder)."""
    spec, notes = default_space_spec(framework, data, method)
    sp = UncertaintySpace.from_dict(spec, framework, method)
    sp.text = space_yaml(spec, notes)
    sp.built = True
    return sp


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

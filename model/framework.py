"""The index framework: a validated tree of indicators → aggregates → index.

A framework is a flat list of nodes. Level 1 nodes are indicators (columns of the data); each
aggregate at level L has children all at level L−1; one root (the index) has no parent. Weights
are relative within each parent (they need not sum to one). An aggregate that has no open
indicator is kept with ``status: no_open_indicator``; it has no children and is skipped by
aggregation (its siblings' weights are renormalised) but still shown in outputs.

Readable from the project's YAML format (``data/frameworks/*.yaml``) and from COINr's iMeta CSV
(Becker et al., COINr 1.1.14, ``new_coin(iData, iMeta)``: columns Level, iCode, iName, Direction,
Weight, Unit, Target, Denominator, Parent, Type).

Source for the structure and its checks: OECD/JRC *Handbook on Constructing Composite Indicators*
(2008), Step 1 (theoretical framework) and COINr's ``check_iMeta``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd
import yaml

from .errors import FrameworkError, read_yaml

NO_OPEN_INDICATOR = "no_open_indicator"
COINR_TYPES = ("Indicator", "Aggregate", "Group", "Denominator", "Other")
_NODE_KEYS = {"code", "name", "parent", "level", "weight", "direction", "unit", "source",
              "denominator", "target", "goalposts", "range", "status", "note",
              "error"}  # = schema.FRAMEWORK_NODE
ERROR_KINDS = ("relative", "absolute")


@dataclass(frozen=True)
class Node:
    """One node of the framework tree (an indicator when ``level == 1``)."""

    code: str
    name: str = ""
    parent: str | None = None
    level: int = 1
    weight: float = 1.0
    direction: int = 1
    unit: str = ""
    source: str = ""
    denominator: str | None = None
    target: float | None = None
    goalposts: tuple[float, float] | None = None
    #: plausible range [lo, hi] of an indicator's values (data checks only; never applied)
    range: tuple[float, float] | None = None
    status: str | None = None
    note: str = ""
    #: measurement error of an indicator's values: (kind, se) with kind "relative" (se a
    #: fraction of the value) or "absolute" (se in the indicator's unit); None = the method's
    #: default (model/measurement_error.py)
    error: tuple[str, float] | None = None

    @property
    def is_indicator(self) -> bool:
        return self.level == 1


class Framework:
    """Validated indicator tree.

    Parameters
    ----------
    nodes : iterable of Node
        In display order. Validation (each error names the node): duplicate codes, unknown
        parent, cycles, more or fewer than one root, non-positive or non-finite weights,
        direction not ±1, children of one parent at mixed levels or not one level below it,
        an aggregate with no children and no ``status``, and a framework with no aggregation
        level at all (COINr issue #52, case B11).
    name, source : str
        Description, carried into outputs.

    Raises
    ------
    FrameworkError
    """

    def __init__(self, nodes: Iterable[Node], name: str = "", source: str = "", origin: str = ""):
        self.name = name
        self.source = source
        self.origin = origin  # file the framework came from, for error messages
        self.nodes: dict[str, Node] = {}
        for node in nodes:
            if node.code in self.nodes:
                raise FrameworkError(f"{self._where()}duplicate node code '{node.code}'")
            self.nodes[node.code] = node
        self._children: dict[str, list[str]] = {c: [] for c in self.nodes}
        for node in self.nodes.values():
            if node.parent is not None:
                if node.parent not in self.nodes:
                    raise FrameworkError(
                        f"{self._where()}node '{node.code}' has unknown parent '{node.parent}'")
                self._children[node.parent].append(node.code)
        self._validate()

    # ------------------------------------------------------------------ validation
    def _where(self) -> str:
        return f"{self.origin}: " if self.origin else ""

    def _validate(self) -> None:
        w = self._where()
        if not self.nodes:
            raise FrameworkError(f"{w}framework has no nodes")
        for node in self.nodes.values():
            if not isinstance(node.code, str) or not node.code.strip():
                raise FrameworkError(f"{w}a node has an empty code")
            if not (isinstance(node.weight, (int, float)) and math.isfinite(node.weight)
                    and node.weight > 0):
                raise FrameworkError(
                    f"{w}node '{node.code}' has non-positive or missing weight {node.weight!r}")
            if node.direction not in (1, -1):
                raise FrameworkError(
                    f"{w}node '{node.code}' has direction {node.direction!r}; use 1 or -1")
            if node.level < 1:
                raise FrameworkError(f"{w}node '{node.code}' has level {node.level} < 1")
        # cycles: walk up from each node
        for code in self.nodes:
            seen = [code]
            parent = self.nodes[code].parent
            while parent is not None:
                if parent in seen:
                    raise FrameworkError(
                        f"{w}cycle in the framework: {' -> '.join(seen + [parent])}")
                seen.append(parent)
                parent = self.nodes[parent].parent
        roots = [c for c, n in self.nodes.items() if n.parent is None]
        if all(self.nodes[c].level == 1 for c in roots) and len(roots) == len(self.nodes):
            raise FrameworkError(
                f"{w}framework has no aggregation level: indicators {', '.join(roots[:8])}"
                f"{' …' if len(roots) > 8 else ''} have no parent; add an index node "
                "(level 2) and set it as their parent")
        if len(roots) != 1:
            raise FrameworkError(
                f"{w}framework must have exactly one root (node without parent); found "
                f"{len(roots)}: {', '.join(roots[:8])}")
        for code, kids in self._children.items():
            node = self.nodes[code]
            if not kids:
                if node.level > 1 and node.status is None:
                    raise FrameworkError(
                        f"{w}aggregate '{code}' (level {node.level}) has no children; mark it "
                        f"status: {NO_OPEN_INDICATOR} or give it children")
                continue
            levels = {self.nodes[k].level for k in kids}
            if len(levels) > 1:
                raise FrameworkError(
                    f"{w}children of '{code}' have mixed levels {sorted(levels)}: "
                    + ", ".join(f"{k}={self.nodes[k].level}" for k in kids))
            if levels != {node.level - 1}:
                raise FrameworkError(
                    f"{w}node '{code}' (level {node.level}) has children at level "
                    f"{levels.pop()}; children must be exactly one level below their parent")
        self.root = roots[0]
        if not self.indicators:
            raise FrameworkError(f"{w}framework has no indicators (level-1 nodes)")

    # ------------------------------------------------------------------ structure
    @property
    def indicators(self) -> list[str]:
        """Indicator codes (level 1) in display order."""
        return [c for c, n in self.nodes.items() if n.level == 1]

    @property
    def aggregates(self) -> list[str]:
        """Aggregate codes that can be computed (have indicators below), by level then order."""
        out = [c for c, n in self.nodes.items() if n.level > 1 and self.indicators_under(c)]
        return sorted(out, key=lambda c: self.nodes[c].level)

    @property
    def empty_aggregates(self) -> list[str]:
        """Aggregates with no indicator below them (``status: no_open_indicator``)."""
        return [c for c, n in self.nodes.items() if n.level > 1 and not self.indicators_under(c)]

    @property
    def max_level(self) -> int:
        return self.nodes[self.root].level

    def level(self, code: str) -> int:
        return self.nodes[code].level

    def parent(self, code: str) -> str | None:
        return self.nodes[code].parent

    def children(self, code: str, active_only: bool = True) -> list[str]:
        """Children of ``code``; with ``active_only`` those that have indicators below them."""
        kids = self._children[code]
        if active_only:
            kids = [k for k in kids if self.nodes[k].level == 1 or self.indicators_under(k)]
        return list(kids)

    def codes_at_level(self, level: int, active_only: bool = True) -> list[str]:
        codes = [c for c, n in self.nodes.items() if n.level == level]
        if active_only and level > 1:
            codes = [c for c in codes if self.indicators_under(c)]
        return codes

    def indicators_under(self, code: str) -> list[str]:
        """All indicators in the subtree of ``code`` (itself if an indicator)."""
        if self.nodes[code].level == 1:
            return [code]
        out: list[str] = []
        for kid in self._children[code]:
            out.extend(self.indicators_under(kid))
        return out

    def ancestors(self, code: str) -> list[str]:
        """Parents of ``code`` up to the root, nearest first."""
        out = []
        parent = self.nodes[code].parent
        while parent is not None:
            out.append(parent)
            parent = self.nodes[parent].parent
        return out

    # ------------------------------------------------------------------ weights
    @property
    def weights(self) -> pd.Series:
        """Nominal weight of every node (relative within its parent), indexed by code."""
        return pd.Series({c: float(n.weight) for c, n in self.nodes.items()}, name="weight")

    @property
    def directions(self) -> pd.Series:
        """Direction (+1/−1) of each indicator."""
        return pd.Series({c: self.nodes[c].direction for c in self.indicators}, name="direction")

    def normalised_weights(self) -> pd.Series:
        """Weights rescaled to sum to one within each parent (over active children)."""
        out = {}
        for code in [self.root, *self.aggregates]:
            kids = self.children(code)
            total = sum(self.nodes[k].weight for k in kids)
            for k in kids:
                out[k] = self.nodes[k].weight / total
        out[self.root] = 1.0
        return pd.Series(out, name="weight").reindex(
            [c for c in self.nodes if c in out])

    def effective_weights(self, target: str | None = None) -> pd.Series:
        """Nominal effective weight of each indicator in ``target`` (default: the index).

        The product of within-parent normalised weights along the path from the indicator to
        ``target``; they sum to one over the target's indicators. Valid for linear
        aggregation (OECD/JRC Handbook 2008, Step 6).
        """
        target = target or self.root
        nw = self.normalised_weights()
        out = {}
        for ind in self.indicators_under(target):
            w, node = 1.0, ind
            while node != target:
                w *= nw[node]
                node = self.nodes[node].parent
            out[ind] = w
        return pd.Series(out, name="effective_weight")

    def with_weights(self, weights: Mapping[str, float]) -> "Framework":
        """A copy with some node weights replaced (validated like the original)."""
        unknown = set(weights) - set(self.nodes)
        if unknown:
            raise FrameworkError(f"weights given for unknown nodes: {sorted(unknown)}")
        nodes = [replace(n, weight=float(weights[c])) if c in weights else n
                 for c, n in self.nodes.items()]
        return Framework(nodes, self.name, self.source, self.origin)

    def tree_frame(self) -> pd.DataFrame:
        """The tree in display order (depth first from the root): code, name, level, weight
        within the parent, weight in the index (nominal effective), indicators below, status
        (``no open indicator`` for empty aggregates)."""
        nw = self.normalised_weights()
        eff = self.effective_weights()
        empty = set(self.empty_aggregates)
        rows = []

        def walk(code):
            n = self.nodes[code]
            rows.append(dict(code=code, name=n.name, level=n.level,
                             weight=math.nan if code in empty else nw.get(code, math.nan),
                             index_weight=math.nan if code in empty else float(
                                 eff[self.indicators_under(code)].sum()),
                             n_indicators=len(self.indicators_under(code)),
                             status="no open indicator" if code in empty else ""))
            for k in self.children(code, active_only=False):
                walk(k)

        walk(self.root)
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ io
    def to_frame(self) -> pd.DataFrame:
        """One row per node: code, name, parent, level, weight, direction, unit, source, …"""
        rows = [asdict(n) for n in self.nodes.values()]
        df = pd.DataFrame(rows)
        df["n_indicators"] = [len(self.indicators_under(c)) for c in self.nodes]
        return df

    def to_dict(self) -> dict:
        nodes = []
        defaults = Node(code="")
        for n in self.nodes.values():
            d = {"code": n.code}
            for key, value in asdict(n).items():
                if key == "code" or value == getattr(defaults, key):
                    continue
                if key in ("direction", "unit", "source", "denominator", "target",
                           "goalposts", "range") and n.level > 1:
                    continue
                if key == "error":
                    d[key] = {"kind": value[0], "se": value[1]}
                    continue
                d[key] = list(value) if isinstance(value, tuple) else value
            d["level"] = n.level
            if n.parent is not None:
                d["weight"] = n.weight
            nodes.append(d)
        return {"index": self.root, "name": self.name, "source": self.source, "nodes": nodes}

    def to_yaml(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))

    @classmethod
    def from_dict(cls, spec: Mapping, origin: str = "") -> "Framework":
        """A framework from a mapping (a loaded framework file), checked against the schema
        :data:`cityindex.model.schema.FRAMEWORK` first (types, ranges, unknown keys; the line
        of a bad value when the mapping came from a file)."""
        from .schema import FRAMEWORK, validate
        from .yamlio import line_of

        where = f"{origin}: " if origin else ""
        if (not isinstance(spec, Mapping) or "nodes" not in spec
                or not isinstance(spec["nodes"], list)):
            raise FrameworkError(f"{where}framework needs a 'nodes' list")
        for i, raw in enumerate(spec["nodes"], start=1):
            if not isinstance(raw, Mapping) or "code" not in raw:
                ln = line_of(spec["nodes"], i - 1)
                raise FrameworkError(f"{where}{f'line {ln}: ' if ln else ''}node #{i} has no "
                                     "'code'")
        clean = validate(FRAMEWORK, spec, FrameworkError, origin)
        nodes = []
        for kw in clean["nodes"]:
            kw = dict(kw)
            for key in ("goalposts", "range"):
                if kw.get(key) is not None:
                    kw[key] = tuple(kw[key])
            if kw.get("error") is not None:
                kw["error"] = (kw["error"]["kind"], float(kw["error"]["se"]))
            for key, conv in (("weight", float), ("level", int), ("direction", int),
                              ("target", float)):
                if kw.get(key) is not None:
                    kw[key] = conv(kw[key])
            nodes.append(Node(**kw))
        fw = cls(nodes, name=clean["name"], source=clean["source"], origin=origin)
        if clean.get("index") is not None and clean["index"] != fw.root:
            raise FrameworkError(f"{where}index '{clean['index']}' is not the root node of the "
                                 f"framework ('{fw.root}')")
        return fw

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Framework":
        spec = read_yaml(path, FrameworkError, "framework")
        return cls.from_dict(spec, origin=str(path))

    @classmethod
    def from_coinr_imeta(cls, path: str | Path) -> "Framework":
        """Read COINr's iMeta CSV (rows of Type Indicator and Aggregate become nodes). The file
        is read as text exactly as written (:mod:`.tables`: ragged rows and repeated headers
        are refused); ``NA`` or an empty cell is missing except in ``iCode``."""
        from .inputs import check_input_file
        from .tables import read_csv

        path = check_input_file(path, FrameworkError, "framework")
        df = read_csv(path, FrameworkError)
        required = {"Level", "iCode", "Weight", "Parent", "Type"}
        missing = required - set(df.columns)
        if missing:
            raise FrameworkError(f"{path}: iMeta lacks columns {sorted(missing)}")
        lines = df.attrs["rows"]

        def cell(r, key):
            v = r.get(key)
            return None if v is None or v.strip() in ("", "NA") else v.strip()

        nodes = []
        for k, r in enumerate(df.to_dict("records")):
            row_no, code = lines[k], (r["iCode"] or "").strip()
            if r["Type"] not in COINR_TYPES:
                raise FrameworkError(f"{path}: row {row_no} ('{code}'): unknown Type "
                                     f"{r['Type']!r}; valid: {', '.join(COINR_TYPES)}")
            if r["Type"] not in ("Indicator", "Aggregate"):
                continue
            try:
                level = cell(r, "Level")
                weight = cell(r, "Weight")
                direction = cell(r, "Direction")
                target = cell(r, "Target")
                nodes.append(Node(
                    code=code, name=cell(r, "iName") or "", parent=cell(r, "Parent"),
                    level=int(level) if level is not None else 0,
                    weight=float(weight) if weight is not None else float("nan"),
                    direction=int(float(direction)) if direction is not None else 1,
                    unit=cell(r, "Unit") or "", denominator=cell(r, "Denominator"),
                    target=float(target) if target is not None else None))
            except (TypeError, ValueError) as exc:
                raise FrameworkError(f"{path}: row {row_no} ('{code}'): {exc}") from None
        return cls(nodes, name=path.stem, origin=str(path))

    @classmethod
    def load(cls, path: str | Path) -> "Framework":
        """Load a framework from YAML (``.yaml``/``.yml``) or COINr iMeta CSV (``.csv``)."""
        from .inputs import check_input_file

        path = check_input_file(path, FrameworkError, "framework")
        if path.suffix.lower() in (".yaml", ".yml"):
            return cls.from_yaml(path)
        if path.suffix.lower() == ".csv":
            return cls.from_coinr_imeta(path)
        raise FrameworkError(f"{path}: unknown framework format (use .yaml or COINr iMeta .csv)")

    def __repr__(self) -> str:
        counts = ", ".join(f"L{lv}: {len(self.codes_at_level(lv))}"
                           for lv in range(1, self.max_level + 1))
        return f"Framework('{self.root}', {counts})"

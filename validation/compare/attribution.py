"""Which method stage caused each move: spec diffs and exact Shapley attribution.

``attribute_stages(result_a, result_b)`` splits each unit's move from A to B between the stages
in which the two results' method specs differ (found by :func:`diff_specs`, a diff of
``MethodSpec.to_dict()``). The two results must be computed on one framework and one data set
(:func:`shared_inputs`); A's and B's own runs are taken from the results, and only the hybrid
methods "A with B's settings of some stages" are computed:

* one-at-a-time (OAT): A with B's setting of stage s only, minus A;
* exact Shapley decomposition (Shapley 1953; for index stages e.g. Saisana et al. 2005's
  question "which assumption moved this unit?"): for k differing stages (players) every one of
  the 2^k combinations "A with B's settings of the stages in T" is used (2^k − 2 hybrid runs),
  and stage s gets
  ``φ_s = Σ_{T ⊆ S∖{s}} |T|! (k−|T|−1)! / k! · (v(T ∪ {s}) − v(T))``
  where v is a unit's rank (or score). By the efficiency property the φ_s of a unit sum to its
  total move v(S) − v(∅) = B − A exactly (up to floating rounding of the rational weights).
  The interaction term ``total − Σ OAT`` is reported too.

Stages that only make sense together (e.g. a geometric mean needs positive normalised values)
can be grouped into one player: ``stages=[("normalisation", "aggregation"), "treatment"]``.
Without such a grouping, a hybrid that is not a valid method (a ``MethodError`` or
``DataError`` from it, or one that leaves unscored a unit both A and B score) makes
``attribute_stages`` merge the stages involved automatically: the finest grouping under which
every hybrid is valid is used, reported in ``Attribution.groups`` and ``Attribution.note``; if
none is finer than "all differing stages together", that single player is used and the
attribution is trivial (the note says so). Shares still sum exactly to each unit's move.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from cityindex.model.errors import DataError, FrameworkError, MethodError
from cityindex.model.method import MethodSpec
from cityindex.model.summary import Result, Summary, json_safe

_IGNORED_KEYS = ("name", "description")
ALL_VALID = "every hybrid method was valid; stages attributed separately"


# ------------------------------------------------------------------------------ spec diff
def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, Mapping) and d:
        out = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def diff_specs(a: MethodSpec, b: MethodSpec, depth: int = 1) -> list[str]:
    """Paths (top-level stages at ``depth=1``; dotted leaf paths with ``depth=None``) whose
    values differ between two method specs' ``to_dict()``. ``name``/``description`` ignored."""
    da, db = _spec_dict(a), _spec_dict(b)
    fa, fb = _flatten(da), _flatten(db)
    out: list[str] = []
    for path in list(fa) + [p for p in fb if p not in fa]:
        if fa.get(path, _MISSING) != fb.get(path, _MISSING):
            key = ".".join(path.split(".")[:depth]) if depth else path
            if key not in out:
                out.append(key)
    return out


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def _spec_dict(m) -> dict:
    m = m if isinstance(m, MethodSpec) else (MethodSpec.from_dict(m) if isinstance(m, Mapping)
                                             else MethodSpec.load(m))
    d = m.to_dict()
    for k in _IGNORED_KEYS:
        d.pop(k, None)
    return d


def _get(d: Mapping, path: str):
    cur = d
    for k in path.split("."):
        if isinstance(cur, Mapping) and k in cur:
            cur = cur[k]
        elif isinstance(cur, Mapping) and k.isdigit() and int(k) in cur:
            cur = cur[int(k)]
        else:
            return _MISSING
    return cur


def _set(d: dict, path: str, value) -> None:
    keys = path.split(".")
    cur = d
    for k in keys[:-1]:
        if k not in cur and k.isdigit() and int(k) in cur:
            k = int(k)
        cur = cur.setdefault(k, {})
    last = keys[-1]
    if last not in cur and last.isdigit() and int(last) in cur:
        last = int(last)
    if value is _MISSING:
        cur.pop(last, None)
    else:
        cur[last] = copy.deepcopy(value)


def hybrid_spec(a: MethodSpec, b: MethodSpec, paths: Iterable[str]) -> MethodSpec:
    """Spec A with B's values at ``paths`` (a path absent from B is removed from A)."""
    da, db = _spec_dict(a), _spec_dict(b)
    for p in paths:
        _set(da, p, _get(db, p))
    try:
        return MethodSpec.from_dict(da)
    except MethodError as exc:
        raise MethodError(f"A with B's {sorted(paths)} is not a valid method ({exc}); group "
                          "stages that only work together, e.g. "
                          "stages=[('normalisation', 'aggregation')]") from None


# ------------------------------------------------------------------------------ attribution
@dataclass(repr=False, eq=False)
class Attribution(Result):
    """Result of :func:`attribute_stages`.

    Attributes
    ----------
    table : tidy DataFrame, one row per (node, unit, stage): rank_a, rank_b, rank_shift,
        score_shift (totals, B − A), rank_oat, score_oat (one-at-a-time: A with B's stage, − A),
        rank_shapley, score_shapley (exact Shapley shares; sum over stages = the total),
        rank_share (rank_shapley / rank_shift, NaN when the unit did not move).
    stages : the players (labels); paths : label → tuple of spec paths.
    interactions : DataFrame (node, unit): total − Σ OAT for rank and score.
    n_runs : number of combinations the Shapley values use (2^k, k players; A and B included).
    combos : frozenset of player indices → the IndexResult of that combination.
    groups : label → the requested stages (the differing stages, or the ``stages`` given)
        merged into that player; a player of more than one stage was merged automatically
        because some hybrid methods were invalid.
    note : one line explaining the grouping ("" when every hybrid was valid as requested).
    invalid : the hybrids that could not be computed: ``{"stages": [...], "error": str}``.
    n_tried : combinations evaluated in all (A and B included, failed hybrids and the search
        for a valid grouping too).
    """

    table: pd.DataFrame
    stages: list[str]
    paths: dict[str, tuple[str, ...]]
    interactions: pd.DataFrame
    n_runs: int
    combos: dict = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""
    invalid: list[dict] = field(default_factory=list)
    n_tried: int = 0

    @property
    def grouped(self) -> bool:
        """True when stages were merged automatically because some hybrids were invalid."""
        return any(len(g) > 1 for g in self.groups.values())

    @property
    def trivial(self) -> bool:
        """True when all (several) requested stages had to be merged into one player."""
        return len(self.stages) == 1 and self.grouped

    def wide(self, value: str = "rank_shapley", node: str | None = None) -> pd.DataFrame:
        """Units × stages of one value (plus the total), for one node (default: the index)."""
        t = self.table
        node = node or t["node"].iloc[0]
        t = t[t["node"] == node]
        w = t.pivot(index="unit", columns="stage", values=value)[self.stages]
        tot = "rank_shift" if value.startswith("rank") else "score_shift"
        w["total"] = t.groupby("unit")[tot].first()
        return w.sort_values("total", key=lambda s: -s.abs())

    def stage_summary(self, node: str | None = None) -> pd.DataFrame:
        """Per stage: mean |Shapley rank share|, share of Σ|moves|, mean |OAT|."""
        t = self.table
        node = node or t["node"].iloc[0]
        t = t[t["node"] == node]
        g = t.groupby("stage", sort=False)
        out = pd.DataFrame({"mean_abs_rank_shapley": g["rank_shapley"].apply(
            lambda s: s.abs().mean()), "mean_abs_rank_oat": g["rank_oat"].apply(
            lambda s: s.abs().mean()), "mean_abs_score_shapley": g["score_shapley"].apply(
            lambda s: s.abs().mean())}).reindex(self.stages)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["share_of_abs_rank_shapley"] = (out["mean_abs_rank_shapley"]
                                                / out["mean_abs_rank_shapley"].sum())
        return out

    def max_abs_sum_error(self, value: str = "rank") -> float:
        """max over (node, unit) of |Σ_stages shapley − total move| (0 up to rounding)."""
        g = self.table.groupby(["node", "unit"], sort=False)
        err = (g[f"{value}_shapley"].sum(min_count=1) - g[f"{value}_shift"].first()).abs()
        return float(err.max()) if err.notna().any() else 0.0

    # ------------------------------------------------------------------ protocol
    def to_frame(self) -> pd.DataFrame:
        """The tidy attribution table (one row per node, unit and stage)."""
        return self.table.copy()

    def to_dict(self) -> dict:
        """JSON-safe: possible (True), stages, groups, paths, grouped, trivial, note (the
        grouping note, or that every hybrid was valid), invalid_hybrids, n_runs, n_tried,
        stage_summary (records, index node), max_abs_sum_error, max_abs_score_sum_error."""
        return json_safe({
            "possible": True, "stages": self.stages,
            "groups": {k: list(v) for k, v in self.groups.items()},
            "paths": {k: list(v) for k, v in self.paths.items()},
            "grouped": self.grouped, "trivial": self.trivial, "note": self.note or ALL_VALID,
            "invalid_hybrids": self.invalid, "n_runs": self.n_runs, "n_tried": self.n_tried,
            "stage_summary": self.stage_summary().reset_index(),
            "max_abs_sum_error": self.max_abs_sum_error(),
            "max_abs_score_sum_error": self.max_abs_sum_error("score")})

    def summary(self, note: bool = True) -> Summary:
        """The players, the grouping note (``note=False`` leaves it out) and, per stage, the
        mean |Shapley| and |OAT| rank shares on the index."""
        s = Summary(f"Stage attribution over {len(self.stages)} player(s) "
                    f"({self.n_runs} combinations, exact Shapley)")
        s.add_text("players: " + ", ".join(
            f"{k} = {list(p)}" if (len(p) > 1 or p[0] != k) else k
            for k, p in self.paths.items()))
        if note and self.note:
            s.add_text(f"note: {self.note}")
        s.add_table(self.stage_summary().rename_axis("stage").reset_index(), max_rows=None)
        return s

    def _repr_lines(self):
        yield f"{len(self.stages)} player(s): {', '.join(self.stages)}"
        yield (f"{self.n_runs} combinations, {self.table['unit'].nunique()} units, "
               f"max |Σ shapley − move| = {self.max_abs_sum_error():.2g}")
        if self.note:
            yield f"note: {self.note[:80]}" + ("…" if len(self.note) > 80 else "")


def _players(stages, a, b) -> dict[str, tuple[str, ...]]:
    if stages is None:
        found = diff_specs(a, b)
        return {s: (s,) for s in found}
    out = {}
    for s in stages:
        if isinstance(s, str):
            out[s] = (s,)
        else:
            s = tuple(s)
            out["+".join(s)] = s
    return out


_LOC = re.compile(r"^.*?(?:row \d+ \(unit [^)]*\)|unit [^,:]+), column '[^']*': ")


def _short_reason(exc: BaseException, limit: int = 160) -> str:
    """The gist of an error on one line, without the data-file location of a DataError (the
    cell is not at fault: the hybrid method is)."""
    msg = " ".join(str(exc).split())
    msg = _LOC.sub("", msg, count=1)
    for cut in ("; ", " ("):
        i = msg.find(cut)
        if i >= 30:
            msg = msg[:i]
    return msg if len(msg) <= limit else msg[:limit - 1] + "…"


def _set_partitions(items: list[int]):
    """All set partitions of ``items`` (lists of blocks)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for p in _set_partitions(rest):
        for i in range(len(p)):
            yield p[:i] + [[first] + p[i]] + p[i + 1:]
        yield [[first]] + p


def _candidate_groupings(n: int, max_search: int = 9) -> list[tuple[tuple[int, ...], ...]]:
    """Groupings of players 0..n−1 to try, finest first; among equally fine ones the smallest
    largest group, then groups of stages adjacent in pipeline order. Beyond ``max_search``
    players (Bell(n) groupings) only the finest and the coarsest are tried."""
    if n == 0:
        return [()]
    if n > max_search:
        return [tuple((i,) for i in range(n)), (tuple(range(n)),)]
    parts = {tuple(sorted(tuple(sorted(b)) for b in p)) for p in _set_partitions(list(range(n)))}
    return sorted(parts, key=lambda bl: (-len(bl), max(len(b) for b in bl),
                                         sum(b[-1] - b[0] for b in bl), bl))


def _check_scored(res, a, b) -> None:
    """A hybrid must score every (unit, node) that both A and B score (else the Shapley shares
    of that unit could not add up to its move): MethodError otherwise."""
    ra, rb, rh = a.ranks, b.ranks, res.ranks
    cols = [c for c in ra.columns if c in rb.columns]
    units = ra.index.intersection(rb.index)
    both = ra.reindex(index=units, columns=cols).notna() & rb.reindex(index=units,
                                                                        columns=cols).notna()
    lost = both & rh.reindex(index=units, columns=cols).isna()
    if lost.to_numpy().any():
        bad = lost.any(axis=1)
        raise MethodError(f"{int(bad.sum())} unit(s) scored by both A and B are not scored "
                          f"(e.g. {list(bad[bad].index[:3])})")


def shared_inputs(result_a, result_b):
    """The framework and data two results share, for computing hybrids of their methods.

    Both results must come from one framework — the same nodes, tree and settings; node
    weights may differ only where A's or B's method overrides them — and from the same data
    (the same object, or equal values and metadata). Returns ``(framework, data)``: the
    framework *before* either method's weights are applied (a node A overrides gets B's view
    of it, i.e. the framework's own weight, unless both override it) and A's
    :class:`~cityindex.model.data.IndicatorData`.

    Raises
    ------
    FrameworkError when the frameworks differ; DataError when the data differ.
    """
    fa, fb = result_a.framework, result_b.framework
    wa, wb = set(result_a.method.weights), set(result_b.method.weights)
    if list(fa.nodes) != list(fb.nodes):
        only = sorted(set(fa.nodes) ^ set(fb.nodes))
        raise FrameworkError("stage attribution needs A and B computed on one framework: "
                             f"their nodes differ ({', '.join(only[:5]) or 'order'})")

    def plain(node, overridden: bool):
        return replace(node, weight=0.0) if overridden else node

    differ = [c for c in fa.nodes
              if plain(fa.nodes[c], c in wa | wb) != plain(fb.nodes[c], c in wa | wb)]
    if differ:
        raise FrameworkError("stage attribution needs A and B computed on one framework: "
                             f"node(s) {', '.join(differ[:5])} differ")
    da, db = result_a.data, result_b.data
    if da is not db and not (da.values.equals(db.values) and da.meta.equals(db.meta)):
        raise DataError("stage attribution needs A and B computed on the same data "
                        f"(A: {da.source}, B: {db.source})")
    return fa.with_weights({c: fb.nodes[c].weight for c in wa - wb}), da


def _uncovered(ma: MethodSpec, mb: MethodSpec, paths: Iterable[str]) -> list[str]:
    """Differing leaf paths of A and B that none of ``paths`` covers."""
    paths = list(paths)
    return [leaf for leaf in diff_specs(ma, mb, depth=None)
            if not any(leaf == p or leaf.startswith(p + ".") for p in paths)]


def attribute_stages(result_a, result_b, stages=None,
                     nodes: str | Sequence[str] | None = None, max_stages: int = 8,
                     auto_group: bool = True) -> Attribution:
    """Share of each unit's rank and score move from A to B caused by each differing stage.

    Parameters
    ----------
    result_a, result_b : IndexResult of methods A and B, computed on one framework and the
        same data (see :func:`shared_inputs`). Their runs are used as they are: only the
        hybrid methods are computed (``compute_index``, at most 2^k − 2 runs).
    stages : None (the top-level stages found by :func:`diff_specs`), or a list of spec paths
        (e.g. ``"treatment.winmax"``) and tuples of paths grouped into one player; together
        they must cover every setting in which A and B differ.
    nodes : None (the index), "all", or a list of aggregate codes.
    max_stages : refuse more than this many players (2^k runs).
    auto_group : when some hybrid "A with B's settings of the stages in T" is not a valid
        method (a ``MethodError`` or ``DataError`` from it, e.g. B's geometric mean on A's
        min-max [0, 100] zeros), merge the stages involved into one player and retry: the
        finest grouping under which every hybrid is valid is used and reported in
        ``Attribution.groups`` / ``note``. When no finer grouping works all stages become one
        player (the attribution is then trivial: each unit's whole move). With
        ``auto_group=False`` an invalid hybrid raises :class:`MethodError`.

    Returns
    -------
    Attribution. For each unit, Σ_stages rank_shapley == rank_b − rank_a (and likewise scores).

    Raises
    ------
    FrameworkError / DataError when A and B do not share framework and data; MethodError when
    the methods do not differ, when ``stages`` leave a difference out, when there are too many
    stages, when ``auto_group`` is off and a hybrid is invalid, or when no grouping makes every
    hybrid valid. Errors of a hybrid are never raised as a ``DataError``: the data are not at
    fault.
    """
    from cityindex.model.pipeline import compute_index

    framework, data = shared_inputs(result_a, result_b)
    ma, mb = result_a.method, result_b.method
    req = _players(stages, ma, mb)
    n = len(req)
    if n == 0:
        raise MethodError("A's and B's methods do not differ: no stage to attribute")
    left = _uncovered(ma, mb, [p for ps in req.values() for p in ps])
    if left:
        raise MethodError(f"stages {list(req)} leave out setting(s) in which A and B differ "
                          f"({', '.join(left[:5])}): add them, or the shares could not add up "
                          "to B − A")
    if n > max_stages:
        raise MethodError(f"{n} differing stages ({list(req)}) need 2^{n} runs; group them "
                          f"or raise max_stages ({max_stages})")
    base_names = list(req)
    everything = frozenset(range(n))

    # v(U) for U ⊆ the requested players: A with B's settings of the stages in U (cached,
    # failures remembered so that a grouping containing them is never tried again); v(∅) is
    # A and v(everything) is B, as given
    done: dict[frozenset, Any] = {frozenset(): result_a, everything: result_b}
    failed: dict[frozenset, BaseException] = {}

    def label(U) -> str:
        return "+".join(base_names[i] for i in sorted(U))

    def value(U: frozenset):
        if U in done:
            return done[U]
        if U in failed:
            return None
        paths = [p for i in sorted(U) for p in req[base_names[i]]]
        try:
            res = compute_index(framework, data, hybrid_spec(ma, mb, paths))
            _check_scored(res, result_a, result_b)
        except (DataError, MethodError) as exc:
            failed[U] = exc
            return None
        done[U] = res
        return res

    def blocked(grouping) -> bool:
        sets = [frozenset(b) for b in grouping]
        return any(all(b <= F or not (b & F) for b in sets) for F in failed)

    def valid(grouping) -> bool:
        k = len(grouping)
        for r in range(k + 1):
            for T in itertools.combinations(range(k), r):
                U = frozenset(i for j in T for i in grouping[j])
                if value(U) is None:
                    return False
        return True

    finest = tuple((i,) for i in range(n))
    chosen = None
    for grouping in ([finest] if not auto_group else _candidate_groupings(n)):
        if blocked(grouping):
            continue
        if valid(grouping):
            chosen = grouping
            break
        if not auto_group:
            U = min(failed, key=lambda s: (len(s), sorted(s)))
            raise MethodError(
                f"A with B's {label(U)} is not a valid method ({_short_reason(failed[U])}); "
                "group stages that only work together, e.g. "
                "stages=[('normalisation', 'aggregation')], or use auto_group=True") from None
    invalid = [{"stages": [base_names[i] for i in sorted(U)],
                "error": f"A with B's {label(U)}: " + _LOC.sub("", " ".join(str(e).split()),
                                                                  count=1)}
               for U, e in sorted(failed.items(), key=lambda kv: (len(kv[0]), sorted(kv[0])))]
    if chosen is None:
        U = min(failed, key=lambda s: (len(s), sorted(s)))
        raise MethodError(f"stage attribution not possible: A with B's {label(U)} is not a "
                          f"valid method ({_short_reason(failed[U])})")
    chosen = tuple(sorted(chosen, key=lambda b: b[0]))  # players in the requested order
    players = {label(b): tuple(p for i in b for p in req[base_names[i]]) for b in chosen}
    groups = {label(b): tuple(base_names[i] for i in b) for b in chosen}
    names = list(players)
    k = len(names)
    note = ""
    if failed:
        U = min(failed, key=lambda s: (len(s), sorted(s)))
        why = (f"{len(failed)} hybrid method(s) are invalid, e.g. A with B's {label(U)} "
               f"({_short_reason(failed[U])})")
        merged = [label(b) for b in chosen if len(b) > 1]
        if k == 1 and n > 1:
            note = (f"no finer grouping of the differing stages {', '.join(base_names)} makes "
                    f"every hybrid valid: {why}; all are treated as one player "
                    f"'{names[0]}', so the attribution is trivial (each unit's whole move)")
        elif merged:
            note = (f"stages grouped into one player: {', '.join(merged)}, because {why}")
        else:  # pragma: no cover - a failure blocks the finest grouping, so something merged
            note = why
    combos: dict[frozenset, Any] = {}
    for r in range(k + 1):
        for T in itertools.combinations(range(k), r):
            combos[frozenset(T)] = done[frozenset(i for j in T for i in chosen[j])]
    base = combos[frozenset()]
    if nodes is None:
        codes = [framework.root]
    elif nodes == "all":
        codes = [framework.root] + [c for c in reversed(framework.aggregates)
                                    if c != framework.root]
    else:
        codes = [nodes] if isinstance(nodes, str) else list(nodes)
    units = base.ranks.index
    for res in combos.values():
        units = units.union(res.ranks.index, sort=False)
    ranks = {T: r.ranks.reindex(units) for T, r in combos.items()}
    scores = {T: r.scores.reindex(units) for T, r in combos.items()}
    wts = {s: math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k)
           for s in range(k)}
    rows, inter = [], []
    for code in codes:
        R = {T: v[code].to_numpy(float) for T, v in ranks.items()}
        S = {T: v[code].to_numpy(float) for T, v in scores.items()}
        r0, r1, s0, s1 = R[frozenset()], R[frozenset(range(k))], S[frozenset()], \
            S[frozenset(range(k))]
        oat_r_sum = np.zeros(len(units))
        oat_s_sum = np.zeros(len(units))
        for i, name in enumerate(names):
            phi_r = np.zeros(len(units))
            phi_s = np.zeros(len(units))
            others = [j for j in range(k) if j != i]
            for r in range(k):
                for T in itertools.combinations(others, r):
                    T0 = frozenset(T)
                    T1 = T0 | {i}
                    phi_r += wts[r] * (R[T1] - R[T0])
                    phi_s += wts[r] * (S[T1] - S[T0])
            oat_r = R[frozenset({i})] - r0
            oat_s = S[frozenset({i})] - s0
            oat_r_sum += oat_r
            oat_s_sum += oat_s
            tot_r = r1 - r0
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(tot_r != 0, phi_r / np.where(tot_r != 0, tot_r, 1), np.nan)
            rows.append(pd.DataFrame({
                "node": code, "unit": units, "stage": name, "rank_a": r0, "rank_b": r1,
                "rank_shift": tot_r, "score_shift": s1 - s0, "rank_oat": oat_r,
                "score_oat": oat_s, "rank_shapley": phi_r, "score_shapley": phi_s,
                "rank_share": share}))
        inter.append(pd.DataFrame({"node": code, "unit": units,
                                   "rank_interaction": (r1 - r0) - oat_r_sum,
                                   "score_interaction": (s1 - s0) - oat_s_sum}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return Attribution(table, names, players, pd.concat(inter, ignore_index=True),
                       len(combos), combos, groups, note, invalid, len(done) + len(failed))


"""Vectorised replication engine for uncertainty and sensitivity analysis.

Performance rules (DESIGN.md): every discrete alternative that changes the normalised
indicators is computed once through the real pipeline (``compute_index``; the nominal one is
taken from the :class:`IndexResult` the analysis was given, never recomputed); replications are then
evaluated as batched array operations — weights as a replications × nodes matrix, each parent's
weighted mean as one matrix product over its children, ranks along an axis — in chunks that
bound memory. Chunks depend only on their rows of the (pre-drawn) design, so any runner (serial,
joblib, Dask) returns identical results for the same seed.

Weighted means are written as  M⁻¹( Σ w·M(x) / Σ w )  with M = identity (arithmetic), log
(geometric), 1/x (harmonic) or x^p (generalised), over the children a unit has, exactly as
``model.aggregate``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from cityindex.model.aggregate import rank_desc
from cityindex.model.batch import normalise_many
from cityindex.model.data import IndicatorData
from cityindex.model.errors import DataError, MethodError
from cityindex.model.framework import Framework
from cityindex.model.method import MethodSpec
from cityindex.model.pipeline import IndexResult, compute_index
from cityindex.model.progress import counted

from .space import Assumption, UncertaintySpace, load_space

VECTOR_METHODS = ("arithmetic", "geometric", "harmonic", "generalised")
CHUNK_BYTES = 48 * 2**20  # memory bound of the largest array in a chunk


@dataclass
class Prepared:
    """Everything the replications need, computed once (picklable for parallel runners)."""

    units: list[str]
    nodes: list[str]                       # all framework codes, weight-vector order
    levels: list[list[int]]                # node indices per aggregation level (2..max)
    children: dict[int, np.ndarray]        # parent index -> child node indices
    prev_pos: dict[int, np.ndarray]        # parent index -> children's column in previous level
    root: int
    Z: list[np.ndarray]                    # normalised matrices (units × indicators) per pre-combo
    pre_levels: list[int]                  # factor ids that select Z, with their sizes
    pre_sizes: list[int]
    agg_methods: list[list[tuple[str, float]]]  # per agg-combo: (method, p) per node
    agg_weights: np.ndarray                # per agg-combo: base weights (n_combos × nodes)
    agg_levels: list[int]
    agg_sizes: list[int]
    weight_factors: list[tuple[int, str, np.ndarray]]  # (factor id, kind, table)
    nominal_ranks: np.ndarray              # (units,) index ranks of the nominal result
    space: UncertaintySpace | None = None  # what was prepared, with which seed
    seed: int = 0
    rankings: dict = field(default_factory=dict)  # node code -> Ranking (publication conventions)
    observed: np.ndarray | None = None     # (units × indicators) observation mask (no-data rule)
    indicator_pos: np.ndarray | None = None  # the indicators' positions among ``nodes``

    def rank(self, scores: np.ndarray, code: str) -> np.ndarray:
        """Ranks of replications × units ``scores`` of node ``code`` under its publication
        conventions (model.ranking; a rounding applies to each alternative's own scale)."""
        conv = self.rankings.get(code)
        return conv.rank(scores, axis=1) if conv is not None else rank_desc(scores, axis=1)

    def combo_ids(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pre = _mixed_radix(L[:, self.pre_levels], self.pre_sizes)
        agg = _mixed_radix(L[:, self.agg_levels], self.agg_sizes)
        return pre, agg


def _mixed_radix(L: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    out = np.zeros(L.shape[0], dtype=np.int64)
    for j, s in enumerate(sizes):
        out = out * s + L[:, j]
    return out


def _draw_weight_noise(a: Assumption, fw: Framework, nodes: list[str], base: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """(n_sets × nodes) multiplicative factors (uniform) or replacement weights (Dirichlet)."""
    idx = np.array([nodes.index(c) for c in a.params["nodes"]])
    n = a.n_levels
    table = np.ones((n, len(nodes)))
    if a.params["kind"] == "uniform":
        f = a.params["factor"]
        table[:, idx] = 1.0 + rng.uniform(-f, f, size=(n, idx.size))
        return table
    # Dirichlet around the nominal shares of each parent's noisy children, as factors
    conc = a.params["concentration"]
    parents = {}
    for c in a.params["nodes"]:
        parents.setdefault(fw.parent(c), []).append(nodes.index(c))
    for kids in parents.values():
        kids = np.array(kids)
        share = base[kids] / base[kids].sum()
        draw = rng.dirichlet(conc * share, size=n)
        table[:, kids] = draw / share
    return table


def prepare(result: IndexResult, space=None, seed: int | None = None,
            progress=None) -> Prepared:
    """Precompute every alternative of ``space`` around the nominal ``result`` (see the module
    docstring). One :class:`Prepared` serves the uncertainty analysis, the sensitivity analysis
    and the measurement-error draws of the same result, space and seed.

    Parameters
    ----------
    result : IndexResult, the nominal index (its framework, data and method).
    space : UncertaintySpace, a YAML path, a bundled space's name or None (the bundled
        default space), validated against the result's framework and method.
    seed : seeds the pre-drawn weight sets and measurement-noise data sets (default: the
        result's method seed).
    progress : ``progress(step, done, total)`` after each alternative's pipeline run (a batch
        of measurement-noise alternatives counts all its alternatives at once;
        :mod:`cityindex.model.progress`), or None.

    Raises
    ------
    MethodError if an alternative uses an aggregation that cannot be vectorised (Copeland,
    max, min) — run those as separate ``compute`` runs; DataError from the pipeline (e.g. a
    geometric mean alternative meeting zeros) naming the alternative.
    """
    space = load_space(space, result)
    where = f"{space.origin}: " if space.origin else ""
    seed = result.method.seed if seed is None else int(seed)
    rng = np.random.default_rng([seed, 0xC17])
    fw, data, method = result.framework, result.data, result.method
    units = list(result.scores.index)
    nodes = list(fw.nodes)
    pos = {c: i for i, c in enumerate(nodes)}

    pre_ids = [j for j, a in enumerate(space.assumptions) if a.pre_aggregation]
    agg_ids = [j for j, a in enumerate(space.assumptions) if a.kind == "path"
               and not a.pre_aggregation]

    def spec_for(assignments) -> MethodSpec:
        spec = method
        for j, lv in assignments:
            a = space.assumptions[j]
            if a.kind == "path":
                spec = spec.replace(a.path, a.values[lv])
        return spec

    # --- the completed data sets of a multiple imputation, drawn once from the nominal result
    mi = None
    for a in space.assumptions:
        if a.kind == "multiple_imputation":
            from cityindex.model.multiple_imputation import multiple_imputation

            mi = multiple_imputation(result, a.params["m"], seed=seed,
                                     max_iter=a.params["max_iter"],
                                     method=a.params.get("method", "pmm"))

    # --- normalised matrices, one per combination of pre-aggregation alternatives; the
    # combinations that perturb the data (measurement noise) or fill its missing cells from a
    # completed data set (multiple imputation) go through the pre-aggregation stages together,
    # one batch per method alternative (model.batch), not one pipeline each
    label_of = lambda assign: ", ".join(f"{space.assumptions[j].name}="  # noqa: E731
                                        f"{space.assumptions[j].label(lv)}"
                                        for j, lv in assign) or "nominal"
    combos = [list(zip(pre_ids, c)) for c in itertools.product(
        *[range(space.assumptions[j].n_levels) for j in pre_ids])]
    Z: list = [None] * len(combos)
    Z_labels = [label_of(assign) for assign in combos]
    noise_draws: dict[int, np.ndarray] = {}
    raw0 = data.values[fw.indicators].to_numpy(dtype=float)
    batches: list[tuple[MethodSpec, list[int], list[np.ndarray], list]] = []
    tick = counted(progress, "alternatives prepared", len(combos))
    for ci_, assign in enumerate(combos):
        spec = spec_for(assign)
        noisy = completed = None
        for j, lv in assign:
            a = space.assumptions[j]
            if a.kind == "measurement":
                if lv not in noise_draws:
                    noise_draws[lv] = _noisy_values(data, a, fw.indicators,
                                                    np.random.default_rng([seed, 7, lv]))
                noisy = noise_draws[lv]
            elif a.kind == "multiple_imputation":
                completed = mi.completed[lv]
        if noisy is not None or completed is not None:
            batch = next((b for b in batches if b[0] == spec), None)
            if batch is None:
                batch = (spec, [], [], [])
                batches.append(batch)
            batch[1].append(ci_)
            batch[2].append(raw0 if noisy is None else noisy)
            batch[3].append(completed)
            continue
        try:
            # the nominal alternative is the result itself: never recompute it
            res = result if spec == method else compute_index(fw, data, spec)
        except (DataError, MethodError) as exc:
            raise type(exc)(f"{where}alternative [{label_of(assign)}]: {exc}") from None
        if list(res.normalised.index) != units:
            raise MethodError(f"{where}alternative [{label_of(assign)}] changes the set of ranked "
                              f"units ({_unit_change(units, list(res.normalised.index))}); every "
                              "alternative must rank the same units — vary screening in "
                              "separate runs (cityindex compare)")
        Z[ci_] = res.normalised[fw.indicators].to_numpy(dtype=float)
        tick()
    for spec, idx, raws, fills in batches:
        try:
            many = normalise_many(result, np.stack(raws), spec,
                                  completed=None if fills[0] is None else np.stack(fills))
        except (DataError, MethodError) as exc:
            raise type(exc)(f"{where}alternative [{label_of(combos[idx[0]])}]: {exc}") from None
        for k, ci_ in enumerate(idx):
            Z[ci_] = many[k]
        tick(len(idx))

    # --- aggregation alternatives: per-node method and base weights
    agg_methods, agg_weights = [], []
    levels = [[pos[c] for c in fw.codes_at_level(lv)] for lv in range(2, fw.max_level + 1)]
    for combo in itertools.product(*[range(space.assumptions[j].n_levels) for j in agg_ids]):
        spec = spec_for(list(zip(agg_ids, combo)))
        fw_c = fw.with_weights(spec.weights) if spec.weights else fw
        agg_weights.append(np.array([fw_c.nodes[c].weight for c in nodes]))
        per_node = [("", 1.0)] * len(nodes)
        for lv_nodes, lv in zip(levels, range(2, fw.max_level + 1)):
            for i in lv_nodes:
                r = spec.resolve("aggregation", nodes[i], lv)
                if r["method"] not in VECTOR_METHODS:
                    raise MethodError(f"{where}aggregation '{r['method']}' at node "
                                      f"'{nodes[i]}' cannot be run in the replication engine; "
                                      f"use one of {list(VECTOR_METHODS)}")
                per_node[i] = (r["method"], float(r.get("p", 1.0)))
        agg_methods.append(per_node)

    needs_positive = any(m in ("geometric", "harmonic") or (m == "generalised" and pw <= 0)
                         for per_node in agg_methods for m, pw in per_node)
    if needs_positive:
        for z, label in zip(Z, Z_labels):
            bad = ~np.isnan(z) & (z <= 0)
            if bad.any():
                i, k = np.argwhere(bad)[0]
                raise DataError(f"{where}alternative [{label}]: normalised value {z[i, k]:g} of "
                                f"unit {units[i]}, indicator '{fw.indicators[k]}' is not "
                                "positive, but "
                                "the space includes a geometric/harmonic mean; use a strictly "
                                "positive normalisation (e.g. minmax [1, 100], rank)")
    children, prev_pos = {}, {}
    prev = [pos[c] for c in fw.indicators]
    for lv_nodes in levels:
        col = {n: k for k, n in enumerate(prev)}
        for i in lv_nodes:
            kids = np.array([pos[k] for k in fw.children(nodes[i])])
            children[i] = kids
            prev_pos[i] = np.array([col[k] for k in kids])
        prev = lv_nodes

    base = agg_weights[0]
    weight_factors = []
    for j, a in enumerate(space.assumptions):
        if a.kind == "weight_noise":
            weight_factors.append((j, "multiply", _draw_weight_noise(a, fw, nodes, base, rng)))
        elif a.kind == "weight_sets":
            table = np.full((a.n_levels, len(nodes)), np.nan)  # NaN = keep base weight
            for k, name in enumerate(a.values):
                ws = a.params["sets"][name]
                if ws == "equal":
                    table[k, [pos[c] for c in nodes if c != fw.root]] = 1.0
                elif isinstance(ws, dict):
                    for c, w in ws.items():
                        table[k, pos[c]] = w
            weight_factors.append((j, "replace", table))
        elif a.kind == "leave_one_out":
            table = np.ones((a.n_levels, len(nodes)))
            for k, code in enumerate(a.values):
                if code != "none":
                    table[k, pos[code]] = 0.0
            weight_factors.append((j, "multiply", table))

    return Prepared(units, nodes, levels, children, prev_pos, pos[fw.root], Z, pre_ids,
                    [space.assumptions[j].n_levels for j in pre_ids], agg_methods,
                    np.array(agg_weights), agg_ids,
                    [space.assumptions[j].n_levels for j in agg_ids], weight_factors,
                    result.index_ranks.reindex(units).to_numpy(dtype=float), space, seed,
                    {c: result.ranking(c) for c in fw.aggregates},
                    result.observed.reindex(index=units, columns=fw.indicators)
                    .to_numpy(dtype=bool), np.array([pos[c] for c in fw.indicators]))


def _unit_change(before: list, after: list, n: int = 8) -> str:
    """"drops A, B; adds C" for the units an alternative removes or adds."""
    gone = [u for u in before if u not in set(after)]
    new = [u for u in after if u not in set(before)]
    parts = []
    for verb, units in (("drops", gone), ("adds", new)):
        if units:
            parts.append(f"{verb} {', '.join(map(str, units[:n]))}"
                         + (f" and {len(units) - n} more" if len(units) > n else ""))
    return "; ".join(parts) or "reorders them"


def _noisy_values(data: IndicatorData, a: Assumption, indicators: list[str],
                  rng: np.random.Generator) -> np.ndarray:
    """One draw of measurement noise on the data: array (units, indicators) of every unit of
    ``data`` (its rows), for ``indicators`` (multiplicative x(1 + ε) or additive x + ε·SD(x),
    ε ~ N(0, sd²) per value)."""
    X = data.values[indicators].to_numpy(dtype=float, copy=True)
    col = {c: j for j, c in enumerate(indicators)}
    sd = a.params["sd"]
    for c in a.params["indicators"]:
        s = sd.get(c, 0.0) if isinstance(sd, dict) else float(sd)
        eps = rng.normal(0.0, s, size=X.shape[0])
        j = col[c]
        if a.params["kind"] == "multiplicative":
            X[:, j] = X[:, j] * (1.0 + eps)
        else:
            X[:, j] = X[:, j] + eps * np.nanstd(X[:, j])
    return X


def _weights_for(p: Prepared, L: np.ndarray, agg_id: np.ndarray) -> np.ndarray:
    W = p.agg_weights[agg_id].copy()
    for j, kind, table in p.weight_factors:
        t = table[L[:, j]]
        if kind == "replace":
            W = np.where(np.isnan(t), W, t)
        else:
            W = W * t
    return W


_FWD = {"arithmetic": lambda x, p: x, "geometric": lambda x, p: np.log(x),
        "harmonic": lambda x, p: 1.0 / x, "generalised": lambda x, p: x**p}
_INV = {"arithmetic": lambda y, p: y, "geometric": lambda y, p: np.exp(y),
        "harmonic": lambda y, p: 1.0 / y, "generalised": lambda y, p: y ** (1.0 / p)}


def _scores_group(p: Prepared, Z: np.ndarray, methods: list[tuple[str, float]],
                  W: np.ndarray) -> dict[int, np.ndarray]:
    """Scores (reps × units) of every aggregate node for one group of replications."""
    r = W.shape[0]
    X = Z  # level 1: (units × indicators), shared by the group
    shared = True
    out = {}
    for lv_nodes in p.levels:
        new = np.empty((r, Z.shape[0], len(lv_nodes)))
        for k, i in enumerate(lv_nodes):
            m, pw = methods[i]
            cols = p.prev_pos[i]
            w = W[:, p.children[i]]                       # (r × c)
            xc = X[:, cols] if shared else X[:, :, cols]  # (u × c) or (r × u × c)
            with np.errstate(divide="ignore", invalid="ignore"):
                if m == "geometric" or m == "harmonic" or (m == "generalised" and pw <= 0):
                    if np.any(xc[~np.isnan(xc)] <= 0):
                        raise DataError(f"the {m} mean at '{p.nodes[i]}' meets values ≤ 0 in an "
                                        "alternative; normalise to a positive range")
                t = _FWD[m](xc, pw)
            avail = ~np.isnan(t)
            t0 = np.where(avail, t, 0.0)
            if shared:
                num = w @ t0.T                            # (r × u)
                den = w @ avail.T.astype(float) if not avail.all() else w.sum(1)[:, None]
            else:
                num = np.einsum("ruc,rc->ru", t0, w)
                den = np.einsum("ruc,rc->ru", avail.astype(float), w)
            with np.errstate(divide="ignore", invalid="ignore"):
                new[:, :, k] = np.where(den > 0, _INV[m](num / den, pw), np.nan)
            out[i] = new[:, :, k]
        X, shared = new, False
    return out


def _rankable_masks(p: Prepared, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pattern index per replication, masks: patterns × units × nodes) for weights ``W``."""
    pos = W > 0
    pat, inv = np.unique(pos, axis=0, return_inverse=True)
    ind_pos = p.indicator_pos
    masks = np.zeros((len(pat), len(p.units), len(p.nodes)), dtype=bool)
    for k, row in enumerate(pat):
        R = masks[k]
        R[:, ind_pos] = p.observed
        for lv_nodes in p.levels:
            for i in lv_nodes:
                kids = p.children[i]
                R[:, i] = (R[:, kids] & row[kids]).any(axis=1)
    return np.asarray(inv).ravel(), masks


def evaluate(p: Prepared, L: np.ndarray, nodes: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Ranks for the replications in ``L`` (reps × factors, integer levels).

    A unit with no observed indicator under a node (through the children a replication keeps)
    has no score (NaN) and no rank there; the others are ranked among themselves.

    Returns {"index": ranks (reps × units) float32, "index_scores": the index scores (reps ×
    units; on each alternative's own scale), and CODE: ranks (reps × units) of each aggregate
    in ``nodes``}.
    """
    pre_id, agg_id = p.combo_ids(L)
    W = _weights_for(p, L, agg_id)
    n, u = L.shape[0], len(p.units)
    root_scores = np.empty((n, u))
    node_scores = {c: np.empty((n, u)) for c in nodes}
    key = pre_id * max(1, len(p.agg_methods)) + agg_id
    for k in np.unique(key):
        rows = np.flatnonzero(key == k)
        s = _scores_group(p, p.Z[pre_id[rows[0]]], p.agg_methods[agg_id[rows[0]]], W[rows])
        root_scores[rows] = s[p.root]
        for c in nodes:
            node_scores[c][rows] = s[p.nodes.index(c)]
    if p.observed is not None:
        inv, masks = _rankable_masks(p, W)
        root_scores = np.where(masks[inv][:, :, p.root], root_scores, np.nan)
        for c in nodes:
            i = p.nodes.index(c)
            node_scores[c] = np.where(masks[inv][:, :, i], node_scores[c], np.nan)
    out = {"index": p.rank(root_scores, p.nodes[p.root]).astype(np.float32),
           "index_scores": root_scores}
    for c, s in node_scores.items():
        out[c] = p.rank(s, c).astype(np.float32)
    return out


def chunk_size(p: Prepared) -> int:
    width = max(len(p.Z[0][0]), max(len(v) for v in p.levels), 1)
    return int(max(64, CHUNK_BYTES // (8 * len(p.units) * width)))


# ----------------------------------------------------------------------------- runners
class SerialRunner:
    """Evaluate blocks one after the other in this process."""

    n_workers = 1

    def __call__(self, func, tasks):
        return [func(*t) for t in tasks]


class JoblibRunner:
    """Evaluate blocks in ``n_jobs`` local processes (joblib/loky)."""

    def __init__(self, n_jobs: int = -1):
        import os

        self.n_workers = os.cpu_count() or 1 if n_jobs in (-1, 0, None) else int(n_jobs)

    def __call__(self, func, tasks):
        from joblib import Parallel, delayed

        return Parallel(n_jobs=self.n_workers)(delayed(func)(*t) for t in tasks)


class DaskRunner:
    """Evaluate blocks on a ``dask.distributed.Client`` (a LocalCluster or a real cluster)."""

    def __init__(self, client):
        self.client = client
        self.n_workers = max(1, len(client.scheduler_info().get("workers", {})))

    def __call__(self, func, tasks):
        p = self.client.scatter(tasks[0][0], broadcast=True)
        futures = [self.client.submit(func, p, *t[1:], pure=False) for t in tasks]
        return self.client.gather(futures)


Runner = SerialRunner | JoblibRunner | DaskRunner
serial_runner = SerialRunner()


def evaluate_block(p: Prepared, L: np.ndarray, nodes: Sequence[str] = ()
                   ) -> dict[str, np.ndarray]:
    """:func:`evaluate` over memory-bounded chunks of ``L`` (one task of a runner)."""
    from threadpoolctl import threadpool_limits

    cs = chunk_size(p)
    # the products are small (units × children): a multi-threaded BLAS only adds overhead,
    # and parallelism comes from the runner's processes
    with threadpool_limits(limits=1, user_api="blas"):
        parts = [evaluate(p, L[s:s + cs], nodes) for s in range(0, L.shape[0], cs)]
    return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}


def run_replications(p: Prepared, L: np.ndarray, runner=None,
                     progress: Callable[[int], None] | None = None,
                     nodes: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Evaluate all rows of ``L`` with ``runner`` (default serial), in order; ``nodes``: the
    aggregates whose ranks are returned besides the index's.

    Rows are split into contiguous blocks (a few per worker, each evaluated in memory-bounded
    chunks), so the result does not depend on the runner or the number of workers.
    """
    runner = runner or serial_runner
    n = L.shape[0]
    if n == 0:
        return {}
    n_blocks = max(1, min(-(-n // chunk_size(p)), 10 if runner.n_workers == 1
                          else 2 * runner.n_workers))
    size = -(-n // n_blocks)
    starts = list(range(0, n, size))
    parts: list[dict] = []
    step = 1 if progress else len(starts)
    if runner.n_workers > 1:
        step = len(starts) if not progress else runner.n_workers
    for b in range(0, len(starts), step):
        tasks = [(p, L[s:s + size], tuple(nodes)) for s in starts[b:b + step]]
        parts.extend(runner(evaluate_block, tasks))
        if progress:
            progress(sum(t[1].shape[0] for t in tasks))
    return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}


#: output bytes of one block of :func:`stream_replications` (bounds its memory whatever N is)
STREAM_BLOCK_BYTES = 32 * 2**20


def stream_replications(p: Prepared, L: np.ndarray, consume: Callable[[int, dict], None],
                        runner=None, progress: Callable[[int], None] | None = None,
                        nodes: Sequence[str] = ()) -> None:
    """Evaluate all rows of ``L`` like :func:`run_replications`, but hand each block's outputs
    to ``consume(first_row, outputs)`` in row order and keep nothing: memory is bounded by
    :data:`STREAM_BLOCK_BYTES` per block (× the runner's workers), not by the number of rows.

    Blocks are contiguous rows and every row's outputs depend only on its own row of ``L``, so
    the outputs are the same as :func:`run_replications` gives, for any runner.
    """
    runner = runner or serial_runner
    n = L.shape[0]
    if n == 0:
        return
    per_row = len(p.units) * (4 + 8 + 4 * len(nodes))  # index ranks, scores, node ranks
    min_blocks = 10 if runner.n_workers == 1 else 2 * runner.n_workers  # progress, balance
    size = int(max(1, min(STREAM_BLOCK_BYTES // max(per_row, 1), -(-n // min_blocks))))
    starts = list(range(0, n, size))
    step = max(1, runner.n_workers)
    for b in range(0, len(starts), step):
        tasks = [(p, L[s:s + size], tuple(nodes)) for s in starts[b:b + step]]
        for s, part in zip(starts[b:b + step], runner(evaluate_block, tasks)):
            consume(s, part)
        if progress:
            progress(sum(t[1].shape[0] for t in tasks))


def prepared_for(result: IndexResult, space: UncertaintySpace, seed: int,
                 prepared: Prepared | None = None) -> Prepared:
    """``prepared`` when it was built for this result and space (so one preparation serves the
    uncertainty and the sensitivity analysis; its pre-drawn weight and noise sets keep the seed
    they were drawn with, ``prepared.seed``), else a new :func:`prepare` with ``seed``.

    Raises
    ------
    ValueError if ``prepared`` was built for another space or result.
    """
    if prepared is None:
        return prepare(result, space, seed)
    if prepared.space is not space:
        raise ValueError("the prepared alternatives belong to another uncertainty space")
    if list(prepared.units) != list(result.scores.index):
        raise ValueError("the prepared alternatives belong to another index result")
    return prepared

"""Memory estimates of the replication analyses, checked before anything is allocated.

A requested size whose memory would not fit (more than :data:`MEMORY_SHARE` of the memory
available now: ``MemAvailable`` of /proc/meminfo, or the physical memory, and the process's
address-space limit if one is set) is refused with a one-line :class:`MethodError` that gives
the estimate — instead of a MemoryError traceback after minutes of work.

The estimates count the arrays that grow with the sizes (the design and its levels, the
prepared alternatives, the pre-drawn weight sets, the rank histograms, the kept sample of ranks,
one block of outputs per worker; for the Sobol analysis every run's ranks), not the fixed costs
of the interpreter and the libraries.
"""

from __future__ import annotations

import os

from cityindex.model.errors import MethodError

#: largest share of the available memory an analysis may plan to use
MEMORY_SHARE = 0.8


def available_memory() -> int:
    """Bytes of memory available to this process now (best effort; Linux: MemAvailable)."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = 2**40
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            avail = min(avail, soft)
    except (ImportError, ValueError, OSError):
        pass
    return int(avail)


def fmt_bytes(b: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if b < 1024 or unit == "PiB":
            return f"{b:,.0f} {unit}" if unit == "bytes" else f"{b:,.1f} {unit}"
        b /= 1024
    return f"{b:.1f} PiB"  # pragma: no cover


def check_memory(need: float, what: str, hint: str) -> None:
    """Refuse ``what`` when ``need`` bytes exceed :data:`MEMORY_SHARE` of the available memory.

    Raises
    ------
    MethodError: "<what> would need about X of memory (estimate), more than the Y available;
    <hint>".
    """
    avail = available_memory()
    if need > MEMORY_SHARE * avail:
        raise MethodError(f"{what} would need about {fmt_bytes(need)} of memory (estimate), "
                          f"more than the {fmt_bytes(MEMORY_SHARE * avail)} available to it; "
                          f"{hint}")


def prepare_bytes(space, n_units: int, n_indicators: int, n_nodes: int) -> int:
    """The prepared alternatives: one normalised matrix per combination of pre-aggregation
    alternatives (and each measurement-noise data set), the pre-drawn weight tables."""
    combos, tables = 1, 0
    for a in space.assumptions:
        if a.pre_aggregation:
            combos *= a.n_levels
        if a.kind in ("weight_noise", "weight_sets", "leave_one_out"):
            tables += a.n_levels * n_nodes * 8
    noise = sum(a.n_levels for a in space.assumptions if a.kind == "measurement")
    return combos * n_units * n_indicators * 8 + noise * n_units * n_indicators * 8 * 2 + tables


def design_bytes(n_rows: int, n_factors: int) -> int:
    """The sample (float) and its levels (integers) of ``n_rows`` replications."""
    return 2 * n_rows * max(n_factors, 1) * 8


def uncertainty_bytes(space, n_units: int, n_indicators: int, n_nodes: int, n: int,
                      n_node_outputs: int, keep_rows: int, n_workers: int = 1,
                      block_bytes: int = 64 * 2**20, scale: int = 1) -> int:
    """Memory of :func:`~cityindex.validation.uncertainty.uncertainty_analysis` with N = n
    (``scale`` 2 when ranks come in halves, ``ties: average``)."""
    from .rank_histogram import RankHistogram

    hist = (1 + n_node_outputs) * RankHistogram.bytes_for(n_units, n, scale)
    kept = keep_rows * n_units * 4
    blocks = 2 * max(1, n_workers) * block_bytes
    return (prepare_bytes(space, n_units, n_indicators, n_nodes) + design_bytes(n, len(
        space.assumptions)) + hist + kept + blocks)


def sensitivity_bytes(space, n_units: int, n_indicators: int, n_nodes: int, n_base: int,
                      per_unit: bool = True) -> int:
    """Memory of the Sobol analysis: N (d + 2) runs, each with its ranks and scores kept."""
    d = len(space.assumptions)
    runs = n_base * (d + 2)
    outputs = runs * n_units * (4 + 8) * (2 if per_unit else 1)
    return (prepare_bytes(space, n_units, n_indicators, n_nodes) + design_bytes(runs, d)
            + outputs)

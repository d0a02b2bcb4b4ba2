"""Forked worker processes, shared by the audit (one process per index) and the report (one per
index section, the workbook beside the CSVs).

Work is spread only where it cannot change a result: every child runs with one BLAS thread (as
serial audits do, :func:`one_blas_thread`), so the same seed gives the same bytes with or
without workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import warnings


def can_fork(n_tasks: int, workers: int | None = None) -> bool:
    """Whether ``n_tasks`` tasks should run in forked processes: at least two tasks, at least
    two CPUs, ``workers`` not 1 (``--workers 1``: one after the other) and the ``fork`` start
    method (POSIX)."""
    return (n_tasks >= 2 and workers != 1 and (os.cpu_count() or 1) >= 2
            and "fork" in mp.get_all_start_methods())


def process(target, args=()):
    """A daemon process of the ``fork`` context, not started."""
    return mp.get_context("fork").Process(target=target, args=args, daemon=True)


def pipe():
    """(receiving end, sending end) of a one-way pipe of the ``fork`` context."""
    return mp.get_context("fork").Pipe(duplex=False)


def start(proc) -> None:
    """Start ``proc``. Python ≥ 3.12 warns on fork() beside other threads (BLAS workers, a
    progress relay); the children here take none of their locks: they compute and send bytes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()


def one_blas_thread():
    """Limit BLAS to one thread (also usable as a context manager): workers share the CPUs,
    and BLAS sums in another order with more threads — a knife-edge rank-set bound once
    followed the last bit."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)

"""The report's per-index sections rendered side by side, one forked process per index.

Each index's section (its HTML, tables and figures; most of the report's time is matplotlib)
depends only on that index's audit, so the sections can be drawn in parallel and joined in
index order. A child draws into a :class:`~cityindex.report.html._Doc` of its own in a
temporary folder; the parent accepts the result only when every table and figure name the
child chose is the one the parent's name registry gives in the serial order (otherwise, e.g.
two indices whose codes share a slug, every section is drawn again here, one after the other),
then moves the figure files into the run folder. The pages are the same, byte for byte, as a
serial rendering.
"""

from __future__ import annotations

import copy
import os
import pickle
import shutil
import tempfile
from pathlib import Path

from ..forking import can_fork, one_blas_thread, pipe, process, start


def render_sections(doc, indices, draw, workers: int | None = None) -> None:
    """``draw(doc, a)`` for every index audit in ``indices`` (a list), into ``doc``: in forked
    processes when there are two or more indices, two or more CPUs, ``workers`` is not 1 and
    the ``fork`` start method exists; else (or when the names would differ from a serial
    rendering) one after the other."""
    if not can_fork(len(indices), workers):
        for a in indices:
            draw(doc, a)
        return
    with tempfile.TemporaryDirectory(prefix="cityindex-report-") as tmp:
        parts = _forked(doc, indices, draw, Path(tmp))
        if parts is None or not _join(doc, parts):
            for a in indices:
                draw(doc, a)


def _forked(doc, indices, draw, tmp: Path):
    running = []
    for i, a in enumerate(indices):
        recv, send = pipe()
        proc = process(_child, (doc, a, draw, tmp / str(i), send))
        start(proc)
        send.close()
        running.append((proc, recv))
    out = []
    try:
        for proc, recv in running:
            try:
                out.append(pickle.loads(recv.recv_bytes()))
            except EOFError:
                out.append(None)
            proc.join()
    finally:
        for proc, _ in running:
            if proc.is_alive():
                proc.kill()
    if any(o is None or "error" in o for o in out):
        return None            # drawn again in this process, where an error shows as usual
    return out


def _child(doc, a, draw, folder: Path, send) -> None:
    one_blas_thread()
    try:
        d = copy.copy(doc)
        d.folder = folder
        d.parts, d.tables, d.figures = [], {}, []
        d.table_names, d.figure_names = copy.deepcopy(doc.table_names), copy.deepcopy(
            doc.figure_names)
        folder.mkdir(parents=True)
        draw(d, a)
        payload = {"parts": d.parts, "tables": d.tables, "figures": d.figures,
                   "folder": str(folder), "table_names": d.table_names._names,
                   "figure_names": d.figure_names._names}
    except BaseException as exc:  # noqa: BLE001 - the parent draws it again
        payload = {"error": repr(exc)}
    send.send_bytes(pickle.dumps(payload))
    send.close()


def _join(doc, parts) -> bool:
    """Add the children's sections to ``doc`` when their names are the serial ones."""
    tn, fn = copy.deepcopy(doc.table_names), copy.deepcopy(doc.figure_names)
    keys = set(doc.tables)
    for p in parts:
        for namer, names in ((tn, p["table_names"]), (fn, p["figure_names"])):
            if any(namer(k) != v for k, v in names.items()):
                return False
        if keys & set(p["tables"]):
            return False
        keys |= set(p["tables"])
    figures = Path(doc.folder) / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for p in parts:
        src = Path(p["folder"]) / "figures"
        for name in p["figures"]:
            for ext in (".png", ".svg"):
                shutil.move(src / f"{name}{ext}", figures / f"{name}{ext}")
        doc.parts.extend(p["parts"])
        doc.tables.update(p["tables"])
        doc.figures.extend(p["figures"])
    doc.table_names, doc.figure_names = tn, fn
    return True


def in_background(task, workers: int | None = None):
    """Start ``task()`` (writing files, returning nothing) in a forked process when there are
    two or more CPUs, ``workers`` is not 1 and ``fork`` exists; return ``join()``, which waits
    for it — and runs ``task()`` here instead when the child did not end cleanly, so that an
    error shows as usual. Without a child ``task()`` runs at once."""
    if not can_fork(2, workers):   # two tasks: the child's and what this process does meanwhile
        task()
        return lambda: None
    proc = process(_run_task, (task,))
    start(proc)

    def join():
        proc.join()
        if proc.exitcode != 0:
            task()
    return join


def _run_task(task) -> None:
    one_blas_thread()
    try:
        task()
    except BaseException:  # noqa: BLE001 - the parent runs it again and shows the error
        os._exit(1)

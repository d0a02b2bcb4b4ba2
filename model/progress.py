"""Progress of long steps, reported by sub-step with counts.

An analysis that takes more than a second or two accepts ``progress``: a callable
``progress(step, done, total)`` — the label of the sub-step it is in (``"leave-one-out"``),
how many of its ``total`` items are done. The caller decides how to show it (the command line
updates a rich progress bar; the audit updates its stage's bar); ``None`` shows nothing.

The analyses call :func:`report` so that ``None`` costs nothing and a callback that raises
never stops an analysis half-way silently (its error propagates, as any other).
"""

from __future__ import annotations

from typing import Callable, Optional

#: ``progress(step, done, total)``
StepCallback = Callable[[str, int, int], None]


def report(progress: Optional[StepCallback], step: str, done: int, total: int) -> None:
    """Call ``progress(step, done, total)`` when a callback was given."""
    if progress is not None:
        progress(step, int(done), int(total))


def counted(progress: Optional[StepCallback], step: str, total: int):
    """A callable ``tick(k=1)`` that advances ``step`` by ``k`` of ``total`` (reports 0 of
    ``total`` at once)."""
    state = {"done": 0}
    report(progress, step, 0, total)

    def tick(k: int = 1) -> None:
        state["done"] += k
        report(progress, step, state["done"], total)

    return tick

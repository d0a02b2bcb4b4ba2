"""SIGTERM and SIGINT during a command: stop cleanly.

:func:`handling` installs handlers for the length of a command (main thread only): SIGTERM
raises :class:`Terminated` and SIGINT :class:`KeyboardInterrupt` in the main thread, so every
``finally`` and ``except BaseException`` runs — the temporary run folder is removed
(:func:`cityindex.runio.run_folder`), the Bayesian child process is stopped
(:class:`cityindex.bayes_job.BackgroundBayes`), the output lock is released. Inside
:func:`critical` (the few renames that put a finished run folder in place) a signal is held
back until the section ends, so a run folder is never left half swapped.

Exit statuses (see ``cityindex --help``): 130 after SIGINT, 143 after SIGTERM.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"stopped by signal {signal.Signals(signum).name}")
        self.signum = signum


_depth = 0
_pending: list[int] = []


def _raise(signum: int):
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def _handler(signum, frame):
    if _depth:
        _pending.append(signum)
        return
    _raise(signum)


@contextmanager
def critical():
    """Hold SIGTERM/SIGINT back until the block has finished (then act on them)."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending:
            signum = _pending[0]
            _pending.clear()
            _raise(signum)


@contextmanager
def handling():
    """Install the handlers for the block (no-op outside the main thread), then restore the
    previous ones."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in previous:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)

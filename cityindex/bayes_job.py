"""The Bayesian fit of an audit in a separate (spawned) process, started early and collected
later: it overlaps the other stages, and a sampler crash or hang cannot take the audit down.

The child process unpickles the :class:`~cityindex.model.pipeline.IndexResult`, runs
:func:`~cityindex.model.bayes.result.fit_bayes` and pickles the
:class:`~cityindex.model.bayes.result.BayesResult` (without the sampler's trace) back.

Stopping: the child runs in a process group of its own; :meth:`BackgroundBayes.stop` ends the
whole group (the fit's own worker processes included) — SIGTERM, then SIGKILL after
:data:`STOP_GRACE` seconds — and removes the temporary folder with the pickles. A timer stops
the fit exactly ``bayes_timeout`` seconds after its start, whether or not the audit is waiting
for it then (``--bayes-timeout`` means that). The child also stops itself when its parent dies
(it checks every second), so a killed audit never leaves a fit running.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: seconds between SIGTERM and SIGKILL when a fit is stopped
STOP_GRACE = 2.0


def _watch_parent(parent: int) -> None:
    """In the child: end this process group as soon as the parent process is gone."""
    def loop():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                try:
                    os.killpg(0, signal.SIGKILL)
                finally:
                    os._exit(1)

    threading.Thread(target=loop, daemon=True).start()


def _child(in_path: str, out_path: str, parent: int | None = None) -> None:
    """Child-process body: fit, then pickle the BayesResult or the error message."""
    import warnings

    if parent is not None:
        _watch_parent(parent)
    try:
        from cityindex.forking import one_blas_thread

        one_blas_thread()   # the sampler's chains are the parallelism
        result, s = pickle.loads(Path(in_path).read_bytes())
        from cityindex.model.bayes import fit_bayes

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fit_bayes(result, chains=s.bayes_chains, draws=s.bayes_draws,
                            tune=s.bayes_tune, seed=s.seed,
                            target_accept=s.bayes_target_accept)
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        out = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:400]}
    Path(out_path).write_bytes(pickle.dumps(out))


class BackgroundBayes:
    """Start the fit of ``result`` now; :meth:`result` waits for it until ``settings.
    bayes_timeout`` seconds after the start, then stops it.

    After :meth:`result`: ``timed_out`` (bool), ``message`` (why there is no result) and
    ``wall`` (seconds the fit ran).
    """

    def __init__(self, result, settings):
        self.timeout = settings.bayes_timeout
        self.dir = tempfile.TemporaryDirectory(prefix="cityindex-bayes-")
        d = Path(self.dir.name)
        self.path = d / "out.pkl"
        (d / "in.pkl").write_bytes(pickle.dumps((result, settings)))
        code = ("from cityindex.bayes_job import _child; "
                f"_child({str(d / 'in.pkl')!r}, {str(self.path)!r}, {os.getpid()})")
        self.t0 = time.perf_counter()
        self.wall: float | None = None
        self.timed_out = False
        self.message = ""
        self._expired = threading.Event()
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self._timer = threading.Timer(self.timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        """The timer: the fit has run ``timeout`` seconds — stop it now."""
        if self.alive():
            self._expired.set()
            self._end_group()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _end_group(self) -> None:
        """SIGTERM to the child's process group, SIGKILL after :data:`STOP_GRACE` seconds."""
        for sig, wait in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, None)):
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        """Stop the child and its process group (if it still runs) and remove its files."""
        self._timer.cancel()
        if self.alive():
            self._end_group()
        else:  # reap the fit's own workers, should any outlive it
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.dir.cleanup()

    def result(self):
        """The BayesResult. Raises TimeoutError or RuntimeError (with :attr:`message` set)."""
        try:
            self.proc.wait()  # the timer ends it at the latest ``timeout`` s after the start
            self.wall = time.perf_counter() - self.t0
            if self._expired.is_set():
                self.timed_out = True
                self.message = (f"the fit did not finish within {self.timeout:g} s of its "
                                "start and was stopped (raise --bayes-timeout to allow more)")
                raise TimeoutError(self.message)
            if not self.path.exists():
                self.message = f"the fit process died (exit code {self.proc.returncode})"
                raise RuntimeError(self.message)
            out = pickle.loads(self.path.read_bytes())
            if isinstance(out, dict) and "error" in out:
                self.message = out["error"]
                raise RuntimeError(self.message)
            return out
        finally:
            self.stop()

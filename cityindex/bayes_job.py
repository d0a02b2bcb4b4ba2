"""The Bayesian fit of an audit in a separate (spawned) process, started early and collected
later: it overlaps the other stages, and a sampler crash or hang cannot take the audit down.

The child process unpickles the :class:`~cityindex.model.pipeline.IndexResult`, runs
:func:`~cityindex.model.bayes.result.fit_bayes` and pickles the
:class:`~cityindex.model.bayes.result.BayesResult` (without the sampler's trace) back.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(in_path: str, out_path: str) -> None:
    """Child-process body: fit, then pickle the BayesResult or the error message."""
    import warnings

    try:
        result, s = pickle.loads(Path(in_path).read_bytes())
        from cityindex.model.bayes import fit_bayes

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fit_bayes(result, chains=s.bayes_chains, draws=s.bayes_draws,
                            tune=s.bayes_tune, seed=s.seed)
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
                f"_child({str(d / 'in.pkl')!r}, {str(self.path)!r})")
        self.t0 = time.perf_counter()
        self.wall: float | None = None
        self.timed_out = False
        self.message = ""
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """Stop the child (if it still runs) and remove its files."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.dir.cleanup()

    def result(self):
        """The BayesResult. Raises TimeoutError or RuntimeError (with :attr:`message` set)."""
        try:
            try:
                self.proc.wait(max(1.0, self.timeout - (time.perf_counter() - self.t0)))
            except subprocess.TimeoutExpired:
                self.wall = time.perf_counter() - self.t0
                self.timed_out = True
                self.message = (f"the fit did not finish within {self.timeout:.0f} s and was "
                                "stopped (raise --bayes-timeout to allow more)")
                raise TimeoutError(self.message) from None
            self.wall = time.perf_counter() - self.t0
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

"""Faults (issue 15): signals, the Bayesian child, timeouts, locks, re-runs, modes, exit codes.

* SIGTERM during the write phase removes the temporary run folder and exits 143, one line;
* SIGTERM to an audit stops the Bayesian child (and removes its temporary folder) at once;
* the Bayesian timeout stops the fit that many seconds after its start; the child stops itself
  when its parent dies;
* a second run into the same ``--out`` fails at once with a clear error, the first completes;
* a re-run keeps files the user added, refuses to replace one with an output of its own;
* run folders are created 0755 (less the umask);
* ``audit`` exits 3 when a requested section failed, and the report marks it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityindex.cli import app

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"
INPUTS = ["-f", str(ASEM / "asem_imeta.csv"), "-d", str(ASEM / "asem_idata.csv"),
          "-m", str(ROOT / "data" / "methods" / "asem.yaml")]
SPACE = ["-s", str(ROOT / "data" / "spaces" / "coinr_asem.yaml")]


def _cli(*args) -> list[str]:
    return [sys.executable, "-c", "import sys; from cityindex.cli import app; "
            "sys.argv[0] = 'cityindex'; app()", *map(str, args)]


def _children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _bayes_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("cityindex-bayes-*")}


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


@pytest.mark.slow
def test_sigterm_while_writing_removes_the_temporary_folder(tmp_path):
    out = tmp_path / "deep" / "run"
    proc = subprocess.Popen(_cli("uncertainty", *INPUTS, *SPACE, "--n", 400_000,
                                 "--replications", "-o", out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the run folder is being written
        if (tmp_path / "deep").exists() and any((tmp_path / "deep").glob(".run.*/*.parquet")):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the run never started writing")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert len(err.strip().splitlines()) == 1 and "SIGTERM" in err and "Traceback" not in err
    assert not out.exists()
    assert not (tmp_path / "deep").exists()  # no hidden .run.* folder, no parent left behind


@pytest.mark.slow
def test_sigterm_to_an_audit_stops_the_bayesian_child(tmp_path):
    before = _bayes_dirs()
    out = tmp_path / "audit"
    proc = subprocess.Popen(_cli("audit", "-f", "gdci", "--n", 200, "--n-sobol", 16,
                                 "--bayes-timeout", 600, "--quiet", "-o", out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = None
    deadline = time.time() + 120
    while time.time() < deadline and child is None:
        for pid in _children_of(proc.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"bayes_job import _child" in cmd:
                child = pid
        time.sleep(0.2)
    if child is None:
        proc.kill()
        pytest.fail("no Bayesian child process was started")
    time.sleep(1.0)
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    waited = time.time() - t0
    assert proc.returncode == 143, err
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the Bayesian child outlived the audit"
    assert waited < 15, f"the audit took {waited:.0f} s to stop"
    assert _bayes_dirs() <= before, "the Bayesian child's temporary folder was left behind"
    assert not out.exists()


def _small_result():
    from cityindex.model import Framework, MethodSpec, compute_index, read_data

    fw = Framework.load(ASEM / "asem_imeta.csv")
    return compute_index(fw, read_data(ASEM / "asem_idata.csv", fw),
                         MethodSpec.load(ROOT / "data" / "methods" / "asem.yaml"))


def test_bayes_timeout_stops_the_fit_that_many_seconds_after_its_start():
    from cityindex.auditing import AuditSettings
    from cityindex.bayes_job import BackgroundBayes

    before = _bayes_dirs()
    job = BackgroundBayes(_small_result(), AuditSettings(bayes_timeout=2.0))
    pid = job.proc.pid
    time.sleep(3.5)  # the audit is busy elsewhere: the timer stops the fit regardless
    assert not _alive(pid), "the fit ran past its timeout"
    with pytest.raises(TimeoutError, match="within 2 s of its start"):
        job.result()
    assert job.timed_out and 1.9 < job.wall
    assert _bayes_dirs() <= before


def test_bayes_child_stops_when_its_parent_dies(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from cityindex.auditing import AuditSettings\n"
        "from cityindex.bayes_job import BackgroundBayes\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_faults import _small_result\n"
        "job = BackgroundBayes(_small_result(), AuditSettings(bayes_timeout=600))\n"
        "print(job.proc.pid, flush=True)\n"
        "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()  # SIGKILL: no handler, no finally runs in the parent
    parent.wait()
    deadline = time.time() + 15
    while _alive(child) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(child), "the orphaned Bayesian child kept running"


@pytest.mark.slow
def test_a_second_run_into_the_same_folder_fails_at_once(tmp_path):
    from cityindex.runio import OutputLock

    out = tmp_path / "shared"
    first = subprocess.Popen(_cli("uncertainty", *INPUTS, *SPACE, "--n", 3_000_000, "-o", out),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = OutputLock(out).path
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline:  # the first run holds the lock
        time.sleep(0.05)
    assert lock.exists()
    t0 = time.time()
    second = subprocess.run(_cli("uncertainty", *INPUTS, *SPACE, "--n", 100, "-o", out),
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 2, second.stderr
    assert "another cityindex run is writing to this folder" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert time.time() - t0 < 30
    assert first.poll() is None, "the first run should still be running"
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 143, err
    assert not out.exists() and not lock.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".shared")]
    # once released, the folder can be used
    again = subprocess.run(_cli("uncertainty", *INPUTS, *SPACE, "--n", 100, "-o", out),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr


def test_rerun_keeps_user_files_and_refuses_to_replace_them(tmp_path):
    out = tmp_path / "run"
    run = lambda *extra: CliRunner().invoke(app, ["uncertainty", *INPUTS, *SPACE, "--n", 50,  # noqa: E731
                                                  "-o", str(out), *map(str, extra)])
    assert run().exit_code == 0
    man = json.loads((out / "manifest.json").read_text())
    listed = {f["path"] for f in man["files"]}
    assert {"rank_stats.csv", "summary.json"} <= listed and "manifest.json" not in listed
    assert all(len(f["sha256"]) == 64 for f in man["files"])
    (out / "my_notes.txt").write_text("mine")
    (out / "sub").mkdir()
    (out / "sub" / "deep.txt").write_text("also mine")
    assert run().exit_code == 0
    assert (out / "my_notes.txt").read_text() == "mine"
    assert (out / "sub" / "deep.txt").read_text() == "also mine"
    # a new output with the name of a file the user added: refused, nothing replaced
    (out / "replications.parquet").write_text("user data")
    res = run("--replications")
    assert res.exit_code == 2 and "not an output of the earlier run" in res.output
    assert (out / "replications.parquet").read_text() == "user data"
    assert (out / "my_notes.txt").exists() and (out / "rank_stats.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]


def test_run_folders_are_0755(tmp_path):
    out = tmp_path / "a" / "run"
    old = os.umask(0o022)
    try:
        res = CliRunner().invoke(app, ["compute", *INPUTS, "-o", str(out)])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    assert (out.stat().st_mode & 0o777) == 0o755
    assert ((tmp_path / "a").stat().st_mode & 0o777) == 0o755


def test_out_is_checked_before_any_work(tmp_path, monkeypatch):
    """A bad --out fails before the index is computed."""
    import cityindex.model as M

    calls = []
    monkeypatch.setattr(M, "compute_index", lambda *a, **k: calls.append(1))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = CliRunner().invoke(app, ["compute", *INPUTS, "-o", str(blocker / "run")])
    assert res.exit_code == 2 and "is a file" in res.output
    assert calls == []


def test_audit_exits_3_when_a_section_failed(tmp_path, monkeypatch):
    import cityindex.auditing as A

    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(A, "_weights", boom)
    out = tmp_path / "audit"
    res = CliRunner().invoke(app, ["audit", "--quick", *INPUTS, "--space", SPACE[1], "--n", 50,
                                   "--n-sobol", 16, "--quiet", "-o", str(out)])
    assert res.exit_code == 3, res.output
    assert "incomplete report" in res.output and "weights" in res.output
    html = (out / "index.html").read_text()
    assert 'id="incomplete"' in html and "simulated failure" in html

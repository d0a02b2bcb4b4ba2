"""Real-browser test of the audit report: headless Chromium renders ``index.html`` (a quick run
on the COINr ASEM example, Bayes skipped), with no console error, every section heading and
every figure present; saves a screenshot to ``reports/browser_test/screenshot.png`` (git-ignored).

Run with ``pytest -m browser``; skipped when ``/usr/bin/chromium`` is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cityindex.report.html import SECTIONS

ROOT = Path(__file__).resolve().parents[1]
ASEM = ROOT / "tests" / "data" / "coinr_asem"
ASEM_ARGS = ["-f", str(ASEM / "asem_imeta.csv"), "--data", str(ASEM / "asem_idata.csv"),
             "--method", str(ROOT / "data" / "methods" / "asem.yaml"),
             "--space", str(ROOT / "data" / "spaces" / "coinr_asem.yaml")]
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and Path(p).exists()),
                None)

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed "
                                 "(apt-get install -y chromium)")]


def _chromium(args: list[str], profile: Path, timeout: int = 90) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from typer.testing import CliRunner

    from cityindex.cli import app

    out = tmp_path_factory.mktemp("browser") / "asem"
    res = CliRunner().invoke(app, ["audit", "--quick", "--no-bayes", "--quiet", *ASEM_ARGS,
                                   "--n", "100", "--n-sobol", "16", "--out", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out


def _console_errors(stderr: str) -> list[str]:
    """Console messages in chromium's stderr log. The report logs nothing (its one script, the
    search box, never logs), so any console message (an uncaught error, a blocked or missing
    resource) counts as an error; chromium logs them as ``INFO:CONSOLE`` / ``ERROR:CONSOLE``
    lines whatever their level."""
    return [line for line in stderr.splitlines()
            if re.search(r":CONSOLE[(:\]]", line) or "Uncaught" in line]


def test_console_error_detector(tmp_path):
    """The detector sees an uncaught error and a console.error of a page."""
    page = tmp_path / "err.html"
    page.write_text("<html><body><h1>x</h1><script>console.error('boom');"
                    "throw new Error('bad')</script></body></html>")
    res = _chromium(["--dump-dom", page.as_uri()], tmp_path / "p0")
    errs = _console_errors(res.stderr)
    assert any("boom" in e for e in errs) and any("Uncaught" in e for e in errs), res.stderr


def test_report_renders_in_chromium(report, tmp_path):
    url = (report / "index.html").resolve().as_uri()
    res = _chromium(["--virtual-time-budget=5000", "--dump-dom", url], tmp_path / "p1")
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    assert not _console_errors(res.stderr), _console_errors(res.stderr)
    headings = re.findall(r"<h3[^>]*>([^<]+)</h3>", dom)
    for section in SECTIONS:
        assert section in headings, f"missing section {section!r}"
    figures = json.loads((report / "results.json").read_text())["figures"]
    for name in figures:
        assert f'id="fig-{name}"' in dom, f"missing figure {name}"
    assert dom.count('src="data:image/png;base64,') == len(figures)

    shot = ROOT / "reports" / "browser_test" / "screenshot.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    res = _chromium([f"--screenshot={shot}", "--window-size=1280,1800", "--hide-scrollbars",
                     url], tmp_path / "p2")
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    assert not _console_errors(res.stderr), _console_errors(res.stderr)

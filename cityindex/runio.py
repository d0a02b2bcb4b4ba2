"""Run folders: written atomically, each with a manifest that makes the run reproducible.

A run writes into a temporary sibling folder and renames it into place only when everything has
been written, so a failed run leaves no partial output. ``manifest.json`` records the command,
the method spec, the framework, the data's SHA-256, the seed, package versions and the time.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("cityindex", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "SALib",
            "pymc", "arviz", "nutpie", "matplotlib")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def manifest(command: str, *, method=None, framework=None, data=None, seed=None,
             extra: dict | None = None) -> dict:
    m = {"command": command, "argv": sys.argv, "time": datetime.now(timezone.utc).isoformat(),
         "seed": seed, "packages": package_versions()}
    if framework is not None:
        origin = getattr(framework, "origin", "")
        m["framework"] = {"file": str(Path(origin).resolve()) if origin else "",
                          "sha256": file_sha256(origin), "index": framework.root,
                          "n_indicators": len(framework.indicators)}
    if data is not None:
        m["data"] = {"file": data.source, "sha256": data.sha256, "n_units": len(data.units)}
    if method is not None:
        m["method"] = method.to_dict()
        origin = getattr(method, "origin", "")
        if origin:
            m["method_file"] = {"file": str(Path(origin).resolve()),
                                "sha256": file_sha256(origin)}
    if extra:
        m.update(extra)
    return m


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes ("" when there is no such file)."""
    import hashlib

    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""
    except OSError:
        return ""


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, default=_json_default, ensure_ascii=False))


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if np.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def check_output_folder(out: str | Path) -> Path:
    """``out`` may be new, an empty folder, or an earlier cityindex run (it has our manifest);
    anything else is refused, so a mistyped ``--out`` can never delete a user's files.

    Raises
    ------
    CityIndexError (one line) otherwise.
    """
    from cityindex.model.errors import CityIndexError

    out = Path(out)
    if not out.exists():
        return out
    if not out.is_dir():
        raise CityIndexError(f"{out}: exists and is not a folder; choose another --out")
    if not any(out.iterdir()) or _is_run_folder(out):
        return out
    raise CityIndexError(f"{out}: folder exists and is not an earlier cityindex run (no "
                         "manifest.json of ours); choose a new or empty --out")


def _is_run_folder(path: Path) -> bool:
    try:
        m = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and {"command", "packages", "time"} <= set(m)


@contextmanager
def run_folder(out: str | Path):
    """Yield a temporary folder; on success it replaces ``out``, on error it is removed.

    ``out`` is checked by :func:`check_output_folder` first (call it before long work too).
    """
    from cityindex.model.errors import CityIndexError

    out = check_output_folder(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CityIndexError(f"{out.parent}: cannot create the output folder ({exc.strerror})") \
            from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():  # an earlier run (checked above): swap, then delete it
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        old.rmdir()
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

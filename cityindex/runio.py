"""Run folders: written atomically, each with a manifest that makes the run reproducible.

A run writes into a temporary sibling folder and renames it into place only when everything has
been written, so a failed or interrupted run leaves no partial output. ``manifest.json`` records
the command, the method spec, the framework, the data's SHA-256, the seed, package versions, the
time, and every file the run wrote (``files``: path, bytes, SHA-256).

Rules of the output folder (``--out``):

* it must be new, empty, or an earlier cityindex run; it is checked — with its parent's write
  permission — before any work (:func:`claim_output`, called when the inputs are read);
* one run at a time: a lock (a file under the system's temporary folder, named by the output
  folder's resolved path) makes a second concurrent run into the same folder fail at once with
  a clear error;
* a re-run replaces only the files the earlier run wrote (the ``files`` of its manifest): files
  the user added to the folder are kept (a new output with the same name as one of them is an
  error, before anything is replaced);
* every written path must lie inside the run folder (:func:`cityindex.safety.inside`; symbolic
  links are refused); CSV cells that a spreadsheet would read as formulas are neutralised and
  XLSX files get fixed timestamps (:func:`finalise`);
* folders are created with mode 0755 (0777 less the umask), not the 0700 of a temporary folder;
* SIGTERM or SIGINT while the run folder is swapped into place is held back until the swap is
  done (:func:`cityindex.signals.critical`).
"""

from __future__ import annotations

import hashlib
import json
import os
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
        # where the method in force came from (--method, a bundled index's own method, or
        # the built-in defaults), as `cityindex validate` prints it
        m["method_source"] = getattr(method, "source", "") or (
            "" if origin else "the built-in defaults")
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
    anything else is refused, so a mistyped ``--out`` can never delete a user's files. The
    folder (or its nearest existing parent) must be writable, and no part of its path a file.

    Raises
    ------
    CityIndexError (one line) otherwise.
    """
    from cityindex.model.errors import CityIndexError

    out = Path(out)
    if str(out).strip() == "":
        raise CityIndexError("--out is empty; give an output folder")
    if out.is_symlink():
        raise CityIndexError(f"{out}: is a symbolic link; give the output folder itself")
    if out.exists() and not out.is_dir():
        raise CityIndexError(f"{out}: exists and is not a folder; choose another --out")
    anc = out.absolute().parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise CityIndexError(f"{out}: cannot be created: {anc} is a file, not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise CityIndexError(f"{out}: cannot be created: no permission to write in {anc}")
    if not out.exists():
        return out
    if not os.access(out, os.W_OK | os.X_OK):
        raise CityIndexError(f"{out}: no permission to write in this folder")
    if not any(out.iterdir()) or _is_run_folder(out):
        return out
    raise CityIndexError(f"{out}: folder exists and is not an earlier cityindex run (no "
                         "manifest.json of ours); choose a new or empty --out")


def _is_run_folder(path: Path) -> bool:
    return _manifest_of(path) is not None


def _manifest_of(path: Path) -> dict | None:
    try:
        m = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and {"command", "packages", "time"} <= set(m) else None


# ------------------------------------------------------------------------- lock
class OutputLock:
    """An exclusive, non-blocking lock on one output folder (``flock`` on a file in the
    system's temporary folder named by the folder's resolved path): two runs into one
    ``--out`` cannot overlap. The lock file is removed on release."""

    def __init__(self, out: Path):
        self.out = Path(out)
        key = hashlib.sha256(str(self.out.absolute().resolve()).encode()).hexdigest()[:32]
        uid = os.getuid() if hasattr(os, "getuid") else 0
        self.dir = Path(tempfile.gettempdir()) / f"cityindex-locks-{uid}"
        self.path = self.dir / f"{key}.lock"
        self.fd: int | None = None

    def acquire(self) -> "OutputLock":
        from cityindex.model.errors import CityIndexError

        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return self
        self.dir.mkdir(mode=0o700, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip()
                os.close(fd)
                raise CityIndexError(
                    f"{self.out}: another cityindex run is writing to this folder"
                    + (f" ({holder})" if holder else "")
                    + "; wait for it to finish or choose another --out") from None
            try:  # the file may have been removed by its last holder meanwhile: retry
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}: {' '.join(map(str, sys.argv[:2]))}".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if os.fstat(self.fd).st_ino == os.stat(self.path).st_ino:
                os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


_claims: dict[str, OutputLock] = {}


def claim_output(out: str | Path) -> Path:
    """Check ``out`` (:func:`check_output_folder`) and take its lock for the rest of the command
    (until :func:`release_outputs`; taking it twice in one process is a no-op).

    Raises
    ------
    CityIndexError when the folder is not usable or another run holds it.
    """
    out = check_output_folder(out)
    key = str(Path(out).absolute().resolve())
    if key not in _claims:
        _claims[key] = OutputLock(Path(out)).acquire()
    return out


def release_outputs() -> None:
    """Release every output lock this process holds (the CLI does at the end of a command)."""
    while _claims:
        _, lock = _claims.popitem()
        lock.release()


# ------------------------------------------------------------------------- finalise
def finalise(folder: Path) -> list[dict]:
    """Check and finish a written run folder; return its files (path, bytes, sha256).

    Refuses a symbolic link or anything that is not a file or folder inside it; neutralises
    formula-like CSV cells (:func:`cityindex.safety.neutralise_csv`) and XLSX formula cells;
    gives XLSX files fixed timestamps (:func:`cityindex.reproducible.fix_xlsx`); sets folder
    modes to 0755 (less the umask)."""
    from cityindex.model.errors import CityIndexError

    from .reproducible import fix_xlsx
    from .safety import inside, neutralise_csv

    folder = Path(folder)
    mode = 0o777 & ~_umask()
    files = []
    for root, dirs, names in os.walk(folder):
        r = Path(root)
        os.chmod(r, mode)
        for name in [*dirs, *names]:
            p = r / name
            if p.is_symlink():
                raise CityIndexError(f"refusing to keep the symbolic link {p.relative_to(folder)} "
                                     "in a run folder")
            inside(folder, p)
        for name in names:
            p = r / name
            if not p.is_file():
                raise CityIndexError(f"{p.relative_to(folder)}: not a regular file")
            suffix = p.suffix.lower()
            if suffix in (".csv", ".tsv"):
                neutralise_csv(p)
            elif suffix in (".xlsx", ".xlsm"):
                fix_xlsx(p)
            rel = p.relative_to(folder).as_posix()
            if rel != "manifest.json":
                files.append({"path": rel, "bytes": p.stat().st_size, "sha256": file_sha256(p)})
    return sorted(files, key=lambda f: f["path"])


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed run created (innermost first) if they are still empty."""
    for f in folders:
        try:
            f.rmdir()
        except OSError:
            break


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _product_files(out: Path) -> set[str] | None:
    """The files an earlier run in ``out`` wrote (its manifest's ``files``); None when its
    manifest does not list them (then no earlier file counts as the product's)."""
    m = _manifest_of(out)
    if m is None or not isinstance(m.get("files"), list):
        return None
    return {f["path"] for f in m["files"] if isinstance(f, dict) and "path" in f} | \
        {"manifest.json"}


def _user_entries(out: Path, product: set[str] | None) -> list[str]:
    """Files (and empty folders, symbolic links) in ``out`` that no earlier run wrote (every
    file but manifest.json when ``product`` is None: an earlier run that did not list them)."""
    legacy = product is None
    keep = []
    for root, dirs, names in os.walk(out):
        r = Path(root)
        for name in list(dirs):
            p = r / name
            if p.is_symlink() or (not any(p.iterdir())):
                keep.append(p.relative_to(out).as_posix())
                dirs.remove(name)
        for name in names:
            rel = (r / name).relative_to(out).as_posix()
            if rel == "manifest.json":
                continue
            if legacy or rel not in product:
                keep.append(rel)
    return keep


@contextmanager
def run_folder(out: str | Path):
    """Yield a temporary folder; on success it replaces ``out``, on error (or a signal) it is
    removed. See the module docstring for the rules (lock, user files, modes, checks).

    Raises
    ------
    CityIndexError for an unusable ``out``, a concurrent run, a new output that would replace a
    file the user added, or an unsafe file in the run folder.
    """
    key = str(Path(out).absolute().resolve())
    held = key in _claims  # claimed by the command already: it releases it
    out = claim_output(out)
    try:
        yield from _run_folder(out)
    finally:
        if not held and key in _claims:
            _claims.pop(key).release()


def _run_folder(out: Path):
    from cityindex.model.errors import CityIndexError

    from .signals import critical

    made = [a for a in [out.absolute().parent, *out.absolute().parent.parents]
            if not a.exists()]  # parents this run creates (removed again if it fails)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CityIndexError(f"{out.parent}: cannot create the output folder ({exc.strerror})") \
            from None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except BaseException:
        _remove_empty(made)
        raise
    try:
        yield tmp
        files = finalise(tmp)
        if (tmp / "manifest.json").exists():
            m = json.loads((tmp / "manifest.json").read_text())
            m["files"] = files
            write_json(tmp / "manifest.json", m)
        product = _product_files(out) if out.exists() else None
        user = _user_entries(out, product) if out.exists() else []
        clash = [u for u in user if (tmp / u).exists()]
        if clash and product is not None:
            raise CityIndexError(f"{out / clash[0]}: this run would replace a file that is not "
                                 "an output of the earlier run (you added it?); move it away "
                                 "or choose another --out")
        user = [u for u in user if u not in clash]
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        raise
    with critical():  # SIGTERM/SIGINT wait until the folder is in place
        old = None
        if out.exists():  # an earlier run (checked above): swap, keep the user's files
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            old.rmdir()
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            for rel in user:
                dest = out / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.rename(old / rel, dest)
            shutil.rmtree(old, ignore_errors=True)


def write_space(folder: Path, spaces: dict) -> dict:
    """Write the uncertainty space(s) an analysis used into its run folder, so that the user
    can edit them and run again with ``--space``: ``space.yaml`` for one index, else
    ``space_<index>.yaml`` per index (safe file names). ``spaces`` maps an index code to its
    :class:`~cityindex.validation.space.UncertaintySpace`. Returns the manifest record per
    index: the file written, where the space came from (a file, or built from the framework
    and data) and its SHA-256."""
    import hashlib

    from .safety import Namer, inside

    names = Namer()
    out = {}
    for code, sp in spaces.items():
        name = "space.yaml" if len(spaces) == 1 else f"space_{names(code)}.yaml"
        text = sp.text or ""
        inside(folder, folder / name).write_text(text, encoding="utf-8")
        out[code] = {"written": name,
                     "source": ("built from the framework and data (no --space)" if sp.built
                                else str(Path(sp.origin).resolve()) if sp.origin else ""),
                     "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    return out

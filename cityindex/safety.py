"""Output safety: every user string that reaches a file name, an HTML page or a spreadsheet
cell is made harmless here.

* **File names** built from codes (a root code ``../../x``, a unit code with ``/``) become safe
  slugs (:func:`slug`, made unique by a :class:`Namer`), and :func:`inside` refuses any path
  that does not lie inside the run folder.
* **HTML**: :func:`esc` escapes text and attribute values (quotes included); :func:`html_id`
  turns a code into an id / fragment that can hold no markup.
* **Spreadsheet formulas**: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return (and not a plain number) is read by Excel, LibreOffice and Google Sheets as a
  formula (OWASP "CSV injection"); :func:`neutralise` prefixes it with an apostrophe, which
  spreadsheets show as text. :func:`neutralise_frame` does it for a table (cells, column names
  and index), :func:`neutralise_csv` for a written CSV file.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
from pathlib import Path
from typing import Any

import pandas as pd

from cityindex.model.errors import CityIndexError

#: first characters that make a spreadsheet cell a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|nan)$",
                     re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
#: names Windows reserves for devices (a file "con.csv" cannot be created there)
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10))}
MAX_SLUG = 80


class UnsafePath(CityIndexError):
    """A path that would lie outside the run folder."""


# ------------------------------------------------------------------------- file names
def slug(text: Any, max_len: int = MAX_SLUG) -> str:
    """A file-name-safe form of ``text``: ASCII letters, digits, ``_`` and ``-`` only (other
    characters transliterated where possible, else ``_``), no leading or trailing ``_``, never
    empty, never a reserved device name, at most ``max_len`` characters (a long name keeps a
    short hash of the whole so that two long names stay distinct)."""
    from unidecode import unidecode

    s = str(text)
    ascii_ = unidecode(s) if not s.isascii() else s
    out = _UNSAFE.sub("_", ascii_).strip("_-") or "x"
    if out.lower() in _RESERVED:
        out = f"{out}_"
    if len(out) > max_len:
        h = hashlib.sha256(s.encode("utf-8")).hexdigest()[:8]
        out = f"{out[: max_len - 9]}_{h}"
    return out


class Namer:
    """Unique slugs: the same text always gets the same name; two texts whose slugs collide
    (also up to case: some file systems ignore it) get ``name``, ``name-2``, … in the order
    they are first asked for."""

    def __init__(self):
        self._names: dict[str, str] = {}
        self._used: set[str] = set()

    def __call__(self, text: Any) -> str:
        key = str(text)
        if key in self._names:
            return self._names[key]
        base = slug(key)
        name, k = base, 1
        while name.lower() in self._used:
            k += 1
            name = f"{base}-{k}"
        self._used.add(name.lower())
        self._names[key] = name
        return name


def inside(root: str | Path, path: str | Path) -> Path:
    """``path`` (absolute, or relative to ``root``) when it lies inside ``root``.

    Raises
    ------
    UnsafePath otherwise (also for a path through a symbolic link that leads out).
    """
    root = Path(root).resolve()
    p = Path(path)
    full = (p if p.is_absolute() else root / p).resolve()
    if full != root and root not in full.parents:
        raise UnsafePath(f"refusing to write {path}: it is not inside the run folder {root}")
    return full


def safe_file(folder: str | Path, name: Any, suffix: str) -> Path:
    """``folder / (slug(name) + suffix)``, checked to lie inside ``folder``."""
    return inside(folder, Path(folder) / f"{slug(name)}{suffix}")


# ------------------------------------------------------------------------- HTML
def esc(x: Any) -> str:
    """Text or an attribute value for HTML: ``& < > " '`` escaped."""
    return html.escape(str(x), quote=True)


def html_id(text: Any) -> str:
    """An HTML id / URL fragment for a code: its slug (it can hold no quote, space or markup);
    distinct codes may share one only when their slugs collide."""
    return slug(text)


# ------------------------------------------------------------------------- formulas
def is_formula(value: Any) -> bool:
    """Whether a text cell would be read as a formula by a spreadsheet."""
    return (isinstance(value, str) and value[:1] in FORMULA_START
            and not _NUMBER.match(value.strip()))


def neutralise(value: Any) -> Any:
    """``value`` with an apostrophe before it when it is formula-like text (else unchanged)."""
    return "'" + value if is_formula(value) else value


def neutralise_frame(df: pd.DataFrame, index: bool = True) -> pd.DataFrame:
    """A copy of ``df`` whose text cells, column names (and index, with ``index``) cannot be
    read as formulas; ``df`` itself when nothing needed it."""
    out = df
    obj = [c for c in df.columns if df[c].dtype == object or isinstance(df[c].dtype,
                                                                          pd.StringDtype)]
    for c in obj:
        col = df[c]
        if col.map(is_formula).any():
            if out is df:
                out = df.copy()
            out[c] = col.map(neutralise)
    if any(is_formula(c) for c in df.columns):
        out = out.copy() if out is df else out
        out.columns = [neutralise(c) if isinstance(c, str) else c for c in df.columns]
    if index and any(is_formula(v) for v in df.index):
        out = out.copy() if out is df else out
        out.index = pd.Index([neutralise(v) for v in df.index], name=neutralise(df.index.name)
                             if isinstance(df.index.name, str) else df.index.name)
    return out


def neutralise_csv(path: str | Path) -> bool:
    """Rewrite the CSV file ``path`` with every formula-like text field neutralised (quoting
    as pandas writes it); return whether anything changed (the file is untouched otherwise)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not any(is_formula(f) for row in rows for f in row):
        return False
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for row in rows:
        w.writerow([neutralise(f) for f in row])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return True

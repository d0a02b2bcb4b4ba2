"""Byte-identical output files for the same inputs and seed.

The date and the wall times of a run are recorded in ``manifest.json`` only. Elsewhere:

* figures: matplotlib's SVG ids come from a fixed ``svg.hashsalt`` and no ``Date`` is written
  (:mod:`cityindex.report.figures`); PNGs carry no software version;
* XLSX: :func:`fix_xlsx` sets every zip entry's timestamp to 1980-01-01 00:00 and the
  workbook's created/modified properties to :data:`FIXED_TIME`, and turns any formula cell
  into neutralised text (openpyxl stores a text cell starting with ``=`` as a formula);
* index.html and results.json hold no date or timing (:mod:`cityindex.report.html`).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

#: the creation/modification time written into XLSX properties
FIXED_TIME = "2000-01-01T00:00:00Z"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CORE_TIME = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")
_FORMULA = re.compile(rb"<(?:\w+:)?f[ >/]")


def fix_xlsx(path: str | Path) -> None:
    """Rewrite the workbook ``path`` with fixed timestamps (and no formula cell)."""
    path = Path(path)
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    if any(info.filename.startswith("xl/worksheets/") and _FORMULA.search(data)
           for info, data in entries):
        _neutralise_formulas(path)
        with zipfile.ZipFile(path) as z:
            entries = [(info, z.read(info.filename)) for info in z.infolist()]
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as out:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = _CORE_TIME.sub(lambda m: m.group(1) + FIXED_TIME.encode() + m.group(3),
                                      data)
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            out.writestr(zi, data)
    tmp.replace(path)


def _neutralise_formulas(path: Path) -> None:
    """Every formula cell becomes the text of its formula, neutralised (``'=…``)."""
    import openpyxl

    from .safety import neutralise

    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    text = neutralise(str(c.value))
                    c.value = text
                    c.data_type = "s"
    wb.save(path)

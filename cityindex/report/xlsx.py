"""Tables as one XLSX workbook, written directly with XlsxWriter (several times faster than
going through pandas' cell-by-cell Excel writer for the audit's ~120,000 cells).

Every value is written with its type: numbers as numbers, booleans as booleans, text as text
(never as a formula: ``strings_to_formulas`` is off, and text that a spreadsheet would read as a
formula has been neutralised by the caller); missing values are empty cells. The run folder's
``finalise`` step then fixes the file's timestamps (:mod:`cityindex.reproducible`).
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "nan_inf_to_errors": False, "constant_memory": True}


def write_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """Write ``sheets`` (sheet name → DataFrame, written without its index) to ``path``."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), _OPTIONS)
    wb.set_properties({"created": datetime(2000, 1, 1)})
    try:
        for name, df in sheets.items():
            ws = wb.add_worksheet(name)
            ws.write_row(0, 0, [str(c) for c in df.columns])
            cols = [df[c].to_numpy(dtype=object) for c in df.columns]
            for i, row in enumerate(zip(*cols), start=1):
                for j, v in enumerate(row):
                    _write(ws, i, j, v)
    finally:
        wb.close()


def _write(ws, i: int, j: int, v) -> None:
    if v is None or v is pd.NA or v is pd.NaT:
        return
    if isinstance(v, (bool, np.bool_)):
        ws.write_boolean(i, j, bool(v))
    elif isinstance(v, (int, float, np.integer, np.floating)):
        x = float(v)
        if math.isfinite(x):
            ws.write_number(i, j, x)
        elif not math.isnan(x):
            ws.write_string(i, j, "inf" if x > 0 else "-inf")
    else:
        ws.write_string(i, j, str(v))

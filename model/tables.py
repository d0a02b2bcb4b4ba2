"""Reading tables exactly as they are in the file: CSV (and TSV), XLSX, Parquet.

Nothing is guessed or filled in. A reader refuses, naming the physical line (CSV) or the cell
(XLSX):

* a row with more or fewer fields than the header (a *ragged* row: pandas would pad it with
  missing values, which imputation would then fill);
* a header name given twice (also twice up to surrounding spaces), an empty header name over a
  column that holds values;
* an XLSX formula cell without a cached value (it would read as missing), merged cells (one
  value shown over several cells), a sheet that does not exist;
* a CSV whose header is a single column holding ``;``, tab or ``|`` (the delimiter is named);
* bytes that are not UTF-8.

Blank lines are skipped, and every row keeps the line (CSV: the physical line where its record
starts, so row numbers stay right after blank lines and multi-line quoted fields) or the sheet
row (XLSX) it came from: ``table.attrs["rows"]``. Cells are kept as in the file (CSV: text;
XLSX: the cell's value) so that an error can quote them. ``table.attrs`` also holds ``kind``
("csv", "xlsx", "parquet"), ``sheet`` and ``letters`` (XLSX column letters by column name).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "vertical bar"}


def read_table(path: Path, error: type[Exception], *, sheet: str | None = None,
               wanted: Sequence[str] = ()) -> pd.DataFrame:
    """The table in ``path`` (see the module docstring); ``sheet`` names an XLSX sheet (default:
    the first); ``wanted`` are column names that identify the right sheet in a message when the
    first sheet lacks them (e.g. the unit-code columns).

    Raises
    ------
    ``error`` with a one-line message naming the file and the line, cell or sheet.
    """
    suffix = path.suffix.lower()
    if sheet is not None and suffix not in XLSX_SUFFIXES:
        raise error(f"{path}: --sheet applies to .xlsx files only")
    if suffix in CSV_SUFFIXES:
        return read_csv(path, error, "\t" if suffix == ".tsv" else ",")
    if suffix in XLSX_SUFFIXES:
        return read_xlsx(path, error, sheet=sheet, wanted=wanted)
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(path, error)
    if suffix == ".xls":
        raise error(f"{path}: the old Excel format .xls is not read; save the sheet as .xlsx "
                    "or .csv")
    raise error(f"{path}: unknown data format '{suffix}' (use .csv, .tsv, .parquet or .xlsx)")


def row_label(table: pd.DataFrame, i: int) -> str:
    """Where row ``i`` (0-based, after the header) is in the file: "row 7" (the file's line or
    the sheet's row, 1-based)."""
    rows = table.attrs.get("rows")
    n = rows[i] if rows is not None and i < len(rows) else i + 2
    return f"row {n}"


def cell_label(table: pd.DataFrame, i: int, col: str) -> str:
    """The XLSX cell of row ``i`` in column ``col`` (" (cell C7)"), "" for other formats."""
    letters = table.attrs.get("letters")
    rows = table.attrs.get("rows")
    if not letters or col not in letters or rows is None:
        return ""
    return f" (cell {letters[col]}{rows[i]})"


# ------------------------------------------------------------------------------------ CSV
def _decode(path: Path, error) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                    "save the file as UTF-8") from None


def read_csv(path: Path, error, delimiter: str = ",") -> pd.DataFrame:
    """A CSV file as a table of text cells (see the module docstring)."""
    text = _decode(path, error)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise error(f"{path}, line {reader.line_num or start}: not valid CSV ({exc})") \
                from None
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line
        if header is None:
            header, header_line = row, start
            _check_header(path, error, header, header_line, delimiter)
            continue
        if len(row) != len(header):
            end = reader.line_num
            span = f" (a quoted field runs to line {end})" if end > start else ""
            raise error(f"{path}, line {start}{span}: {len(row)} field(s), but the header "
                        f"(line {header_line}) has {len(header)}; every row needs one field "
                        "per column (check for a missing or extra delimiter or an unclosed "
                        "quote)")
        rows.append(row)
        lines.append(start)
    if header is None:
        raise error(f"{path}: the file is empty")
    table = pd.DataFrame(rows, columns=header, dtype=object) if rows else \
        pd.DataFrame(columns=header, dtype=object)
    table.attrs.update(kind="csv", rows=lines, header_line=header_line)
    return table


def _check_header(path, error, header: list[str], line: int, delimiter: str) -> None:
    if len(header) == 1:
        for d, name in OTHER_DELIMITERS.items():
            if d != delimiter and d in header[0]:
                raise error(f"{path}, line {line}: the header is one column "
                            f"{header[0][:60]!r}: the file looks {name}-separated; cityindex "
                            "reads comma-separated CSV (tab-separated as .tsv) — save it as "
                            "comma-separated")
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        key = name.strip()
        if not key:
            raise error(f"{path}, line {line}: column {j + 1} of the header has no name")
        if key in seen:
            same = "" if header[seen[key]] == name else " (up to surrounding spaces)"
            raise error(f"{path}, line {line}: column '{key}' appears twice in the header{same} "
                        f"(columns {seen[key] + 1} and {j + 1})")
        seen[key] = j


# ------------------------------------------------------------------------------------ XLSX
def _letter(j: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(j)


def read_xlsx(path: Path, error, sheet: str | None = None, wanted: Sequence[str] = ()
              ) -> pd.DataFrame:
    """One sheet of an XLSX workbook as a table of cell values (see the module docstring)."""
    import warnings
    import zipfile

    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes on unsupported extensions
            wb = openpyxl.load_workbook(path, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise error(f"{path}: cannot be read as an .xlsx workbook "
                    f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") \
            from None
    names = wb.sheetnames
    if sheet is not None and sheet not in names:
        raise error(f"{path}: no sheet '{sheet}'; the workbook has "
                    + ", ".join(f"'{n}'" for n in names))
    ws = wb[sheet] if sheet is not None else wb.worksheets[0]
    grid, header_row, letters = _sheet_grid(path, error, ws)
    if sheet is None and wanted and len(names) > 1 and not set(wanted) & set(grid.columns):
        for other in wb.worksheets[1:]:
            head = _header_values(other)
            if set(wanted) & set(head):
                raise error(f"{path}: the first sheet '{ws.title}' has no unit-code column "
                            f"(one of {', '.join(wanted)}), but sheet '{other.title}' has one: "
                            f"choose it with --sheet '{other.title}'")
    formulas = [(r, c) for r, c, v in grid.attrs.pop("formulas")]
    if formulas:  # replace formulas by their cached values; refuse a formula without one
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cached = openpyxl.load_workbook(path, data_only=True)[ws.title]
        for i, col in formulas:
            r = grid.attrs["rows"][i]
            value = cached.cell(row=r, column=letters_index(letters[col])).value
            if value is None:
                raise error(f"{path}: sheet '{ws.title}', cell {letters[col]}{r}: formula "
                            f"{ws.cell(row=r, column=letters_index(letters[col])).value!s:.60} "
                            "has no cached value (the file was written without computing "
                            "it); open and save it in a spreadsheet program, or paste values")
            grid.iat[i, grid.columns.get_loc(col)] = value
    grid.attrs.update(kind="xlsx", sheet=ws.title, letters=letters, header_line=header_row)
    return grid


def letters_index(letter: str) -> int:
    from openpyxl.utils import column_index_from_string

    return column_index_from_string(letter)


def _header_values(ws) -> list[str]:
    for row in ws.iter_rows(values_only=True):
        if any(v is not None and str(v).strip() for v in row):
            return [str(v).strip() for v in row if v is not None]
    return []


def _sheet_grid(path, error, ws):
    """(table of cell values, header row number, column letters by name) of one sheet."""
    where = f"{path}: sheet '{ws.title}'"
    merged = list(ws.merged_cells.ranges)
    if merged:
        raise error(f"{where}: cells {merged[0].coord} are merged (a merged cell shows one "
                    "value over several cells; unmerge them and give every cell its value)"
                    + (f"; {len(merged) - 1} more merged range(s)" if len(merged) > 1 else ""))
    header = None
    header_row = 0
    rows, lines, formulas = [], [], []
    for cells in ws.iter_rows():
        values = [c.value for c in cells]
        if not any(v is not None and not (isinstance(v, str) and not v.strip())
                   for v in values):
            continue
        r = cells[0].row
        if header is None:
            header, header_row = values, r
            continue
        rows.append(values)
        lines.append(r)
        for j, c in enumerate(cells):
            if c.data_type == "f":
                formulas.append((len(rows) - 1, j, c.value))
    if header is None:
        raise error(f"{where}: the sheet is empty")
    width = max([len(header)] + [len(r) for r in rows])
    header = list(header) + [None] * (width - len(header))
    names, letters, seen = [], {}, {}
    used = [j for j in range(width) if header[j] is not None and str(header[j]).strip()
            or any(j < len(r) and r[j] is not None and str(r[j]).strip() for r in rows)]
    for j in used:
        h = header[j]
        letter = _letter(j + 1)
        if h is None or not str(h).strip():
            k = next(i for i, r in enumerate(rows) if j < len(r) and r[j] is not None
                     and str(r[j]).strip())
            raise error(f"{where}, cell {letter}{lines[k]}: holds a value but column {letter} "
                        f"has no header (row {header_row})")
        name = str(h).strip()
        if name in seen:
            raise error(f"{where}: column '{name}' appears twice in the header (cells "
                        f"{seen[name]}{header_row} and {letter}{header_row})")
        seen[name] = letter
        names.append(name)
        letters[name] = letter
    data = [[r[j] if j < len(r) else None for j in used] for r in rows]
    grid = pd.DataFrame(data, columns=names, dtype=object) if data else \
        pd.DataFrame(columns=names, dtype=object)
    col_of = {j: names[k] for k, j in enumerate(used)}
    grid.attrs["rows"] = lines
    grid.attrs["formulas"] = [(i, col_of[j], v) for i, j, v in formulas if j in col_of]
    return grid, header_row, letters


# ------------------------------------------------------------------------------------ Parquet
def read_parquet(path: Path, error) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds
        raise error(f"{path}: cannot be read as Parquet "
                    f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") \
            from None
    cols = [str(c) for c in table.columns]
    dup = [c for c in dict.fromkeys(cols) if cols.count(c) > 1]
    if dup:
        raise error(f"{path}: column '{dup[0]}' appears twice")
    table.columns = cols
    table = table.reset_index(drop=True)
    table.attrs.update(kind="parquet", rows=list(range(1, len(table) + 1)), header_line=0)
    return table


def describe_rows(table: pd.DataFrame) -> Callable[[int], str]:
    """``i`` → "row 7" for messages (see :func:`row_label`)."""
    return lambda i: row_label(table, i)

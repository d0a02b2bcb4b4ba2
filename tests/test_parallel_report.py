"""The report's per-index sections drawn in forked processes (cityindex/report/parallel.py) give
the same document as drawing them one after the other, and fall back to the serial drawing
when a child's table or figure names would differ from the serial ones."""

from __future__ import annotations

import filecmp

import matplotlib.pyplot as plt
import pandas as pd

from cityindex.report.html import _Doc
from cityindex.report.parallel import _join, render_sections


def _draw(doc, code):
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, len(code)])
    doc.figure(fig, f"{code}_line", f"{code}: a line")
    doc.table(f"{code}_table", pd.DataFrame({"unit": ["a", "b"], "rank": [1, 2]}))
    doc.add(f"<p>{code} <a href='{doc.table_file(code + '_table')}'>csv</a></p>")


def test_forked_sections_equal_serial(tmp_path):
    serial, forked = _Doc(tmp_path / "s"), _Doc(tmp_path / "f")
    for a in ("GDCI", "BRPCI", "X/Y"):
        _draw(serial, a)
    render_sections(forked, ["GDCI", "BRPCI", "X/Y"], _draw)
    assert forked.parts == serial.parts
    assert forked.figures == serial.figures
    assert list(forked.tables) == list(serial.tables)
    for name in serial.figures:
        for ext in (".png", ".svg"):
            assert filecmp.cmp(tmp_path / "s" / "figures" / f"{name}{ext}",
                               tmp_path / "f" / "figures" / f"{name}{ext}", shallow=False)


def test_codes_sharing_a_slug_fall_back_to_serial(tmp_path):
    """'A/B' and 'A_B' give the same slug: drawn alone, each child names its files 'a_b…';
    drawn in order the second gets 'a_b…-2'. The join refuses, the serial drawing follows."""
    serial, forked = _Doc(tmp_path / "s"), _Doc(tmp_path / "f")
    for a in ("A/B", "A_B"):
        _draw(serial, a)
    assert any(n.endswith("-2") for n in serial.figures)
    render_sections(forked, ["A/B", "A_B"], _draw)
    assert forked.parts == serial.parts and forked.figures == serial.figures
    probe = _Doc(tmp_path / "p")
    part = {"table_names": {"A/B_table": "a_b_table"}, "figure_names": {}, "tables": {},
            "figures": [], "parts": [], "folder": str(tmp_path)}
    _join(probe, [part])
    assert not _join(probe, [dict(part, table_names={"A_B_table": "a_b_table"})])

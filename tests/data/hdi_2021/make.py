"""Derive hdi_2021.csv from UNDP's HDR 2021/2022 composite-indices time series.

Usage: python make.py SOURCE.csv [--check OTHER.csv] [--out hdi_2021.csv]

SOURCE.csv is a copy of HDR21-22_Composite_indices_complete_time_series.csv (UTF-8 or Latin-1
text, one row per country plus group aggregates whose iso3 codes start with "ZZ"; see
SOURCE.md for the copies used). This script keeps the 195 country rows in the file's order
and, for each, the four 2021 HDI indicators, the published 2021 HDI (3 decimals) and the
published 2021 HDI rank, copying every cell's text unchanged (no number is re-rendered), and
writes UTF-8. With --check, every one of those numeric cells must be identical in a second,
independent copy of the file (matched by iso3 code), else nothing is written. Standard library
only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

#: output column <- source column
COLUMNS = {"code": "iso3", "name_en": "country", "LE": "le_2021", "EYS": "eys_2021",
           "MYS": "mys_2021", "GNIPC": "gnipc_2021", "published_hdi": "hdi_2021",
           "published_rank": "hdi_rank_2021"}


def read(src: Path) -> tuple[bytes, list[dict]]:
    raw = src.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    rows = list(csv.DictReader(text.splitlines()))
    missing = [c for c in COLUMNS.values() if c not in rows[0]]
    if missing:
        sys.exit(f"{src}: columns missing: {missing}")
    countries = [r for r in rows if not r["iso3"].startswith("ZZ")]
    if len(countries) != 195:
        sys.exit(f"{src}: expected 195 country rows, found {len(countries)}")
    return raw, countries


def main(src: Path, out: Path, check: Path | None = None) -> None:
    raw, countries = read(src)
    if check is not None:
        _, other = read(check)
        other = {r["iso3"]: r for r in other}
        numeric = [c for c in COLUMNS.values() if c not in ("iso3", "country")]
        diff = [(r["iso3"], c) for r in countries for c in numeric
                if r[c] != other.get(r["iso3"], {}).get(c)]
        if diff:
            sys.exit(f"{src} and {check} differ in {len(diff)} cells, e.g. {diff[:5]}")
        print(f"checked against {check}: {len(countries) * len(numeric)} numeric cells identical")
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in countries:
            w.writerow([r[c] for c in COLUMNS.values()])
    ranked = sum(1 for r in countries if r["hdi_rank_2021"])
    print(f"source sha256 {hashlib.sha256(raw).hexdigest()} ({len(raw)} bytes); "
          f"wrote {out}: {len(countries)} countries, {ranked} ranked")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("--check", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("hdi_2021.csv"))
    a = ap.parse_args()
    main(a.source, a.out, a.check)

"""Derive pisa2018.csv from the ``pisa2018`` data set of the R package csranks.

Usage: python make.py pisa2018.rda [out.csv]

Reads the package's data/pisa2018.rda (an R data file; read with the Python package ``rdata``,
so R is not needed) and writes its one data frame unchanged: 38 rows (OECD countries), columns
jurisdiction, science_score, science_se, reading_score, reading_se, math_score, math_se, in the
package's row order. Numbers are written with Python's shortest round-trip representation, so
reading the CSV gives back exactly the doubles stored in the .rda; R's NA (Spain's reading
score) becomes an empty cell. See SOURCE.md for the origin.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import rdata

COLUMNS = ["jurisdiction", "science_score", "science_se", "reading_score", "reading_se",
           "math_score", "math_se"]


def main(src: Path, out: Path) -> None:
    raw = src.read_bytes()
    frame = rdata.read_rda(src)["pisa2018"]
    if list(frame.columns) != COLUMNS or len(frame) != 38:
        sys.exit(f"{src}: unexpected layout {list(frame.columns)}, {len(frame)} rows")
    frame.to_csv(out, index=False, encoding="utf-8", lineterminator="\n")
    print(f"source sha256 {hashlib.sha256(raw).hexdigest()} ({len(raw)} bytes); "
          f"wrote {out}: {len(frame)} rows")


if __name__ == "__main__":
    main(Path(sys.argv[1]),
         Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("pisa2018.csv"))

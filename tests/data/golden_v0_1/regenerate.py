"""Rewrite the golden outputs with the current product (run only for a deliberate change of
method or data, and say why in the commit): ``.venv/bin/python tests/data/golden_v0_1/regenerate.py``."""

import gzip
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
TABLES = ("scores", "aggregated", "normalised", "treated", "imputed", "screened", "treatment",
          "log", "screening")


def main() -> None:
    exe = Path(sys.executable).parent / "cityindex"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for fw in ("gdci", "brpci"):
            runs = {"compute": [], "uncertainty": ["--n", "300"],
                    "sensitivity": ["--n", "64", "--boot", "50"]}
            for cmd, extra in runs.items():
                subprocess.run([str(exe), cmd, "-f", fw, "--seed", "0", *extra, "-o",
                                str(tmp / fw / cmd)], check=True, capture_output=True)
            out = HERE / fw
            out.mkdir(exist_ok=True)
            files = {f"compute_{t}.csv.gz": tmp / fw / "compute" / f"{t}.csv" for t in TABLES}
            files["uncertainty_rank_stats.csv.gz"] = tmp / fw / "uncertainty" / "rank_stats.csv"
            files["sensitivity.csv.gz"] = tmp / fw / "sensitivity" / "sensitivity.csv"
            for name, src in files.items():
                with open(src, "rb") as fi, gzip.GzipFile(out / name, "wb", 9, mtime=0) as fo:
                    shutil.copyfileobj(fi, fo)
            shutil.copy(tmp / fw / "uncertainty" / "summary.json", out / "uncertainty_summary.json")


if __name__ == "__main__":
    main()

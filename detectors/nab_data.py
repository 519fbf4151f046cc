"""Reading the NAB subset: each file's timestamps, values and anomaly windows as row ranges."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson

from detectors.csv_stream import parse_ts


@dataclass(frozen=True)
class NabFile:
    name: str
    timestamps: npt.NDArray[np.float64]  # epoch seconds
    values: npt.NDArray[np.float64]
    windows: list[tuple[int, int]]  # inclusive row ranges


def load(root: Path) -> list[NabFile]:
    """Every file listed in files.txt (or found under data/), with its windows."""
    labels = orjson.loads((root / "labels.json").read_bytes())
    listed = root / "files.txt"
    names = (
        [ln.strip() for ln in listed.read_text().splitlines() if ln.strip()]
        if listed.exists()
        else sorted(str(p.relative_to(root / "data")) for p in (root / "data").rglob("*.csv"))
    )
    out = []
    for name in names:
        with (root / "data" / name).open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        ts = np.array([parse_ts(r["timestamp"]) for r in rows])
        values = np.array([float(r["value"]) for r in rows])
        windows = []
        for start, end in labels.get(name, []):
            lo, hi = (
                np.searchsorted(ts, parse_ts(start)),
                np.searchsorted(ts, parse_ts(end), "right"),
            )
            if hi > lo:
                windows.append((int(lo), int(hi) - 1))
        out.append(NabFile(name, ts, values, windows))
    return out

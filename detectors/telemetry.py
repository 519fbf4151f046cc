"""The default telemetry detector: the same code and settings for live devices and CSV files.

It runs every model on a batch of readings (score, then learn), takes the highest score, and
decides: a reading is anomalous at `threshold` or above. The models put NAB's best threshold
near 0.5; live, a device signal costs a responder's attention, so the decision sits higher,
at 0.75 (a third of the flags of 0.5 on quiet data). Readings of one series within a
batch are taken in order, in rounds, so a batch means exactly what the same readings one by
one would mean. State lives in numpy arrays indexed by series and is saved to one `.npz`.

>>> import numpy as np
>>> det = TelemetryDetector()
>>> det.grow(2)
>>> rng = np.random.default_rng(3)
>>> for _ in range(300):
...     _ = det.process(np.array([0, 1]), rng.normal([10.0, 50.0], 0.5))
>>> r = det.process(np.array([0, 1]), np.array([10.2, 90.0]))
>>> r.is_anomaly.tolist(), [KINDS[k] for k in r.kind]
([False, True], ['none', 'rare value'])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from detectors.protocol import Floats, Index, Model
from detectors.rarity import Rarity
from detectors.stuck import Stuck

KINDS = ("none", "rare value", "stuck value")


@dataclass(frozen=True)
class Scored:
    score: Floats  # [0, 1]
    kind: npt.NDArray[np.int8]  # index into KINDS: which model found the anomaly, 0 if none
    is_anomaly: npt.NDArray[np.bool_]


class TelemetryDetector:
    def __init__(self, threshold: float = 0.75) -> None:
        self.threshold = threshold
        self.models: dict[str, Model] = {"rarity": Rarity(), "stuck": Stuck()}
        self.series = 0

    def grow(self, series: int) -> None:
        for m in self.models.values():
            m.grow(series)
        self.series = max(self.series, series)

    def process(self, idx: Index, x: Floats) -> Scored:
        """Score then learn each reading; `idx` may repeat (taken in order)."""
        idx = np.asarray(idx, dtype=np.int64)
        x = np.asarray(x, dtype=np.float64)
        if len(idx) and int(idx.max()) >= self.series:
            self.grow(int(idx.max()) + 1)
        score = np.zeros(len(idx))
        kind = np.zeros(len(idx), dtype=np.int8)
        for sel in _rounds(idx):
            i, v = idx[sel], x[sel]
            per_model = [m.score(i, v) for m in self.models.values()]
            for m in self.models.values():
                m.learn(i, v)
            stacked = np.vstack(per_model)
            best = stacked.argmax(axis=0)
            score[sel] = stacked[best, np.arange(len(sel))]
            kind[sel] = np.where(score[sel] >= self.threshold, best + 1, 0)
        return Scored(score, kind, score >= self.threshold)

    def nbytes_per_series(self) -> int:
        return sum(m.nbytes_per_series() for m in self.models.values())

    def save(self, path: Path) -> None:
        """Atomically: a crash while saving leaves the previous state in place."""
        arrays = {f"{name}.{k}": v for name, m in self.models.items() for k, v in m.state().items()}
        tmp = path.with_suffix(".tmp.npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, series=np.array(self.series), **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        with np.load(path) as data:
            for name, m in self.models.items():
                prefix = f"{name}."
                m.restore({k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)})
            self.series = int(data["series"])


def _rounds(idx: Index) -> list[Index]:
    """Positions of `idx` split so that no series repeats within a round, order kept.

    >>> [r.tolist() for r in _rounds(np.array([4, 7, 4, 4, 9]))]
    [[0, 1, 4], [2], [3]]
    """
    if len(idx) == 0:
        return []
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = np.r_[True, sorted_idx[1:] != sorted_idx[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(idx)), 0))
    occurrence = np.empty(len(idx), dtype=np.int64)
    occurrence[order] = np.arange(len(idx)) - group_start
    if occurrence.max() == 0:
        return [np.arange(len(idx))]
    return [np.flatnonzero(occurrence == k) for k in range(int(occurrence.max()) + 1)]

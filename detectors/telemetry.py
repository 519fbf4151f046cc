"""The default telemetry detector: the same code and settings for live devices and CSV files.

It runs every model on a batch of readings (score, then learn), takes the highest score, and
decides: a reading is anomalous at `threshold` or above. The models put NAB's best threshold
near 0.5; live, a device signal costs a responder's attention, so the decision sits higher,
at 0.9 (12.2 nats): on a simulated quiet hour after a day of learning, 0.75 still let the
noise floor of smoke sensors and heavy elevator loads through; 0.9 lets none through, and
every injected incident still scores above it. Readings of one series within a
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

from detectors.protocol import Floats, Index, Model, extend
from detectors.rarity import Rarity
from detectors.stuck import Stuck

KINDS = ("none", "rare value", "stuck value")


@dataclass(frozen=True)
class Scored:
    score: Floats  # [0, 1]
    kind: npt.NDArray[np.int8]  # index into KINDS: which model found the anomaly, 0 if none
    is_anomaly: npt.NDArray[np.bool_]


class TelemetryDetector:
    """`learn_s`: a series decides nothing until it has been watched this long (when readings
    come with times), so that a device's first day teaches it its daily rhythm."""

    def __init__(self, threshold: float = 0.9, learn_s: float = 86_400.0) -> None:
        self.threshold = threshold
        self.learn_s = learn_s
        self.models: dict[str, Model] = {"rarity": Rarity(), "stuck": Stuck()}
        self.first_seen = np.zeros(0, dtype=np.float64)  # epoch s; NaN: not yet
        self.series = 0

    def grow(self, series: int) -> None:
        for m in self.models.values():
            m.grow(series)
        self.first_seen = extend(self.first_seen, series, fill=np.nan)
        self.series = max(self.series, series)

    def process(self, idx: Index, x: Floats, t: Floats | None = None) -> Scored:
        """Score then learn each reading; `idx` may repeat (taken in order); `t`: epoch s."""
        idx = np.asarray(idx, dtype=np.int64)
        x = np.asarray(x, dtype=np.float64)
        if len(idx) and int(idx.max()) >= self.series:
            self.grow(int(idx.max()) + 1)
        learning = np.zeros(len(idx), dtype=bool)
        if t is not None:
            t = np.asarray(t, dtype=np.float64)
            new = np.isnan(self.first_seen[idx])
            np.fmin.at(self.first_seen, idx[new], t[new])
            learning = t - self.first_seen[idx] < self.learn_s
        score = np.zeros(len(idx))
        kind = np.zeros(len(idx), dtype=np.int8)
        for sel in _rounds(idx):
            i, v = idx[sel], x[sel]
            per_model = [m.score(i, v) for m in self.models.values()]
            for m in self.models.values():
                m.learn(i, v)
            stacked = np.vstack(per_model)
            stacked[:, learning[sel]] = 0.0
            best = stacked.argmax(axis=0)
            score[sel] = stacked[best, np.arange(len(sel))]
            kind[sel] = np.where(score[sel] >= self.threshold, best + 1, 0)
        return Scored(score, kind, score >= self.threshold)

    def nbytes_per_series(self) -> int:
        return 8 + sum(m.nbytes_per_series() for m in self.models.values())

    def save(self, path: Path) -> None:
        """Atomically: a crash while saving leaves the previous state in place."""
        arrays = {f"{name}.{k}": v for name, m in self.models.items() for k, v in m.state().items()}
        tmp = path.with_suffix(".tmp.npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, series=np.array(self.series), first_seen=self.first_seen,
                 **arrays)  # type: ignore[arg-type]  # fmt: skip
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        with np.load(path) as data:
            for name, m in self.models.items():
                prefix = f"{name}."
                m.restore({k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)})
            self.series = int(data["series"])
            self.first_seen = np.array(data["first_seen"], dtype=np.float64)


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

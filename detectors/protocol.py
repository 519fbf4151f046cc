"""One contract for every telemetry model: score a reading first, then learn from it.

Scoring before learning means a reading is never judged by a model that has already seen it.
Models keep the state of many series in numpy arrays, addressed by series index, so that
millions of devices cost one array operation per batch rather than one Python object each.
Thresholds and decisions are not the model's business: `detectors.telemetry` makes them.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Index = npt.NDArray[np.int64]


class Model(Protocol):
    """Many series at once; `idx` holds distinct series indices within one call."""

    def grow(self, series: int) -> None:
        """Make room for at least `series` series (new ones start unlearned)."""

    def score(self, idx: Index, x: Floats) -> Floats:
        """Anomaly scores in [0, 1] for the readings `x` of series `idx`; no state changes."""

    def learn(self, idx: Index, x: Floats) -> None:
        """Fold the readings into the series' state."""

    def state(self) -> dict[str, npt.NDArray[np.generic]]:
        """Arrays that, given back to `restore`, recreate the model exactly."""

    def restore(self, arrays: dict[str, npt.NDArray[np.generic]]) -> None: ...

    def nbytes_per_series(self) -> int: ...


def extend(array: npt.NDArray[Any], series: int, fill: float = 0) -> npt.NDArray[Any]:
    """`array` with room for `series` rows (new ones `fill`), grown by half at least, so that
    devices registered one by one do not copy the state each time."""
    have = len(array)
    if series <= have:
        return array
    extra = max(series - have, have // 2)
    return np.concatenate([array, np.full((extra, *array.shape[1:]), fill, array.dtype)])


class Detector(Protocol):
    """One series, one reading at a time: what the contract test and doctests speak."""

    def score_one(self, x: float) -> float: ...

    def learn_one(self, x: float) -> None: ...


class Single:
    """A `Model` seen as a one-series `Detector`."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.model.grow(1)
        self._idx = np.zeros(1, dtype=np.int64)

    def score_one(self, x: float) -> float:
        return float(self.model.score(self._idx, np.array([x]))[0])

    def learn_one(self, x: float) -> None:
        self.model.learn(self._idx, np.array([x]))

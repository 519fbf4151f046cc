"""Ingest counters, read by the metrics endpoint and the benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class IngestCounters:
    received: int = 0
    records: int = 0
    readings_stored: int = 0
    reading_duplicates: int = 0
    events_stored: int = 0
    event_duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    batch_seconds_sum: float = 0.0
    batch_seconds_max: float = 0.0
    write_retries: int = 0
    queue_full_waits: int = 0
    reconnects: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self, queue_depth: int = 0) -> dict[str, Any]:
        with self._lock:
            return {
                "received": self.received,
                "records": self.records,
                "readings_stored": self.readings_stored,
                "reading_duplicates": self.reading_duplicates,
                "events_stored": self.events_stored,
                "event_duplicates": self.event_duplicates,
                "rejected": dict(self.rejected),
                "batches": self.batches,
                "batch_seconds_avg": self.batch_seconds_sum / self.batches if self.batches else 0,
                "batch_seconds_max": self.batch_seconds_max,
                "write_retries": self.write_retries,
                "queue_full_waits": self.queue_full_waits,
                "reconnects": self.reconnects,
                "queue_depth": queue_depth,
            }


def combine(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """One snapshot for several workers: counts add up, the slowest batch stays the max.

    >>> combine([{"batches": 1, "batch_seconds_avg": 0.1, "batch_seconds_max": 0.1,
    ...           "rejected": {"unknown device": 1}},
    ...          {"batches": 3, "batch_seconds_avg": 0.3, "batch_seconds_max": 0.5,
    ...           "rejected": {"unknown device": 2}}])  # doctest: +NORMALIZE_WHITESPACE
    {'batches': 4, 'batch_seconds_avg': 0.25, 'batch_seconds_max': 0.5,
     'rejected': {'unknown device': 3}}
    """
    out: dict[str, Any] = {}
    rejected: Counter[str] = Counter()
    weighted = 0.0
    for snap in snapshots:
        for key, value in snap.items():
            if key == "rejected":
                rejected.update(value)
            elif key == "batch_seconds_max":
                out[key] = max(float(out.get(key, 0.0)), float(value))
            elif key == "batch_seconds_avg":
                weighted += float(value) * int(snap.get("batches", 0))
            else:
                out[key] = int(out.get(key, 0)) + int(value)
    batches = int(out.get("batches", 0))
    out["batch_seconds_avg"] = round(weighted / batches, 6) if batches else 0.0
    out["rejected"] = dict(rejected)
    return {k: out[k] for k in (snapshots[0] if snapshots else out)}

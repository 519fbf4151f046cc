"""Ingest counters, read by the metrics endpoint and the benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


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

    def snapshot(self, queue_depth: int = 0) -> dict[str, object]:
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

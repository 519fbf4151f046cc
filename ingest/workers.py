"""Several ingest processes sharing one MQTT subscription — one per core.

One Python process is held to one core by its interpreter lock; an MQTT shared subscription
lets the broker split the stream between processes instead. Each worker has its own
persistent session (client id `{client_id}-{i}`), so messages the broker gave a killed
worker wait for that worker's return. Keep the number of workers stable across restarts:
the broker keeps queueing for a worker that is not started again. Mosquitto 2.0 does not
restore shared subscriptions after its own restart; until the workers reconnect (about a
second), what devices publish finds no subscriber. A single worker has no such window.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

from gridwatch.settings import Settings
from ingest.counters import combine
from ingest.service import IngestService


def _work(settings: Settings, namespace: str, client_id: str, out: mp.Queue[Any],
          stop: MpEvent, report_s: float) -> None:  # fmt: skip
    try:
        service = IngestService(settings, namespace=namespace, client_id=client_id, shared=True)
        service.start()
    except Exception as exc:  # the parent reports it; a worker has no terminal of its own
        out.put((client_id, {"error": f"{type(exc).__name__}: {exc}"}))
        return
    out.put((client_id, {"devices": len(service.registry), **service.stats()}))
    while not stop.wait(report_s):
        out.put((client_id, service.stats()))
    service.stop()
    out.put((client_id, service.stats()))


class IngestWorkers:
    """`workers` processes, each an `IngestService`; `stats()` sums their counters."""

    def __init__(self, settings: Settings, workers: int, namespace: str = "",
                 client_id: str | None = None, report_s: float = 0.2) -> None:  # fmt: skip
        ctx = mp.get_context("spawn")  # no fork of a process that holds threads and sockets
        base = client_id or settings.ingest_client_id
        self.client_ids = [f"{base}-{i}" for i in range(workers)]
        self._updates: mp.Queue[Any] = ctx.Queue()
        self._stop = ctx.Event()
        self._latest: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._procs = [
            ctx.Process(target=_work, name=f"ingest-{cid}", daemon=True,
                        args=(settings, namespace, cid, self._updates, self._stop, report_s))
            for cid in self.client_ids
        ]  # fmt: skip
        self.devices = 0

    def start(self, timeout_s: float = 60.0) -> None:
        """Start every worker; raises with the first worker's error if one cannot start."""
        for p in self._procs:
            p.start()
        ready: set[str] = set()
        while len(ready) < len(self._procs):
            try:
                cid, snap = self._updates.get(timeout=timeout_s)
            except queue.Empty:
                self.stop()
                raise TimeoutError(f"ingest workers not ready after {timeout_s:.0f}s") from None
            if "error" in snap:
                self.stop()
                raise RuntimeError(f"ingest worker {cid}: {snap['error']}")
            self.devices = int(snap.pop("devices", self.devices))
            self._latest[cid] = snap
            ready.add(cid)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        for p in self._procs:
            if p.is_alive() or p.exitcode is None:
                p.join(timeout=timeout_s)
            if p.is_alive():
                p.kill()
        self._drain()

    def alive(self) -> int:
        return sum(p.is_alive() for p in self._procs)

    def _drain(self) -> None:
        with self._lock:
            while True:
                try:
                    cid, snap = self._updates.get_nowait()
                except queue.Empty:
                    break
                except (EOFError, OSError):
                    break
                self._latest[cid] = snap

    def stats(self) -> dict[str, Any]:
        self._drain()
        return {"workers": len(self._procs), **combine(list(self._latest.values()))}

"""The ingest service: MQTT source → bounded queue → decode → store → acknowledge.

A decoder thread turns queued messages into batches of rows while one writer thread, which
owns the database connection, writes the previous batch: the two overlap because the writer
mostly waits on the server. A batch is acknowledged to the broker only after its transaction
commits, in arrival order, so a crash at any point means redelivery, never loss; and
storage de-duplicates, so redelivery never means a reading stored twice.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from gridwatch.db import Conn, connect
from gridwatch.errors import ConfigError
from gridwatch.settings import Settings
from ingest.counters import IngestCounters
from ingest.decode import Decoder
from ingest.messages import Decoded, Received
from ingest.mqtt_source import MqttSource
from ingest.registry import Registry
from ingest.store import Written, prepare, write

_MAX_BATCH_BYTES = 4 << 20


class IngestService:
    def __init__(self, settings: Settings, namespace: str = "", client_id: str | None = None,
                 shared: bool = False,
                 on_stored: Callable[[Decoded], None] | None = None) -> None:  # fmt: skip
        """`shared`: subscribe in the settings' shared group, as one of several workers.

        A lone consumer subscribes plainly: Mosquitto (2.0) restores plain subscriptions of
        persistent sessions after its own restart, but not shared ones, so only a plain
        subscription keeps what devices publish between a broker restart and our reconnect.
        `on_stored` gets each batch once it is committed (the detectors' input).
        """
        self.on_stored = on_stored
        self.settings = settings
        self.counters = IngestCounters()
        self.queue: queue.Queue[Received] = queue.Queue(settings.ingest_queue_messages)
        self.source = MqttSource(
            settings.mqtt,
            client_id or settings.ingest_client_id,
            self.queue,
            self.counters,
            group=settings.ingest_shared_group if shared else None,
            namespace=namespace,
        )
        self._stop = threading.Event()
        # Two decoded batches in hand at most: the writer's back-pressure reaches the broker.
        self._decoded: queue.Queue[tuple[list[Received], Decoded, float]] = queue.Queue(2)
        self._decoder = threading.Thread(target=self._decode_loop, name="ingest-decoder",
                                         daemon=True)  # fmt: skip
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._conn: Conn | None = None
        self._registry_conn = connect(settings)
        self.registry = Registry(self._registry_conn)
        self.decoder = Decoder(self.registry, settings.max_clock_skew_s, settings.max_age_days)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._conn = self._connect()
        self._decoder.start()
        self._writer.start()
        self.source.start()

    def stop(self, drain_s: float = 10.0) -> None:
        """Stop taking messages, write what was taken, then close."""
        self.source.stop()
        deadline = time.monotonic() + drain_s
        while not self.queue.empty() and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        self._decoder.join(timeout=drain_s + 5)
        self._writer.join(timeout=drain_s + 5)
        if self._conn is not None:
            self._conn.close()
        self._registry_conn.close()

    @property
    def devices(self) -> int:
        return len(self.registry)

    def stats(self) -> dict[str, Any]:
        return self.counters.snapshot(self.queue.qsize())

    # -- the writer ----------------------------------------------------------------------
    def _connect(self) -> Conn:
        conn = connect(self.settings)
        prepare(conn)
        return conn

    def _take(self) -> list[Received]:
        limit = self.settings.ingest_batch_rows
        deadline = time.monotonic() + self.settings.ingest_batch_ms / 1000
        batch: list[Received] = []
        size = 0
        while len(batch) < limit and size < _MAX_BATCH_BYTES:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
            try:
                msg = self.queue.get(timeout=timeout)
            except queue.Empty:
                break
            batch.append(msg)
            size += len(msg.payload)
        return batch

    def _decode_loop(self) -> None:
        while not (self._stop.is_set() and self.queue.empty()):
            batch = self._take()
            if batch:
                self._decoded.put((batch, self.decoder.decode(batch), time.monotonic()))

    def _write_loop(self) -> None:
        while self._decoder.is_alive() or not self._decoded.empty():
            try:
                batch, decoded, started = self._decoded.get(timeout=0.1)
            except queue.Empty:
                continue
            written = self._write_until_done(decoded)
            if written is None:
                return  # stopping with the database down: unacknowledged means redelivered
            self.source.ack(batch)
            if self.on_stored is not None:
                self.on_stored(decoded)
            self._count(written, time.monotonic() - started, decoded)

    def _write_until_done(self, decoded: Decoded) -> Written | None:
        """Retry while the database is away (back-pressure builds up behind us meanwhile)."""
        delay = 0.2
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                return write(self._conn, decoded)
            except (psycopg.OperationalError, ConfigError):
                self.counters.write_retries += 1
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                if self._stop.is_set():
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _count(self, w: Written, seconds: float, decoded: Decoded) -> None:
        c = self.counters
        with c._lock:
            c.records += decoded.records
            c.readings_stored += w.readings
            c.reading_duplicates += w.reading_duplicates
            c.events_stored += w.events
            c.event_duplicates += w.event_duplicates
            for r in decoded.rejections:
                c.rejected[r.kind] += 1
            c.batches += 1
            c.batch_seconds_sum += seconds
            c.batch_seconds_max = max(c.batch_seconds_max, seconds)

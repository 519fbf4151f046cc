"""The live correlator: reads new device signals, keeps incidents, escalates, auto-resolves.

Hints — incidents still informational — live in memory only until they are raised (then
they are written with their whole history) or end. It follows `device_signal` by id from its
cursor, so it restarts where it stopped and may run
in its own process; incidents and the cursor are saved in one transaction, so a crash never
applies a signal twice. Each tick also picks up what people did (an acknowledgement stops
escalation) before acting on the clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from detectors.alert_store import cursor, load_incidents, read_signals, save, set_cursor
from detectors.alert_store import statuses as read_statuses
from detectors.correlator import Correlator
from gridwatch.db import Conn, connect
from gridwatch.incidents import rank
from gridwatch.settings import Settings

log = logging.getLogger(__name__)


class AlertService:
    def __init__(self, settings: Settings, correlator: Correlator | None = None,
                 poll_s: float = 0.25, name: str = "main",
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.clock = clock
        self.poll_s = poll_s
        self.name = name
        self.correlator = correlator or Correlator()
        self.counters: Counter[str] = Counter()
        self._conn: Conn = connect(settings)
        self._cursor = cursor(self._conn, name)
        for inc in load_incidents(self._conn, clock() - self.correlator.reopen_s):
            self.correlator.incidents[inc.key] = inc
        self.listeners: list[Callable[[list[int]], None]] = []  # new history ids
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="correlator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._conn.close()

    def stats(self) -> dict[str, int]:
        live = self.correlator.live()
        return {**self.counters, "live_incidents": len(live), "cursor": self._cursor}

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                while self.step() and not self._stop.is_set():
                    pass
            except Exception:  # keep correlating; the failure is logged and counted
                log.exception("correlation failed")
                self.counters["errors"] += 1
                self._stop.wait(1.0)

    def step(self, limit: int = 5000) -> bool:
        """One round; True when more signals are waiting."""
        now = self.clock()
        self._adopt_people(now)
        signals = read_signals(self._conn, self._cursor, limit)
        c = self.correlator
        c.observe(signals, now)
        c.tick(now)
        # Hints (informational, never raised) stay in memory and in device_signal: an incident
        # row exists from the moment it is worth someone's attention.
        raised = rank("low")
        dirty = [
            i
            for i in c.incidents.values()
            if i.pending and (i.alert_id is not None or rank(i.severity) >= raised)
        ]
        ids: list[int] = []
        with self._conn.transaction():
            for inc in dirty:
                opened = inc.alert_id is None
                kinds = [p["kind"] for p in inc.pending]
                ids += save(self._conn, inc)
                self.counters["incidents_opened"] += opened
                self.counters["escalations"] += kinds.count("escalation")
                self.counters["reopened"] += kinds.count("reopened")
                self.counters["auto_resolved"] += sum(k == "status" for k in kinds)
            if signals:
                self._cursor = signals[-1].signal_id
                set_cursor(self._conn, self.name, self._cursor)
        self.counters["signals_read"] += len(signals)
        for key, inc in list(c.incidents.items()):  # hints that ended are forgotten
            if inc.alert_id is None and not inc.live:
                del c.incidents[key]
        if ids:
            for listener in self.listeners:
                listener(ids)
        return len(signals) == limit

    def _adopt_people(self, now: float) -> None:
        live = {i.alert_id: i for i in self.correlator.live() if i.alert_id is not None}
        if not live:
            return
        for alert_id, status in read_statuses(self._conn, list(live)).items():
            self.correlator.adopt_status(live[alert_id], status, now)

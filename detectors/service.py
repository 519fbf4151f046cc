"""Live detection: stored batches in, device signals out.

Ingest hands each committed batch to `feed` (a bounded queue: a slow detector slows ingest
down rather than losing input). A thread scores telemetry with the default detector, maps
events through the catalogue, and keeps the silence watch; signals are written to
`device_signal`. A series that keeps being anomalous signals again only after `repeat_s`
(or at once when it newly crosses its metric's hazard floor): the correlator hears of a
condition, not of every reading of it. The learned state is saved
every `save_every_s` and on stop, and restored on start.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from detectors.events import classify
from detectors.fleet import Fleet, load_fleet_arrays
from detectors.silence import Outage, Silence
from detectors.telemetry import KINDS, TelemetryDetector
from gridwatch.catalogue import HAZARD_FLOORS, METRICS_BY_ID
from gridwatch.db import Conn, connect
from gridwatch.settings import Settings
from ingest.messages import Decoded
from ingest.store import copy_rows

log = logging.getLogger(__name__)

SIGNAL_COLUMNS = (
    "at, scope, device_key, gateway_id, grid_code, microgrid_code, source, kind, severity,"
    " state, metric_id, value, score, code, detail"
)
_SIGNAL_TYPES = ["timestamptz", "text", "int4", "text", "text", "text", "text", "text", "text",
                 "text", "int2", "float8", "float4", "text", "jsonb"]  # fmt: skip
Signal = tuple[Any, ...]
_FLOORS = {m.metric_id: HAZARD_FLOORS[m.name] for m in METRICS_BY_ID.values()
           if m.name in HAZARD_FLOORS}  # fmt: skip


class DetectionService:
    def __init__(self, settings: Settings, repeat_s: float = 600.0, scan_s: float = 5.0,
                 save_every_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        """`clock`: when a device is heard from — arrival, not its own (possibly skewed or
        replayed) timestamps; silence is measured on it."""
        self.clock = clock
        self.settings = settings
        self.repeat_s = repeat_s
        self.scan_s = scan_s
        self.save_every_s = save_every_s
        self.state_path = settings.data_dir / "detector-state.npz"
        self.queue: queue.Queue[Decoded] = queue.Queue(16)
        self.counters: Counter[str] = Counter()
        self._conn: Conn = connect(settings)
        self.fleet: Fleet = load_fleet_arrays(self._conn)
        self.detector = TelemetryDetector()
        if self.state_path.exists():
            self.detector.load(self.state_path)
            self.counters["state_restored"] = 1
        self.detector.grow(self.fleet.series)
        self._last_signal = np.full(self.fleet.series, -np.inf, dtype=np.float64)
        self._last_value = np.full(self.fleet.series, np.nan, dtype=np.float32)
        self._t0 = time.time()
        f = self.fleet
        self.silence = Silence(f.interval_s, f.grid, f.gateway, now=clock(), tracked=f.known)
        self._heard = np.zeros(f.size, dtype=bool)  # since this process started
        self._status_written = np.full(f.size, -1, dtype=np.int8)  # 1 online, 0 offline
        self.silence_path = settings.data_dir / "silence-state.npz"
        if self.silence_path.exists():  # what was down before a restart is cleared when back
            self.silence.load(self.silence_path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="detectors", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._save()
        self._conn.close()

    def _save(self) -> None:
        self.detector.save(self.state_path)
        self.silence.save(self.silence_path)
        self.flush_status()

    def flush_status(self, most: int = 200_000) -> int:
        """Write each device's reachability as the silence watch sees it to device_status
        (for the territory view), only where it changed since the last flush; a status
        message ingest stored later than this wins."""
        s = self.silence
        n = min(len(self._heard), len(s.offline))
        state = np.full(n, -1, dtype=np.int8)
        state[self._heard[:n]] = 1
        state[s.offline[:n]] = 0
        changed = np.flatnonzero((state != self._status_written[:n]) & (state >= 0))[:most]
        if not len(changed):
            return 0
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        seen = s.last_seen[changed]
        rows = [(int(k), bool(state[k]), dt.datetime.fromtimestamp(t, dt.UTC) if np.isfinite(t)
                 else None, now) for k, t in zip(changed, seen, strict=True)]  # fmt: skip
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS stage_status (device_key int4, online"
                        " bool, last_seen timestamptz, changed_at timestamptz)"
                        " ON COMMIT DELETE ROWS")  # fmt: skip
            copy_rows(cur, "stage_status", ["int4", "bool", "timestamptz", "timestamptz"], rows)
            cur.execute(
                "INSERT INTO device_status (device_key, online, last_seen, changed_at, reason)"
                " SELECT device_key, online, last_seen, changed_at, 'silence watch'"
                " FROM stage_status ON CONFLICT (device_key) DO UPDATE SET"
                " online = EXCLUDED.online, changed_at = EXCLUDED.changed_at,"
                " reason = EXCLUDED.reason,"
                " last_seen = greatest(device_status.last_seen, EXCLUDED.last_seen)"
                " WHERE device_status.changed_at <= EXCLUDED.changed_at"
            )
        self._status_written[changed] = state[changed]
        return len(changed)

    def feed(self, batch: Decoded) -> None:
        """Called by ingest after each commit."""
        self.queue.put(batch)

    def stats(self) -> dict[str, int]:
        return {**self.counters, "queue_depth": self.queue.qsize()}

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        next_scan = next_save = time.monotonic()
        while not (self._stop.is_set() and self.queue.empty()):
            try:
                batch = self.queue.get(timeout=0.2)
            except queue.Empty:
                batch = None
            signals: list[Signal] = []
            try:
                if batch is not None:
                    signals += self.process(batch)
                if time.monotonic() >= next_scan:
                    signals += self.scan(self.clock())
                    next_scan = time.monotonic() + self.scan_s
                if signals:
                    self.write(signals)
                if time.monotonic() >= next_save:
                    self._save()
                    next_save = time.monotonic() + self.save_every_s
            except Exception:  # keep watching; the failure is logged and counted
                log.exception("detection batch failed")
                self.counters["errors"] += 1
                time.sleep(1.0)

    def process(self, batch: Decoded) -> list[Signal]:
        out = self._telemetry(batch) if batch.readings else []
        out += self._events(batch)
        keys = [s[0] for s in batch.statuses if not s[1]]
        if keys:
            out += self._outages(self.silence.last_will(np.array(keys, dtype=np.int64)), "lwt")
        return out

    def scan(self, now: float) -> list[Signal]:
        return self._outages(self.silence.scan(now), None)

    def write(self, signals: list[Signal]) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            copy_rows(cur, f"device_signal ({SIGNAL_COLUMNS})", _SIGNAL_TYPES, signals)
        for s in signals:
            self.counters[f"signals_{s[6]}"] += 1

    # -- sources ---------------------------------------------------------------------------
    def _telemetry(self, batch: Decoded) -> list[Signal]:
        rows = batch.readings
        keys = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        metric = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
        values = np.fromiter((r[4] for r in rows), dtype=np.float64, count=len(rows))
        ts = np.fromiter((r[0].timestamp() for r in rows), dtype=np.float64, count=len(rows))
        if len(keys) and int(keys.max()) >= self.fleet.size:
            self._reload()
        ok = (keys < self.fleet.size) & self.fleet.known[np.minimum(keys, self.fleet.size - 1)]
        keys, metric, values, ts = keys[ok], metric[ok], values[ok], ts[ok]
        self.silence.seen(keys, np.full(len(keys), self.clock()))
        self._heard[keys[keys < len(self._heard)]] = True
        order = np.argsort(ts, kind="stable")  # a series learns in time order
        keys, metric, values, ts = keys[order], metric[order], values[order], ts[order]
        series = self.fleet.series_of(keys, metric)
        scored = self.detector.process(series, values, ts)
        self.counters["readings_scored"] += len(series)
        hit = np.flatnonzero(scored.is_anomaly)
        out: list[Signal] = []
        for i in hit:
            s = int(series[i])
            floor = _FLOORS.get(int(metric[i]))
            crossing = floor is not None and values[i] >= floor > self._last_value[s]
            if ts[i] - self._last_signal[s] < self.repeat_s and not crossing:
                continue  # said already, unless it now crosses its hazard floor
            self._last_signal[s], self._last_value[s] = ts[i], values[i]
            key, score = int(keys[i]), float(scored.score[i])
            m = METRICS_BY_ID[int(metric[i])]
            detail = orjson.dumps({"metric": m.name, "unit": m.unit}).decode()
            out.append(self._row(dt.datetime.fromtimestamp(ts[i], dt.UTC), "device", key,
                                 "telemetry", KINDS[scored.kind[i]],
                                 "medium" if score >= 0.99 else "low", "raised", m.metric_id,
                                 float(values[i]), score, None, detail))  # fmt: skip
        return out

    def _events(self, batch: Decoded) -> list[Signal]:
        out: list[Signal] = []
        for at, key, _seq, code, standard, state, raw in batch.events:
            if key >= self.fleet.size or not self.fleet.known[key]:
                self._reload()
                if key >= self.fleet.size:
                    continue
            detail = orjson.loads(raw) if raw else {}
            sig = classify(standard, code, state, detail if isinstance(detail, dict) else {})
            info = orjson.dumps({"label": sig.label, "standard": standard, **(
                detail if isinstance(detail, dict) else {})}).decode()  # fmt: skip
            out.append(self._row(at, "device", key, "event", sig.kind, sig.severity,
                                 state, None, None, None, sig.code, info))  # fmt: skip
        return out

    def _outages(self, outages: list[Outage], reason: str | None) -> list[Signal]:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        out: list[Signal] = []
        f = self.fleet
        for o in outages:
            detail = orjson.dumps({"reason": reason or o.reason, "devices": o.devices}).decode()
            if o.scope == "device":
                out.append(self._row(now, "device", o.target, "silence", "offline", "low",
                                     o.state, None, None, None, None, detail))  # fmt: skip
                continue
            if o.scope == "gateway":
                keys = np.flatnonzero(f.gateway == o.target)
                gateway: str | None = f.gateways[o.target]
                grid = f.grids[int(f.grid[keys[0]])] if len(keys) else ""
                kind, severity = "gateway silent", "medium"
            else:
                gateway, grid, kind, severity = None, f.grids[o.target], "grid silent", "high"
            out.append((now, o.scope, None, gateway, grid, None, "silence", kind, severity,
                        o.state, None, None, None, None, detail))  # fmt: skip
        return out

    def _row(self, at: dt.datetime, scope: str, key: int, source: str, kind: str,
             severity: str, state: str, metric_id: int | None, value: float | None,
             score: float | None, code: str | None, detail: str) -> Signal:  # fmt: skip
        f = self.fleet
        gw, micro = int(f.gateway[key]), int(f.microgrid[key])
        return (at, scope, key, f.gateways[gw] if gw >= 0 else None, f.grids[int(f.grid[key])],
                f.microgrids[micro] if micro >= 0 else None, source, kind, severity, state,
                metric_id, value, score, code, detail)  # fmt: skip

    def _reload(self) -> None:
        """Devices registered since start: take them in (at most once a minute)."""
        if time.monotonic() - getattr(self, "_reloaded", -1e9) < 60:
            return
        self._reloaded = time.monotonic()
        fleet = load_fleet_arrays(self._conn)
        if fleet.size <= self.fleet.size:
            return
        # Existing keys keep their series numbers only if the layout is unchanged.
        if not np.array_equal(fleet.base[: self.fleet.size], self.fleet.base):
            log.warning("device layout changed; restart the detectors to re-index")
            return
        self.fleet = fleet
        self.detector.grow(fleet.series)
        grown = np.full(fleet.series, -np.inf, dtype=np.float64)
        grown[: len(self._last_signal)] = self._last_signal
        self._last_signal = grown
        values = np.full(fleet.series, np.nan, dtype=np.float32)
        values[: len(self._last_value)] = self._last_value
        self._last_value = values
        heard, written = np.zeros(fleet.size, dtype=bool), np.full(fleet.size, -1, np.int8)
        heard[: len(self._heard)], written[: len(self._status_written)] = (
            self._heard, self._status_written)  # fmt: skip
        self._heard, self._status_written = heard, written
        old = self.silence
        self.silence = Silence(fleet.interval_s, fleet.grid, fleet.gateway, now=self.clock(),
                               tracked=fleet.known)  # fmt: skip
        self.silence.adopt(old.state())
        self.silence.last_seen[: len(old.last_seen)] = old.last_seen

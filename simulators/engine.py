"""The simulation: given a fleet, a scenario and a seed, the MQTT messages of each time window.

Pure and deterministic: no clock and no broker here (see `simulators.run` for those), so
tests can step it like a fake clock. Each device reports every `interval_s` at a phase of
its own; its telemetry `seq` is the number of that report slot since the epoch, so sequence
numbers never repeat across runs and a gap means a lost report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import orjson

from gridwatch.catalogue import DEVICE_TYPES
from gridwatch.contract import device_topic, gateway_topic
from simulators.behaviour import BEHAVIOURS, personality
from simulators.city import Fleet
from simulators.incidents import BUILDERS, Incident, Targets
from simulators.scenarios import Scenario

Mode = Literal["direct", "gateway"]
GATEWAY_FLUSH_S = 30.0  # a gateway forwards telemetry every 30 s, alarms and statuses at once


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    sim_ts: float
    records: int = 1  # device records inside (a gateway batch holds many)


def iso_ms(ts: np.ndarray) -> list[str]:
    """RFC 3339 UTC timestamps with milliseconds, vectorised."""
    ms = np.round(ts * 1000).astype(np.int64).astype("datetime64[ms]")
    return [s + "Z" for s in np.datetime_as_string(ms, unit="ms").tolist()]


class Simulation:
    def __init__(
        self, fleet: Fleet, scenario: Scenario, seed: int, start: float, mode: Mode = "gateway"
    ) -> None:
        self.fleet = fleet
        self.scenario = scenario
        self.start = start
        self.mode = mode
        self.rng = np.random.default_rng(seed)
        targets = Targets(fleet, np.random.default_rng(seed + 1))
        self.incidents: list[Incident] = [
            BUILDERS[spec.type](targets, start + spec.at, spec.duration, spec.params)
            for spec in scenario.incidents
        ]
        all_idx = np.arange(len(fleet))
        self.phase = personality(all_idx, 11) * fleet.interval_s
        self.groups = {
            t: np.flatnonzero(fleet.device_type == t) for t in np.unique(fleet.device_type)
        }
        skew = scenario.faults
        self.skew_s = np.where(personality(all_idx, 13) < skew.clock_skew_devices,
                               skew.clock_skew_s, 0.0)  # fmt: skip
        self.use_gateway = (
            (fleet.gateway != "") if mode == "gateway" else np.zeros(len(fleet), bool)
        )
        self._held: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        # Python lists for the per-record loop: indexing numpy string arrays one at a time
        # costs more than the rest of the encoding (measured: 2.5 s → see bench simulate).
        self._ids: list[str] = fleet.device_id.tolist()
        self._types: list[str] = fleet.device_type.tolist()
        self._communities: list[str] = fleet.community.tolist()
        self._gateways: list[str] = fleet.gateway.tolist()
        self._via_gateway: list[bool] = self.use_gateway.tolist()

    def truth(self) -> list[dict[str, Any]]:
        return [inc.truth(self.fleet) for inc in self.incidents]

    # -- one window ---------------------------------------------------------------------
    def step(self, t0: float, t1: float) -> list[Outgoing]:
        """All messages whose device time falls in [t0, t1)."""
        records: list[tuple[int, str, float, dict[str, Any]]] = []
        for dtype, idx in self.groups.items():
            records += self._telemetry(str(dtype), idx, t0, t1)
        for inc in self.incidents:
            records += self._events(inc, t0, t1)
        out = self._encode(records, t1)
        out += self._gateway_statuses(t0, t1)
        out.sort(key=lambda o: o.sim_ts)
        return out

    def finish(self) -> list[Outgoing]:
        """The gateway batches still open at the end of the run."""
        return self._batches(float("inf"))

    def _due(self, idx: np.ndarray, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        interval = self.fleet.interval_s[idx].astype(np.float64)
        phase = self.phase[idx]
        n0 = np.ceil((t0 - phase) / interval).astype(np.int64)
        n1 = np.ceil((t1 - phase) / interval).astype(np.int64)
        count = n1 - n0
        due = count > 0
        devs = np.repeat(idx[due], count[due])
        first = np.repeat(n0[due], count[due])
        within = np.arange(len(devs)) - np.repeat(np.cumsum(count[due]) - count[due], count[due])
        slot = first + within
        return devs, slot

    def _telemetry(
        self, dtype: str, idx: np.ndarray, t0: float, t1: float
    ) -> list[tuple[int, str, float, dict[str, Any]]]:
        devs, slot = self._due(idx, t0, t1)
        ts = self.phase[devs] + slot * self.fleet.interval_s[devs]
        keep = ~self._silenced(devs, ts)
        devs, slot, ts = devs[keep], slot[keep], ts[keep]
        if len(devs) == 0:
            return []
        metrics = BEHAVIOURS[dtype](devs, ts, self.rng)
        self._apply_incidents(devs, ts, metrics)
        spec = DEVICE_TYPES[dtype]
        names = list(metrics)
        columns = []
        for name in names:
            m = spec.metric(name)
            assert m is not None
            columns.append(np.clip(metrics[name], m.low, m.high).tolist())
        stamps = iso_ms(ts + self.skew_s[devs])
        rows = zip(*columns, strict=True)
        return [
            (d, "telemetry", t, {"ts": s, "seq": n, "metrics": dict(zip(names, vals, strict=True))})
            for d, t, s, n, vals in zip(
                devs.tolist(), ts.tolist(), stamps, slot.tolist(), rows, strict=True
            )
        ]

    def _silenced(self, devs: np.ndarray, ts: np.ndarray) -> np.ndarray:
        mask = np.zeros(len(devs), dtype=bool)
        for inc in self.incidents:
            if len(inc.silent) == 0:
                continue
            hit = np.isin(devs, inc.silent)
            for a, b in inc.silent_windows:
                mask |= hit & (ts >= a) & (ts < b)
        return mask

    def _apply_incidents(
        self, devs: np.ndarray, ts: np.ndarray, metrics: dict[str, np.ndarray]
    ) -> None:
        for inc in self.incidents:
            live = (ts >= inc.start) & (ts < inc.end)
            if not live.any():
                continue
            for r in inc.ramps:
                if r.metric in metrics:
                    hit = live & np.isin(devs, r.devices) & (ts >= r.at)
                    progress = np.clip((ts - r.at) / r.over_s, 0, 1)
                    metrics[r.metric] = np.where(hit, metrics[r.metric] + r.delta * progress,
                                                 metrics[r.metric])  # fmt: skip
            for s in inc.stuck:
                if s.metric in metrics:
                    hit = np.isin(devs, s.devices) & (ts >= s.at) & (ts < s.until)
                    metrics[s.metric] = np.where(hit, s.value, metrics[s.metric])

    def _events(
        self, inc: Incident, t0: float, t1: float
    ) -> list[tuple[int, str, float, dict[str, Any]]]:
        out: list[tuple[int, str, float, dict[str, Any]]] = []
        for e in inc.events:
            if t0 <= e.t < t1:
                body: dict[str, Any] = {"ts": iso_ms(np.array([e.t]))[0], "seq": int(e.t * 1000),
                                        "code": e.code, "state": e.state}  # fmt: skip
                if e.standard:
                    body["standard"] = e.standard
                out.append((e.device, "event", e.t, body))
        for s in inc.statuses:
            if s.device is not None and t0 <= s.t < t1:
                stamp = iso_ms(np.array([s.t]))[0]
                out.append((s.device, "status", s.t, {"online": s.online, "ts": stamp,
                                                      "reason": s.reason}))  # fmt: skip
        return out

    def _gateway_statuses(self, t0: float, t1: float) -> list[Outgoing]:
        out = []
        for inc in self.incidents:
            for s in inc.statuses:
                if s.gateway is not None and t0 <= s.t < t1:
                    comm = s.gateway[3:15]
                    body = {
                        "online": s.online,
                        "ts": iso_ms(np.array([s.t]))[0],
                        "reason": s.reason,
                    }
                    out.append(Outgoing(gateway_topic(comm, s.gateway, "status"),
                                        orjson.dumps(body), s.t, 0))  # fmt: skip
        return out

    def _encode(
        self, records: list[tuple[int, str, float, dict[str, Any]]], t1: float
    ) -> list[Outgoing]:
        out: list[Outgoing] = []
        ids, types, via = self._ids, self._types, self._via_gateway
        for d, channel, t, body in records:
            if via[d]:
                rec = {"device": ids[d], "type": types[d], "channel": channel, **body}
                if channel == "telemetry":
                    self._held[(self._gateways[d], int(t // GATEWAY_FLUSH_S))].append(rec)
                    continue
                gw = self._gateways[d]
                now = {"gateway": gw, "ts": iso_ms(np.array([t]))[0], "records": [rec]}
                out.append(Outgoing(gateway_topic(gw[3:15], gw), orjson.dumps(now), t, 1))
            else:
                topic = device_topic(self._communities[d], types[d], ids[d], channel)
                out.append(Outgoing(topic, orjson.dumps(body), t))
        return out + self._batches(t1)

    def _batches(self, upto: float) -> list[Outgoing]:
        """Gateway batches whose flush window has closed by `upto`."""
        out = []
        for key in [
            k for k in self._held if (k[1] + 1) * GATEWAY_FLUSH_S <= upto or upto == float("inf")
        ]:
            gw, window = key
            recs = self._held.pop(key)
            t = min((window + 1) * GATEWAY_FLUSH_S, upto)
            if t == float("inf"):
                t = (window + 1) * GATEWAY_FLUSH_S
            payload = {"gateway": gw, "ts": iso_ms(np.array([t]))[0], "records": recs}
            out.append(Outgoing(gateway_topic(gw[3:15], gw), orjson.dumps(payload), t, len(recs)))
        return out

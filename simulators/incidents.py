"""Injected incidents: what each does to the devices it touches, and its ground truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulators.city import Fleet

FIRE_STD = "GB 26875.3"
ELEVATOR_STD = "GB/T 24476"


@dataclass(frozen=True)
class Ramp:
    """Adds `delta × progress` to a metric, progress rising 0→1 over `over_s` from `at`."""

    devices: np.ndarray
    metric: str
    delta: float
    at: float
    over_s: float


@dataclass(frozen=True)
class Stuck:
    devices: np.ndarray
    metric: str
    value: float
    at: float
    until: float


@dataclass(frozen=True)
class EventAt:
    t: float
    device: int
    code: str
    standard: str | None
    state: str = "raised"


@dataclass(frozen=True)
class StatusAt:
    t: float
    online: bool
    device: int | None = None
    gateway: str | None = None
    reason: str = "lwt"


@dataclass
class Incident:
    kind: str
    start: float
    end: float
    community: str
    grid: str
    microgrid: str | None
    devices: np.ndarray
    cause: str
    ramps: list[Ramp] = field(default_factory=list)
    stuck: list[Stuck] = field(default_factory=list)
    events: list[EventAt] = field(default_factory=list)
    statuses: list[StatusAt] = field(default_factory=list)
    silent: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    silent_windows: list[tuple[float, float]] = field(default_factory=list)
    gateway: str | None = None

    def truth(self, fleet: Fleet) -> dict[str, Any]:
        return {
            "type": self.kind,
            "cause": self.cause,
            "start": self.start,
            "end": self.end,
            # When a device first says so itself (its alarm), if it ever does.
            "alarm_at": min((e.t for e in self.events if e.state == "raised"), default=None),
            "community": self.community,
            "grid": self.grid,
            "microgrid": self.microgrid,
            "gateway": self.gateway,
            "devices": fleet.device_id[self.devices].tolist(),
        }


class Targets:
    """Finds devices for incidents; all choices come from the scenario's seeded generator."""

    def __init__(self, fleet: Fleet, rng: np.random.Generator) -> None:
        self.fleet = fleet
        self.rng = rng

    def of_type(self, dtype: str, within: np.ndarray | None = None) -> np.ndarray:
        mask = self.fleet.device_type == dtype
        if within is not None:
            mask &= within
        return np.flatnonzero(mask)

    def microgrid_with(self, dtype: str, at_least: int) -> str:
        idx = self.of_type(dtype)
        mgs, counts = np.unique(self.fleet.microgrid[idx], return_counts=True)
        eligible = mgs[counts >= at_least]
        if len(eligible) == 0:
            eligible = mgs[counts == counts.max()]
        return str(self.rng.choice(eligible))

    def one(self, dtype: str) -> int:
        idx = self.of_type(dtype)
        if len(idx) == 0:
            raise ValueError(f"the city has no {dtype} device")
        return int(self.rng.choice(idx))

    def where(self, device: int) -> tuple[str, str, str]:
        f = self.fleet
        return str(f.community[device]), str(f.grid[device]), str(f.microgrid[device])


Builder = Callable[[Targets, float, float, dict[str, Any]], Incident]


def building_fire(tg: Targets, start: float, dur: float, p: dict[str, Any]) -> Incident:
    mg = tg.microgrid_with("smoke", int(p.get("smoke_detectors", 3)))
    in_mg = tg.fleet.microgrid == mg
    smokes = tg.of_type("smoke", in_mg)[: int(p.get("smoke_detectors", 3))]
    fires = tg.of_type("fire", tg.fleet.grid == tg.fleet.grid[smokes[0]])[:1]
    comm, grid, _ = tg.where(int(smokes[0]))
    inc = Incident("building_fire", start, start + dur, comm, grid, mg,
                   np.concatenate([smokes, fires]), "fire")  # fmt: skip
    for i, d in enumerate(smokes):
        lag = 20.0 * i
        inc.ramps.append(Ramp(np.array([d]), "smoke", 12.0, start + lag, 180.0))
        inc.ramps.append(Ramp(np.array([d]), "temperature", 45.0, start + lag, 300.0))
        inc.events.append(EventAt(start + lag + 60.0, int(d), "SMOKE_ALARM", None))
    for d in fires:
        inc.ramps.append(Ramp(np.array([d]), "smoke", 8.0, start + 30.0, 180.0))
        inc.events.append(EventAt(start + 120.0, int(d), "FIRE_ALARM", FIRE_STD))
        inc.events.append(EventAt(start + dur, int(d), "FIRE_ALARM", FIRE_STD, "cleared"))
    return inc


def elevator_entrapment(tg: Targets, start: float, dur: float, p: dict[str, Any]) -> Incident:
    d = tg.one("elevator")
    comm, grid, mg = tg.where(d)
    code = str(p.get("code", "7"))
    inc = Incident("elevator_entrapment", start, start + dur, comm, grid, mg, np.array([d]),
                   "elevator_entrapment")  # fmt: skip
    inc.stuck += [Stuck(np.array([d]), "speed", 0.0, start, start + dur),
                  Stuck(np.array([d]), "door_open", 0.0, start, start + dur)]  # fmt: skip
    inc.events += [EventAt(start, d, code, ELEVATOR_STD),
                   EventAt(start + dur, d, code, ELEVATOR_STD, "cleared")]  # fmt: skip
    return inc


def power_outage(tg: Targets, start: float, dur: float, p: dict[str, Any]) -> Incident:
    grid = str(tg.fleet.grid[tg.one("smoke")])
    devices = np.flatnonzero(tg.fleet.grid == grid)
    comm = str(tg.fleet.community[devices[0]])
    inc = Incident("power_outage", start, start + dur, comm, grid, None, devices, "grid_outage")
    inc.silent, inc.silent_windows = devices, [(start + 2.0, start + dur)]
    for d in tg.of_type("elevator", tg.fleet.grid == grid):
        inc.events.append(EventAt(start, int(d), "9", ELEVATOR_STD))
        inc.events.append(EventAt(start + dur + 1.0, int(d), "9", ELEVATOR_STD, "cleared"))
    for gw in np.unique(tg.fleet.gateway[devices]):
        if gw:
            inc.statuses.append(StatusAt(start + 2.0, False, gateway=str(gw)))
            inc.statuses.append(StatusAt(start + dur, True, gateway=str(gw), reason="boot"))
    return inc


def gateway_failure(tg: Targets, start: float, dur: float, p: dict[str, Any]) -> Incident:
    gw = str(tg.fleet.gateway[tg.one("smoke")])
    devices = np.flatnonzero(tg.fleet.gateway == gw)
    comm, grid, mg = tg.where(int(devices[0]))
    inc = Incident("gateway_failure", start, start + dur, comm, grid, mg, devices,
                   "gateway_offline", gateway=gw)  # fmt: skip
    inc.silent, inc.silent_windows = devices, [(start, start + dur)]
    inc.statuses += [StatusAt(start, False, gateway=gw),
                     StatusAt(start + dur, True, gateway=gw, reason="boot")]  # fmt: skip
    return inc


def gas_leak(tg: Targets, start: float, dur: float, p: dict[str, Any]) -> Incident:
    d = tg.one("gas")
    comm, grid, mg = tg.where(d)
    inc = Incident("gas_leak", start, start + dur, comm, grid, mg, np.array([d]), "gas_leak")
    inc.ramps.append(Ramp(np.array([d]), "gas", float(p.get("peak_lel", 35.0)), start, 240.0))
    inc.events.append(EventAt(start + 140.0, d, "GAS_ALARM", None))
    inc.events.append(EventAt(start + dur, d, "GAS_ALARM", None, "cleared"))
    return inc


def flooding(tg: Targets, start: float, dur: float, p: dict[str, Any]) -> Incident:
    grid = str(tg.fleet.grid[tg.one("water")])
    in_grid = tg.fleet.grid == grid
    devices = np.concatenate([tg.of_type("water", in_grid), tg.of_type("manhole", in_grid)])
    comm = str(tg.fleet.community[devices[0]])
    inc = Incident("flooding", start, start + dur, comm, grid, None, devices, "flooding")
    inc.ramps.append(Ramp(devices, "water_level", float(p.get("rise_cm", 120.0)), start, 600.0))
    return inc


def sensor_drift(tg: Targets, start: float, dur: float, p: dict[str, Any]) -> Incident:
    d = tg.one(str(p.get("device_type", "env")))
    comm, grid, mg = tg.where(d)
    inc = Incident("sensor_drift", start, start + dur, comm, grid, mg, np.array([d]),
                   "sensor_fault")  # fmt: skip
    inc.ramps.append(Ramp(np.array([d]), str(p.get("metric", "temperature")),
                          float(p.get("delta", 12.0)), start, dur))  # fmt: skip
    return inc


def stuck_sensor(tg: Targets, start: float, dur: float, p: dict[str, Any]) -> Incident:
    d = tg.one(str(p.get("device_type", "env")))
    comm, grid, mg = tg.where(d)
    inc = Incident("stuck_sensor", start, start + dur, comm, grid, mg, np.array([d]),
                   "sensor_fault")  # fmt: skip
    inc.stuck.append(Stuck(np.array([d]), str(p.get("metric", "temperature")),
                           float(p.get("value", 17.25)), start, start + dur))  # fmt: skip
    return inc


def flapping_device(tg: Targets, start: float, dur: float, p: dict[str, Any]) -> Incident:
    d = tg.one(str(p.get("device_type", "door")))
    comm, grid, mg = tg.where(d)
    period = float(p.get("period_s", 40.0))
    inc = Incident("flapping_device", start, start + dur, comm, grid, mg, np.array([d]),
                   "device_offline")  # fmt: skip
    inc.silent = np.array([d])
    t = start
    while t < start + dur:
        inc.statuses.append(StatusAt(t, False, device=d))
        inc.statuses.append(StatusAt(t + period / 2, True, device=d, reason="reconnect"))
        inc.silent_windows.append((t, t + period / 2))
        t += period
    return inc


BUILDERS: dict[str, Builder] = {
    "building_fire": building_fire,
    "elevator_entrapment": elevator_entrapment,
    "power_outage": power_outage,
    "gateway_failure": gateway_failure,
    "gas_leak": gas_leak,
    "flooding": flooding,
    "sensor_drift": sensor_drift,
    "stuck_sensor": stuck_sensor,
    "flapping_device": flapping_device,
}

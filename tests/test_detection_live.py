"""Live detection on the simulator's scenarios: each injected anomaly yields its signal, a quiet
city almost none, a failed gateway one root-cause signal. Decoded batches go straight to the
detection service (the MQTT path is ingest's tests' business); signals land in the database.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from detectors.service import DetectionService, Signal
from gridwatch.db import Conn
from gridwatch.settings import Settings
from ingest.decode import Decoder
from ingest.messages import Received
from ingest.registry import Registry
from simulators.city import generate
from simulators.city_store import load_fleet, write_city
from simulators.engine import Simulation
from simulators.scenarios import IncidentSpec, Scenario

# Every series has learned its normal (a day, as live) before anything happens.
WARM_S = 25 * 3600


@pytest.fixture(scope="module")
def city() -> Any:
    return generate(0.0002, seed=4)


def _run(settings: Settings, conn: Conn, city: Any, incidents: list[IncidentSpec],
         minutes: float) -> tuple[list[Signal], list[dict[str, Any]], float]:  # fmt: skip
    write_city(conn, city, progress=lambda _: None)
    fleet = load_fleet(conn)
    start = time.time() - minutes * 60 - 60
    sim = Simulation(fleet, Scenario(name="t", duration=minutes * 60, incidents=incidents), 5,
                     start, "direct")  # fmt: skip
    clock = [start]
    own = settings.model_copy(update={"data_dir": settings.data_dir / uuid.uuid4().hex[:8]})
    service = DetectionService(own, clock=lambda: clock[0])
    decoder = Decoder(Registry(conn))
    signals: list[Signal] = []
    t = start
    while t < start + minutes * 60:
        msgs = sim.step(t, t + 60)
        clock[0] = t + 60
        now = dt.datetime.fromtimestamp(t + 60, dt.UTC)
        decoded = decoder.decode([Received(m.topic, m.payload, 0, 1, now) for m in msgs])
        signals += service.process(decoded)
        signals += service.scan(t + 60)
        t += 60
    if signals:
        service.write(signals)
    service.stop()
    return signals, sim.truth(), start


def _keys(conn: Conn, truth: list[dict[str, Any]]) -> set[int]:
    ids = [d for inc in truth for d in inc["devices"]]
    return {int(r[0]) for r in conn.execute(
        "SELECT device_key FROM device WHERE device_id = ANY(%s)", (ids,))}  # fmt: skip


def _telemetry_devices(signals: list[Signal], after: float) -> set[int]:
    return {s[2] for s in signals if s[6] == "telemetry" and s[0].timestamp() >= after}


@pytest.mark.parametrize(
    ("incident", "params"),
    [("gas_leak", {"peak_lel": 35}), ("sensor_drift", {"delta": 12}),
     ("stuck_sensor", {}), ("building_fire", {"smoke_detectors": 3})],
)  # fmt: skip
def test_each_injected_telemetry_anomaly_yields_a_device_signal(
    settings: Settings, conn: Conn, city: Any, incident: str, params: dict[str, Any]
) -> None:
    # As long as the built-in scenarios run them (the drift's 12 °C take an hour).
    spec = IncidentSpec(type=incident, at=WARM_S, duration=60 * 60, params=params)
    signals, truth, start = _run(settings, conn, city, [spec], minutes=WARM_S / 60 + 65)
    injected = _keys(conn, truth)
    found = _telemetry_devices(signals, start + WARM_S)
    assert injected and injected & found, (incident, injected, found)
    stored = conn.execute("SELECT count(*) FROM device_signal WHERE source='telemetry'").fetchone()
    assert stored is not None and stored[0] == sum(1 for s in signals if s[6] == "telemetry")


def test_a_quiet_day_yields_almost_no_signal(settings: Settings, conn: Conn, city: Any) -> None:
    signals, _, start = _run(settings, conn, city, [], minutes=WARM_S / 60 + 60)
    devices = len(city.fleet)
    after = [s for s in signals if s[0].timestamp() >= start + WARM_S]
    kinds = Counter((s[6], s[7]) for s in after)
    # Fewer than one device in a hundred signals anything in an hour of normal life.
    assert sum(kinds.values()) < devices / 100, kinds
    assert not any(s[8] in ("high", "critical") for s in after)


def test_a_failed_gateway_is_one_signal_not_one_per_device(
    settings: Settings, conn: Conn, city: Any
) -> None:
    spec = IncidentSpec(type="gateway_failure", at=20 * 60, duration=20 * 60)
    signals, truth, _ = _run(settings, conn, city, [spec], minutes=45)
    silent = [s for s in signals if s[6] == "silence" and s[9] == "raised"]
    gateways = [s for s in silent if s[1] == "gateway"]
    quiet_devices = _keys(conn, truth)
    assert len(gateways) == 1 and len(quiet_devices) >= 3
    assert not [s for s in silent if s[1] == "device" and s[2] in quiet_devices]
    cleared = [s for s in signals if s[6] == "silence" and s[9] == "cleared" and s[1] == "gateway"]
    assert len(cleared) == 1
    # The territory view's device status follows: every device heard, all back online.
    status = conn.execute("SELECT count(*) FILTER (WHERE online), count(*) FROM device_status")
    assert status.fetchone() == (len(city.fleet), len(city.fleet))

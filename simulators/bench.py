"""`gridwatch bench simulate`: can the simulator carry the whole city in real time here?

Generates the city in memory, then simulates and publishes `minutes` of gateway traffic as
fast as it can into a private broker (QoS 1, every message acknowledged). Real time means
a simulated minute takes at most a wall-clock minute: `realtime_factor` ≥ 1.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from gridwatch.catalogue import DEVICE_TYPES
from gridwatch.local_broker import LocalMosquitto
from gridwatch.settings import parse_mqtt_url
from simulators.city import generate
from simulators.engine import Mode, Simulation
from simulators.publisher import PublisherProcess
from simulators.run import run
from simulators.scenarios import Scenario


def bench_simulate(scale: float, minutes: float, mode: Mode = "gateway", seed: int = 1,
                   log: Any = print) -> dict[str, Any]:  # fmt: skip
    t0 = time.perf_counter()
    city = generate(scale, seed)
    gen_s = time.perf_counter() - t0
    devices = len(city.fleet)
    log(f"city: {devices:,} devices generated in {gen_s:.1f}s")
    metrics = {t: len(dt.metrics) for t, dt in DEVICE_TYPES.items()}
    per_report = sum(metrics[str(t)] for t in city.fleet.device_type) / max(devices, 1)
    duration = minutes * 60
    with tempfile.TemporaryDirectory(prefix="gw-bench-sim-") as tmp:
        broker = LocalMosquitto(Path(tmp))
        broker.start()
        try:
            endpoint = parse_mqtt_url(broker.url)
            sim = Simulation(city.fleet, Scenario(name="bench", duration=duration), seed,
                             time.time() - duration, mode)  # fmt: skip
            pub = PublisherProcess(endpoint, f"bench-sim-{seed}")
            try:
                stats = run(sim, pub, duration, speed=0, fast_window_s=10.0)
                pub.flush()
            finally:
                pub.close()
            wall = time.perf_counter() - t0 - gen_s
        finally:
            broker.stop()
    expected_reports = devices * 60 / float(city.fleet.interval_s.mean())  # per minute
    return {
        "mode": mode,
        "devices": devices,
        "simulated_s": duration,
        "wall_s": round(wall, 1),
        "realtime_factor": round(duration / wall, 2),
        "messages": stats.messages,
        "records": stats.records,
        "records_per_s": round(stats.records / wall),
        "readings_per_s": round(stats.records * per_report / wall),
        "city_reports_per_s": round(expected_reports / 60),
        "messages_per_s": round(stats.messages / wall),
        "generate_city_s": round(gen_s, 1),
    }

"""`gridwatch bench soak`: the city's load, live, for minutes — does ingest keep up?

On private servers: the city is registered, `gridwatch ingest` runs as its own process, and
the simulator publishes gateway traffic in real time (speed 1). Every `sample_s` it records
the ingest process's resident memory, readings stored, and the lag: messages handed to the
publisher but not yet received by ingest (an upper bound: it includes what the publisher
process holds). Flat memory, a lag that does not grow, and a drain of seconds once the
simulator stops are the pass marks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from gridwatch.catalogue import DEVICE_TYPES
from gridwatch.db import connect
from gridwatch.local_services import services_for
from gridwatch.schema.migrate import migrate
from gridwatch.settings import Settings
from simulators.city import generate
from simulators.city_store import load_fleet, write_city
from simulators.engine import Simulation
from simulators.publisher import PublisherProcess
from simulators.run import RunStats, run
from simulators.scenarios import Scenario


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def bench_soak(base: Settings, scale: float, minutes: float, sample_s: float = 10.0,
               log: Any = print) -> dict[str, Any]:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="gw-soak-") as tmp:
        private = base.model_copy(update={"database_url": None, "mqtt_url": None,
                                          "data_dir": Path(tmp)})  # fmt: skip
        with services_for(private, log=False) as settings:
            return _soak(settings, scale, minutes, sample_s, Path(tmp), log)


def _soak(settings: Settings, scale: float, minutes: float, sample_s: float, work: Path,
          log: Any) -> dict[str, Any]:  # fmt: skip
    t0 = time.monotonic()
    with connect(settings) as conn:
        migrate(conn, settings)
        write_city(conn, generate(scale, seed=1), progress=lambda _: None)
        fleet = load_fleet(conn)
    log(f"city: {len(fleet):,} devices registered in {time.monotonic() - t0:.0f}s")
    env = {**os.environ, "GRIDWATCH_DATABASE_URL": settings.dsn,
           "GRIDWATCH_MQTT_URL": f"mqtt://{settings.mqtt.host}:{settings.mqtt.port}"}  # fmt: skip
    out_path = work / "ingest.log"
    with out_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gridwatch", "ingest", "--report-s", "1"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        while "consuming" not in out_path.read_text():
            if proc.poll() is not None:
                raise RuntimeError(out_path.read_text())
            time.sleep(0.2)
        duration = minutes * 60
        sim = Simulation(fleet, Scenario(name="soak", duration=duration), 1, time.time(),
                         "gateway")  # fmt: skip
        pub = PublisherProcess(settings.mqtt, "gridwatch-soak-sim")
        stats = RunStats()
        done = threading.Event()

        def publish() -> None:
            nonlocal stats
            try:
                stats = run(sim, pub, duration, speed=1.0)
                pub.flush()
            finally:
                done.set()

        threading.Thread(target=publish, name="soak-sim", daemon=True).start()
        samples: list[dict[str, Any]] = []
        start = time.monotonic()
        while not done.wait(sample_s):
            samples.append(_sample(proc.pid, out_path, pub.sent, start))
            log(orjson.dumps(samples[-1]).decode())
        drain_from = time.monotonic()
        final = _sample(proc.pid, out_path, pub.sent, start)
        while final["lag_messages"] > 0 and time.monotonic() - drain_from < 120:
            time.sleep(1.0)
            final = _sample(proc.pid, out_path, pub.sent, start)
        pub.close()
    finally:
        proc.terminate()  # ingest writes what it took, then prints its final counters
        proc.wait(timeout=60)
    lines = [ln for ln in out_path.read_text().splitlines() if ln.startswith("{")]
    stored = int(orjson.loads(lines[-1]).get("readings_stored", 0)) if lines else 0
    metrics = {t: len(d.metrics) for t, d in DEVICE_TYPES.items()}
    per_round = sum(metrics[str(t)] for t in fleet.device_type)  # every device, every report
    expected = round(stats.records / len(fleet)) * per_round if len(fleet) else 0
    steady = samples[len(samples) // 3 :] or samples
    rss = [s["ingest_rss_mb"] for s in steady]
    lag = [s["lag_messages"] for s in steady]
    return {
        "devices": len(fleet),
        "minutes": minutes,
        "records_published": stats.records,
        "messages_published": stats.messages,
        "publisher_records_per_s": round(stats.records / max(stats.wall_s, 1e-9)),
        "readings_published": expected,
        "readings_stored": stored,
        "lost": expected - stored,
        "readings_per_s_avg": round(stored / (drain_from - start)),
        "ingest_rss_mb_at_one_third": samples[len(samples) // 3]["ingest_rss_mb"]
        if samples
        else None,
        "ingest_rss_mb_max": max(rss, default=0),
        "ingest_rss_mb_last": rss[-1] if rss else None,
        "lag_messages_upper_bound_max": max(lag, default=0),
        "lag_messages_upper_bound_last": lag[-1] if lag else None,
        "seconds_to_drain_after_end": round(time.monotonic() - drain_from, 1),
        "samples": samples,
    }


def _sample(pid: int, log_path: Path, published: int, start: float) -> dict[str, Any]:
    lines = [ln for ln in log_path.read_text().splitlines() if ln.startswith("{")]
    st = orjson.loads(lines[-1]) if lines else {}
    received = int(st.get("received", 0))
    return {
        "t": round(time.monotonic() - start),
        "ingest_rss_mb": round(_rss_kb(pid) / 1024, 1),
        "readings_stored": int(st.get("readings_stored", 0)),
        "lag_messages": max(published - received, 0),
        "queue_depth": int(st.get("queue_depth", 0)),
    }

"""`gridwatch bench ingest`: readings/s stored, beside the limits of the parts it is built on.

Every rate is measured on the same simulated stream, in the same run, on private servers:

- mosquitto_c: Mosquitto's own C clients, `mosquitto_pub -l` into `mosquitto_sub -C`;
- paho_bare: a paho subscriber that only counts, draining a queue the broker holds for it;
- copy_bare: binary COPY of the stream's rows into a table shaped like `reading`;
- ingest: the real consumer draining the same queue into the database, end to end
  (connect → last row committed).

The subscribers drain a pre-loaded persistent session, so the (Python) publisher's speed
does not cap what is measured. Rates are in readings/s: message rates are multiplied by the
stream's readings per message.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridwatch.db import Conn, connect
from gridwatch.local_services import services_for
from gridwatch.schema.migrate import migrate
from gridwatch.settings import MqttEndpoint, Settings
from ingest.counters import IngestCounters
from ingest.decode import Decoder
from ingest.mqtt_source import MqttSource
from ingest.registry import Registry
from ingest.service import IngestService
from ingest.store import READING_TYPES, copy_rows
from ingest.workers import IngestWorkers
from simulators.city import generate
from simulators.city_store import load_fleet, write_city
from simulators.engine import Mode, Simulation
from simulators.publisher import Publisher
from simulators.scenarios import Scenario


@dataclass(frozen=True, slots=True)
class Stream:
    topics: list[str]
    payloads: list[bytes]
    readings: int

    @property
    def per_message(self) -> float:
        return self.readings / len(self.payloads)


def readings_in(payload: bytes) -> int:
    """Telemetry values in one message (gateway batches hold many records)."""
    doc = orjson.loads(payload)
    records = doc.get("records", [doc]) if isinstance(doc, dict) else []
    return sum(len(r.get("metrics") or {}) for r in records if isinstance(r, dict))


def make_stream(conn: Conn, mode: Mode, readings: int, seed: int) -> Stream:
    """Simulated traffic of the registered fleet, whole report windows, about `readings` long."""
    fleet = load_fleet(conn)
    start = time.time() - 86400
    sim = Simulation(fleet, Scenario(name="bench", duration=86400), seed, start, mode)
    topics: list[str] = []
    payloads: list[bytes] = []
    total = 0
    t = start
    while total < readings:
        for m in sim.step(t, t + 60):
            n = readings_in(m.payload)
            if n:  # telemetry only: statuses and events have no rate to speak of
                topics.append(m.topic)
                payloads.append(m.payload)
                total += n
        t += 60
    for m in sim.finish():
        n = readings_in(m.payload)
        if n:
            topics.append(m.topic)
            payloads.append(m.payload)
            total += n
    return Stream(topics, payloads, total)


def scale_for(mode: Mode, readings: int) -> float:
    """A city big enough that the stream spans a few minutes of reports, not hours."""
    devices = readings / (3 if mode == "direct" else 8)  # ~2.8 readings per report
    return max(0.0005, min(1.0, devices / 2_450_000))


# -- the parts --------------------------------------------------------------------------


def mosquitto_c_rate(endpoint: MqttEndpoint, stream: Stream) -> float | None:
    """Messages/s through the broker with its own C clients (None if they are not installed).

    mosquitto_pub -l (2.0.11) drops what it has not sent yet when stdin ends, so stdin is
    held open until the subscriber has counted every message.
    """
    pub, sub = shutil.which("mosquitto_pub"), shutil.which("mosquitto_sub")
    if pub is None or sub is None:
        return None
    topic = f"bench-c/{uuid.uuid4().hex[:8]}"
    host = ["-h", endpoint.host, "-p", str(endpoint.port)]
    n = len(stream.payloads)
    receiver = subprocess.Popen(
        [sub, *host, "-q", "1", "-t", topic, "-C", str(n)], stdout=subprocess.DEVNULL
    )
    time.sleep(0.5)  # subscribed before the first message
    sender = subprocess.Popen([pub, *host, "-q", "1", "-t", topic, "-l"], stdin=subprocess.PIPE)
    assert sender.stdin is not None
    t0 = time.perf_counter()
    try:
        for payload in stream.payloads:
            sender.stdin.write(payload + b"\n")
        sender.stdin.flush()
        receiver.wait(timeout=600)
        return n / (time.perf_counter() - t0)
    except subprocess.TimeoutExpired:
        return None
    finally:
        receiver.kill()
        sender.stdin.close()
        sender.wait(timeout=30)


class _Counter:
    """A paho subscriber that only counts."""

    def __init__(self, endpoint: MqttEndpoint, client_id: str, topic: str) -> None:
        self.n = 0
        self.done = threading.Event()
        self.target = 0
        self.topic = topic
        self.endpoint = endpoint
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311, clean_session=False)  # fmt: skip
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message

    def _on_message(self, *_: object) -> None:
        self.n += 1
        if self.n >= self.target > 0:
            self.done.set()

    def run(self, target: int = 0) -> None:
        self.target = target
        self.client.connect(self.endpoint.host, self.endpoint.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def copy_bare_rate(settings: Settings, rows: list[tuple[Any, ...]], batch_rows: int) -> float:
    """Rows/s of binary COPY into a table shaped like `reading`, in ingest's batch size."""
    with connect(settings) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (LIKE reading INCLUDING ALL)")
        t0 = time.perf_counter()
        for lo in range(0, len(rows), batch_rows):
            with conn.transaction(), conn.cursor() as cur:
                copy_rows(cur, "bench_copy", READING_TYPES, rows[lo : lo + batch_rows])
        rate = len(rows) / (time.perf_counter() - t0)
        conn.execute("DROP TABLE bench_copy")
    return rate


def _decoded_rows(settings: Settings, stream: Stream) -> list[tuple[Any, ...]]:
    import datetime as dt

    from ingest.messages import Received

    now = dt.datetime.now(dt.UTC)
    with connect(settings) as conn:
        decoder = Decoder(Registry(conn), settings.max_clock_skew_s, settings.max_age_days)
        pairs = zip(stream.topics, stream.payloads, strict=True)
        msgs = [Received(t, p, 0, 1, now) for t, p in pairs]
        return list(decoder.decode(msgs).readings)


def _publish(endpoint: MqttEndpoint, prefix: str, stream: Stream) -> float:
    pub = Publisher(endpoint, f"bench-pub-{uuid.uuid4().hex[:8]}")
    t0 = time.perf_counter()
    try:
        for topic, payload in zip(stream.topics, stream.payloads, strict=True):
            pub.publish(prefix + topic, payload)
        pub.flush()
    finally:
        pub.close()
    return len(stream.payloads) / (time.perf_counter() - t0)


def _stored(settings: Settings) -> tuple[int, int]:
    with connect(settings) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (device_key, metric_id, seq)) FROM reading"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def bench_ingest(base: Settings, mode: Mode, readings: int, seed: int = 1,
                 log: Any = print) -> dict[str, Any]:  # fmt: skip
    """Run every measurement on private servers; returns the numbers."""
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        work = Path(tmp)
        private = base.model_copy(update={"database_url": None, "mqtt_url": None,
                                          "data_dir": work})  # fmt: skip
        with services_for(private, log=False) as settings:
            return _bench(settings, mode, readings, seed, log)


def _bench(settings: Settings, mode: Mode, readings: int, seed: int,
           log: Any) -> dict[str, Any]:  # fmt: skip
    with connect(settings) as conn:
        migrate(conn, settings)
        city = generate(scale_for(mode, readings), seed)
        write_city(conn, city, progress=lambda _: None)
        stream = make_stream(conn, mode, readings, seed)
    n_msgs = len(stream.payloads)
    per = stream.per_message
    log(f"stream: {stream.readings:,} readings in {n_msgs:,} {mode} messages "
        f"from {len(city.fleet):,} devices")  # fmt: skip

    c_rate = mosquitto_c_rate(settings.mqtt, stream)
    log(f"mosquitto C clients: {c_rate or 0:,.0f} msg/s")

    # Register every persistent session, then fill their queues while they are away. Each
    # ingest configuration has a shared group of its own, so each gets the whole stream.
    ns = "bench/"
    workers = max(1, os.cpu_count() or 1)
    many = settings.model_copy(update={"ingest_shared_group": "bench-many"})
    counter = _Counter(settings.mqtt, "bench-paho-bare", ns + "gw/v1/#")
    counter.run()
    time.sleep(0.3)
    counter.stop()
    _register(settings, ns, ["bench-one"], shared=False)
    _register(many, ns, [f"bench-many-{i}" for i in range(workers)], shared=True)
    pub_rate = _publish(settings.mqtt, ns, stream)
    log(f"published (paho QoS 1): {pub_rate:,.0f} msg/s")

    counter = _Counter(settings.mqtt, "bench-paho-bare", ns + "gw/v1/#")
    t0 = time.perf_counter()
    counter.run(target=n_msgs)
    counter.done.wait(timeout=600)
    paho_rate = counter.n / (time.perf_counter() - t0)
    counter.stop()
    log(f"paho bare subscriber: {paho_rate:,.0f} msg/s")

    rows = _decoded_rows(settings, stream)
    copy_rate = copy_bare_rate(settings, rows, settings.ingest_batch_rows)
    log(f"bare binary COPY: {copy_rate:,.0f} rows/s")

    single = IngestService(settings, namespace=ns, client_id="bench-one")
    one_rate, _, _ = _drain(single, stream.readings)
    one_total, one_distinct = _stored(settings)
    log(f"ingest, 1 process: {one_rate:,.0f} readings/s")
    with connect(settings) as conn:
        conn.execute("TRUNCATE reading")
    pool = IngestWorkers(many, workers, namespace=ns, client_id="bench-many")
    ingest_rate, elapsed, stats = _drain(pool, stream.readings)
    total, distinct = _stored(settings)
    log(f"ingest, {workers} processes: {ingest_rate:,.0f} readings/s")
    result: dict[str, Any] = {
        "mode": mode,
        "readings": stream.readings,
        "messages": n_msgs,
        "readings_per_message": round(per, 2),
        "workers": workers,
        "readings_per_s": round(ingest_rate),
        "readings_per_s_one_process": round(one_rate),
        "mosquitto_c_per_s": round(c_rate * per) if c_rate else None,
        "paho_bare_per_s": round(paho_rate * per),
        "copy_bare_per_s": round(copy_rate),
        "publisher_per_s": round(pub_rate * per),
        "lost": stream.readings - distinct + stream.readings - one_distinct,
        "duplicates_stored": total - distinct + one_total - one_distinct,
        "rejected": stats["rejected"],
        "batch_seconds_avg": round(float(stats["batch_seconds_avg"]), 4),
        "batch_seconds_max": round(float(stats["batch_seconds_max"]), 4),
        "seconds": round(elapsed, 2),
    }
    result["vs_paho_bare"] = round(ingest_rate / (paho_rate * per), 3)
    result["vs_paho_bare_one_process"] = round(one_rate / (paho_rate * per), 3)
    result["vs_copy_bare"] = round(ingest_rate / copy_rate, 3)
    if c_rate:
        result["vs_mosquitto_c"] = round(ingest_rate / (c_rate * per), 3)
    return result


def _register(settings: Settings, namespace: str, client_ids: list[str], shared: bool) -> None:
    """Create persistent sessions subscribed as ingest subscribes, then leave."""
    for cid in client_ids:
        source = MqttSource(settings.mqtt, cid, queue.Queue(), IngestCounters(),
                            group=settings.ingest_shared_group if shared else None,
                            namespace=namespace)  # fmt: skip
        source.start()
        time.sleep(0.3)
        source.stop()


def _drain(
    runner: IngestService | IngestWorkers, expected: int
) -> tuple[float, float, dict[str, Any]]:
    """Start `runner` on its pre-filled session; (readings/s, seconds, stats) once all stored.

    The clock starts once every process is up and connected (spawning Python processes is
    not ingest work); what was stored meanwhile is not counted in the rate.
    """
    runner.start()
    t0 = time.perf_counter()
    stored = base = int(runner.stats()["readings_stored"])
    last, last_change = -1, t0
    while stored < expected:
        time.sleep(0.02)
        stored = int(runner.stats()["readings_stored"])
        if stored != last:
            last, last_change = stored, time.perf_counter()
        elif time.perf_counter() - last_change > 30:
            break  # stalled: report what was lost rather than hang
    elapsed = time.perf_counter() - t0
    runner.stop()
    stats = runner.stats()
    return (stored - base) / elapsed, elapsed, stats

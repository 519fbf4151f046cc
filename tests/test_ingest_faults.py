"""Ingest under faults, on real servers: a killed consumer, a stopped database, a restarted
broker. Each publishes a known stream and checks that every reading is stored exactly once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest

from gridwatch.db import Conn
from gridwatch.local_broker import LocalMosquitto
from gridwatch.local_postgres import LocalPostgres
from gridwatch.schema.migrate import migrate
from gridwatch.settings import Settings
from ingest.service import IngestService
from simulators.city import generate
from simulators.city_store import load_fleet, write_city
from simulators.engine import Simulation
from simulators.publisher import Publisher
from simulators.scenarios import Scenario

ROOT = Path(__file__).resolve().parents[1]

Stream = list[tuple[str, bytes]]


def _stream(conn: Conn, prefix: str, minutes: float) -> tuple[Stream, int]:
    """A gateway-mode stream of the city in `conn`, and how many readings it carries."""
    write_city(conn, generate(0.001, seed=3), progress=lambda _: None)
    fleet = load_fleet(conn)
    start = time.time() - minutes * 60 - 5
    sim = Simulation(fleet, Scenario(name="q", duration=minutes * 60), 1, start, "gateway")
    out = sim.step(start, start + minutes * 60) + sim.finish()
    msgs = [(f"{prefix}{m.topic}", m.payload) for m in out if m.topic.endswith("/batch")]
    readings = sum(len(r.get("metrics", {})) for _, p in msgs for r in orjson.loads(p)["records"])
    return msgs, readings


def _publish(settings: Settings, msgs: Stream) -> None:
    pub = Publisher(settings.mqtt, f"pub-{uuid.uuid4().hex[:8]}")
    try:
        for topic, payload in msgs:
            pub.publish(topic, payload)
        pub.flush()  # returns once the broker has acknowledged every message (QoS 1)
    finally:
        pub.close()


def _counts(dsn: str) -> tuple[int, int]:
    """(rows, distinct readings) in `reading`, 0s while the database is unreachable."""
    try:
        with psycopg.connect(dsn, connect_timeout=3) as c:
            row = c.execute(
                "SELECT count(*), count(DISTINCT (device_key, metric_id, seq)) FROM reading"
            ).fetchone()
    except psycopg.OperationalError:
        return 0, 0
    assert row is not None
    return int(row[0]), int(row[1])


def _wait_stored(dsn: str, expected: int, timeout_s: float = 120.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout_s
    counts = _counts(dsn)
    while counts[1] < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        counts = _counts(dsn)
    time.sleep(1.0)  # anything stored twice would show up now
    return _counts(dsn)


def _ingest_process(settings: Settings, client_id: str, namespace: str,
                    log: Path) -> subprocess.Popen[bytes]:  # fmt: skip
    """`gridwatch ingest` as its own process, once it says it is consuming."""
    env = {**os.environ, "GRIDWATCH_DATABASE_URL": settings.dsn,
           "GRIDWATCH_MQTT_URL": f"mqtt://{settings.mqtt.host}:{settings.mqtt.port}"}  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gridwatch", "ingest", "--client-id", client_id,
             "--namespace", namespace, "--report-s", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while proc.poll() is None and "consuming" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    assert proc.poll() is None, log.read_text()
    return proc


def test_kill_9_mid_stream_then_restart_stores_every_reading_once(
    settings: Settings, conn: Conn, topic_root: str, tmp_path: Path
) -> None:
    msgs, expected = _stream(conn, f"{topic_root}/", minutes=6)
    client_id = f"fault-kill-{uuid.uuid4().hex[:8]}"
    proc = _ingest_process(settings, client_id, f"{topic_root}/", tmp_path / "first.log")
    half = len(msgs) // 2
    _publish(settings, msgs[:half])
    deadline = time.monotonic() + 60
    while _counts(settings.dsn)[1] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-stream: some batches stored, some taken, unacked
    proc.wait(timeout=10)
    stored_at_kill = _counts(settings.dsn)[1]
    _publish(settings, msgs[half:])  # sent while it is down: the broker keeps them
    proc = _ingest_process(settings, client_id, f"{topic_root}/", tmp_path / "second.log")
    try:
        rows, distinct = _wait_stored(settings.dsn, expected)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert 0 < stored_at_kill < expected
    assert (rows, distinct) == (expected, expected)


@pytest.fixture
def private_pg(services: Settings) -> Iterator[tuple[LocalPostgres, Settings]]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    pg = LocalPostgres(ROOT / ".gridwatch" / f"fault-pg-{uuid.uuid4().hex[:8]}")
    pg.start()
    try:
        own = services.model_copy(update={"database_url": pg.url})
        with psycopg.connect(own.dsn, autocommit=True) as c:
            migrate(c, own)
        yield pg, own
    finally:
        pg.stop()
        shutil.rmtree(pg.root, ignore_errors=True)


def test_database_down_for_30_s_mid_stream_loses_nothing(
    private_pg: tuple[LocalPostgres, Settings], topic_root: str
) -> None:
    pg, settings = private_pg
    with psycopg.connect(settings.dsn, autocommit=True) as c:
        msgs, expected = _stream(c, f"{topic_root}/", minutes=6)
    service = IngestService(settings, namespace=f"{topic_root}/",
                            client_id=f"fault-db-{uuid.uuid4().hex[:8]}")  # fmt: skip
    service.start()
    try:
        third = len(msgs) // 3
        _publish(settings, msgs[:third])
        deadline = time.monotonic() + 60
        while service.counters.readings_stored == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        pg.stop()
        down_at = time.monotonic()
        _publish(settings, msgs[third:])  # the stream goes on while the database is away
        time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
        retries = service.counters.write_retries
        pg.start()
        rows, distinct = _wait_stored(settings.dsn, expected)
    finally:
        service.stop()
    assert retries > 0  # it did try to write while the database was down
    assert (rows, distinct) == (expected, expected)
    assert service.counters.readings_stored == expected


def test_broker_restart_mid_stream_loses_nothing_it_accepted(
    settings: Settings, conn: Conn, topic_root: str
) -> None:
    broker = LocalMosquitto(ROOT / ".gridwatch" / f"fault-mq-{uuid.uuid4().hex[:8]}")
    broker.start()
    own = settings.model_copy(update={"mqtt_url": broker.url})
    msgs, expected = _stream(conn, "", minutes=6)
    service = IngestService(own, client_id=f"fault-mq-{uuid.uuid4().hex[:8]}")
    try:
        service.start()
        half = len(msgs) // 2
        _publish(own, msgs[:half])
        deadline = time.monotonic() + 60
        while service.counters.readings_stored == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        broker.restart()  # queued and unacknowledged messages are in its persistence file
        _publish(own, msgs[half:])
        rows, distinct = _wait_stored(own.dsn, expected)
        reconnects = service.counters.reconnects
    finally:
        service.stop()
        broker.stop()
        shutil.rmtree(broker.root, ignore_errors=True)
    assert reconnects >= 1
    assert (rows, distinct) == (expected, expected)

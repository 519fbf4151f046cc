"""Ingest against the real broker and database: exactly once, dead letters, restarts."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator

import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gridwatch.db import Conn
from gridwatch.settings import Settings
from ingest.decode import Decoder
from ingest.messages import Received
from ingest.registry import Registry
from ingest.service import IngestService
from simulators.city import generate
from simulators.city_store import write_city
from simulators.engine import Simulation
from simulators.publisher import Publisher
from simulators.scenarios import Scenario

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def city_conn(conn: Conn) -> Conn:
    write_city(conn, generate(0.001, seed=2), progress=lambda _: None)
    return conn


def _count(conn: Conn, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(str(row[0])) if row else 0


def _wait_for(pred, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


@pytest.fixture
def service(settings: Settings, city_conn: Conn, topic_root: str) -> Iterator[IngestService]:
    svc = IngestService(settings, namespace=f"{topic_root}/",
                        client_id=f"test-ingest-{uuid.uuid4().hex[:8]}")  # fmt: skip
    svc.start()
    yield svc
    svc.stop()


def _stream(city_conn: Conn, topic_root: str, minutes: float, mode: str = "gateway") -> list:  # type: ignore[type-arg]
    from simulators.city_store import load_fleet

    fleet = load_fleet(city_conn)
    start = time.time() - minutes * 60 - 5
    sim = Simulation(fleet, Scenario(name="q", duration=minutes * 60), 1, start, mode)  # type: ignore[arg-type]
    out = sim.step(start, start + minutes * 60) + sim.finish()
    return [(f"{topic_root}/{m.topic}", m.payload, m.records) for m in out]


def _readings(msgs: list[tuple[str, bytes, int]]) -> int:
    """Readings carried by a stream of direct messages and gateway batches."""
    docs = (orjson.loads(p) for _, p, _ in msgs)
    return sum(len(r.get("metrics", {})) for d in docs for r in d.get("records", [d]))


def test_every_reading_stored_once_despite_redelivery(
    service: IngestService, settings: Settings, city_conn: Conn, topic_root: str
) -> None:
    msgs = _stream(city_conn, topic_root, 3)
    pub = Publisher(settings.mqtt, f"pub-{uuid.uuid4().hex[:8]}")
    for topic, payload, _ in msgs:
        pub.publish(topic, payload)
    for topic, payload, _ in msgs[::3]:  # at-least-once: the broker may deliver again
        pub.publish(topic, payload)
    pub.flush()
    pub.close()
    expected_rows = _readings(msgs)
    _wait_for(lambda: _count(city_conn, "SELECT count(*) FROM reading") >= expected_rows)
    time.sleep(0.5)
    assert _count(city_conn, "SELECT count(*) FROM reading") == expected_rows
    assert service.stats()["reading_duplicates"] > 0
    assert _count(city_conn, "SELECT count(*) FROM dead_letter") == 0


def test_bad_messages_are_dead_lettered_with_a_reason(
    service: IngestService, settings: Settings, city_conn: Conn, topic_root: str
) -> None:
    dev = city_conn.execute(
        "SELECT device_id, community_code FROM device WHERE device_type='smoke' LIMIT 1"
    ).fetchone()
    assert dev is not None
    did, comm = str(dev[0]), str(dev[1])
    ts = NOW.isoformat()
    base = f"{topic_root}/gw/v1/{comm}/smoke/{did}"
    bad = {
        f"{base}/telemetry": [
            b"{nope",
            orjson.dumps({"ts": ts, "seq": 1, "metrics": {"gas": 1.0}}),
            orjson.dumps({"ts": ts, "seq": 2, "metrics": {"smoke": 400.0}}),
            orjson.dumps({"ts": "2001-01-01T00:00:00Z", "seq": 3, "metrics": {"smoke": 1.0}}),
            orjson.dumps(
                {
                    "ts": (NOW + dt.timedelta(hours=2)).isoformat(),
                    "seq": 4,
                    "metrics": {"smoke": 1.0},
                }
            ),
            orjson.dumps({"seq": 5, "metrics": {"smoke": 1.0}}),
        ],
        f"{topic_root}/gw/v1/{comm}/smoke/ghost-1/telemetry": [
            orjson.dumps({"ts": ts, "seq": 1, "metrics": {"smoke": 1.0}})
        ],
        f"{topic_root}/gw/v1/999999999999/smoke/{did}/telemetry": [
            orjson.dumps({"ts": ts, "seq": 1, "metrics": {"smoke": 1.0}})
        ],
    }
    good = orjson.dumps({"ts": ts, "seq": 9, "metrics": {"smoke": 0.5, "temperature": 20.0,
                                                         "battery": 90.0}})  # fmt: skip
    pub = Publisher(settings.mqtt, f"pub-{uuid.uuid4().hex[:8]}")
    for topic, payloads in bad.items():
        for p in payloads:
            pub.publish(topic, p)
    pub.publish(f"{base}/telemetry", good)
    pub.flush()
    pub.close()
    _wait_for(lambda: _count(city_conn, "SELECT count(*) FROM dead_letter") >= 8)
    _wait_for(lambda: _count(city_conn, "SELECT count(*) FROM reading") == 3)
    reasons = sorted(str(r[0]).split(":")[0] for r in city_conn.execute(
        "SELECT reason FROM dead_letter"))  # fmt: skip
    assert reasons == sorted(["malformed json", "unknown metric", "value out of range",
                              "bad timestamp", "bad timestamp", "invalid payload",
                              "unknown device", "community mismatch"])  # fmt: skip
    payloads = {bytes(r[0]) for r in city_conn.execute("SELECT payload FROM dead_letter")}
    assert b"{nope" in payloads
    assert sum(service.stats()["rejected"].values()) == 8  # type: ignore[attr-defined]


def test_last_will_marks_the_device_offline(
    service: IngestService, settings: Settings, city_conn: Conn, topic_root: str
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    row = city_conn.execute(
        "SELECT device_key, device_id, community_code FROM device"
        " WHERE device_type='elevator' LIMIT 1"
    ).fetchone()
    assert row is not None
    topic = f"{topic_root}/gw/v1/{row[2]}/elevator/{row[1]}/status"
    dev = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:6]}")
    dev.will_set(topic, orjson.dumps({"online": False, "reason": "lwt"}), qos=1)
    ep = settings.mqtt
    dev.connect(ep.host, ep.port, keepalive=5)
    dev.loop_start()
    dev.publish(topic, orjson.dumps({"online": True, "reason": "boot"}), qos=1).wait_for_publish()
    q = f"SELECT online FROM device_status WHERE device_key = {row[0]}"
    _wait_for(lambda: city_conn.execute(q).fetchone() == (True,))
    dev.loop_stop()
    dev._sock_close()  # a lost connection, not a clean disconnect: the broker sends the will
    _wait_for(lambda: city_conn.execute(q).fetchone() == (False,), timeout_s=30)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@hsettings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.one_of(st.binary(max_size=200), _JSON.map(orjson.dumps)),
       field=st.sampled_from(["ts", "seq", "metrics", "x"]), value=_JSON)  # fmt: skip
def test_fuzzed_payloads_never_crash_and_good_ones_pass(
    city_conn: Conn, junk: bytes, field: str, value: object
) -> None:
    registry = Registry(city_conn)
    decoder = Decoder(registry)
    dev = city_conn.execute(
        "SELECT device_id, community_code FROM device WHERE device_type='gas' LIMIT 1"
    ).fetchone()
    assert dev is not None
    topic = f"gw/v1/{dev[1]}/gas/{dev[0]}/telemetry"
    good = {"ts": NOW.isoformat(), "seq": 7, "metrics": {"gas": 1.0}}
    mutated = {**good, field: value}
    try:
        mutated_bytes = orjson.dumps(mutated)
    except TypeError:
        mutated_bytes = b"{}"
    msgs = [Received(topic, p, i, 1, NOW) for i, p in
            enumerate([junk, orjson.dumps(good), mutated_bytes])]  # fmt: skip
    out = decoder.decode(msgs)
    assert len(out.readings) + len(out.rejections) >= 2
    assert any(r[4] == 1.0 for r in out.readings)
    for r in out.rejections:
        assert r.reason and r.payload in (junk, mutated_bytes)


def test_two_workers_split_the_stream_and_store_it_once(
    settings: Settings, city_conn: Conn, topic_root: str
) -> None:
    from ingest.workers import IngestWorkers

    msgs = _stream(city_conn, topic_root, 3)
    expected = _readings(msgs)
    group = settings.model_copy(update={"ingest_shared_group": f"g{topic_root}"})
    pool = IngestWorkers(group, 2, namespace=f"{topic_root}/", client_id=f"w-{topic_root}")
    pool.start()
    try:
        pub = Publisher(settings.mqtt, f"pub-{uuid.uuid4().hex[:8]}")
        for topic, payload, _ in msgs:
            pub.publish(topic, payload)
        pub.flush()
        pub.close()
        _wait_for(lambda: _count(city_conn, "SELECT count(*) FROM reading") >= expected)
        time.sleep(0.5)
    finally:
        pool.stop()
    assert _count(city_conn, "SELECT count(*) FROM reading") == expected
    stats = pool.stats()
    assert stats["workers"] == 2 and stats["readings_stored"] == expected
    per_worker = [s["received"] for s in pool._latest.values()]
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker)  # the broker split the load

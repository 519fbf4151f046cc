"""The whole product in one process, as `gridwatch run` assembles it: an alarm published on
the real broker becomes an incident that the API serves and the live feed announces."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import httpx
import orjson

from api.app import create_app
from api.keys import create_key
from api.server import Server
from gridwatch.contract import device_topic
from gridwatch.db import Conn
from gridwatch.net import free_port
from gridwatch.run import Pipeline
from gridwatch.settings import Settings
from simulators.city import generate
from simulators.city_store import write_city
from simulators.publisher import Publisher


def test_an_alarm_on_the_broker_becomes_an_incident_on_the_api(
    settings: Settings, conn: Conn, topic_root: str
) -> None:
    write_city(conn, generate(0.0002, seed=4), progress=lambda _: None)
    device_id, community, grid = conn.execute(
        "SELECT device_id, community_code, grid_code FROM device WHERE device_type = 'gas'"
        " LIMIT 1").fetchone()  # type: ignore[misc]  # fmt: skip
    key = create_key(conn, "viewer")
    own = settings.model_copy(update={"data_dir": settings.data_dir / uuid.uuid4().hex[:8]})
    pipeline = Pipeline(own, namespace=f"{topic_root}/", client_id=f"run-{topic_root}")
    pipeline.start()
    server = Server(create_app(own, pipeline), port=free_port()).start()
    pub = Publisher(own.mqtt, f"pub-{topic_root}")
    try:
        time.sleep(1.0)  # subscribed
        body = {"ts": dt_now(), "seq": 1, "code": "GAS_ALARM", "state": "raised"}
        pub.publish(f"{topic_root}/{device_topic(community, 'gas', device_id, 'event')}",
                    orjson.dumps(body))  # fmt: skip
        deadline, items = time.monotonic() + 20, []
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}) as http:
            while time.monotonic() < deadline and not items:
                items = http.get("/api/v1/alerts").json()["items"]
                time.sleep(0.2)
            assert [(a["cause"], a["grid_code"], a["severity"]) for a in items] == [
                ("gas_leak", grid, "high")]  # fmt: skip
            metrics = http.get("/metrics").text
            health = http.get("/health").json()
        assert "gridwatch_ingest_events_stored 1" in metrics
        assert health["status"] == "ok" and health["lag"]["correlator_signals"] == 0
    finally:
        pub.close()
        server.stop()
        pipeline.stop()


def dt_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")

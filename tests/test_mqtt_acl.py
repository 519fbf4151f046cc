"""Mosquitto's password and ACL files, written from the registry, on a real private broker:
a device publishes on its own topics only; a wrong password is refused."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gridwatch.contract import device_topic
from gridwatch.db import Conn
from gridwatch.local_broker import LocalMosquitto
from gridwatch.mqtt_auth import password_hash, write_files
from simulators.city import generate
from simulators.city_store import write_city


def client(port: int, user: str, password: str) -> tuple[mqtt.Client, list[ReasonCode]]:
    """A connected MQTT 5 client, and the reason codes of the connection (or its refusal)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                    protocol=mqtt.MQTTv5)  # fmt: skip
    c.username_pw_set(user, password)
    codes: list[ReasonCode] = []
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode,
                   _p: Properties | None) -> None:  # fmt: skip
        codes.append(rc)
        done.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(10)
    return c, codes


def test_a_device_may_publish_as_itself_only(conn: Conn, tmp_path: Path) -> None:
    write_city(conn, generate(0.0002, seed=4), progress=lambda _: None)
    (a, a_type, comm), (b, b_type, _) = conn.execute(
        "SELECT device_id, device_type, community_code FROM device ORDER BY device_key LIMIT 2"
    ).fetchall()
    for device in (a, b):
        conn.execute("UPDATE device SET credential_hash = %s WHERE device_id = %s",
                     (password_hash(f"pw-{device}"), device))  # fmt: skip
    counts = write_files(conn, tmp_path / "auth", "gridwatch", "consumer-pw")
    assert counts == {"devices": 2, "gateways": 0}
    broker = LocalMosquitto(tmp_path / "broker")
    broker.password_file, broker.acl_file = tmp_path / "auth/passwd", tmp_path / "auth/acl"
    broker.start()
    try:
        received: list[str] = []
        consumer, codes = client(broker.port, "gridwatch", "consumer-pw")
        assert codes and not codes[0].is_failure
        consumer.on_message = lambda _c, _u, m: received.append(m.topic)
        consumer.subscribe("gw/v1/#", qos=1)
        time.sleep(0.5)
        device, codes = client(broker.port, a, f"pw-{a}")
        assert codes and not codes[0].is_failure
        own = device_topic(comm, a_type, a, "telemetry")
        other = device_topic(comm, b_type, b, "telemetry")
        device.publish(own, b'{"ts":"2026-11-23T10:00:00Z","seq":1,"values":{}}', qos=1)
        refused = device.publish(other, b'{"ts":"2026-11-23T10:00:00Z","seq":1,"values":{}}',
                                 qos=1)  # fmt: skip
        refused.wait_for_publish(5)
        time.sleep(1.0)
        assert received == [own]  # the forged message never reached GridWatch
        device.loop_stop()
        device.disconnect()
        _, codes = client(broker.port, a, "wrong")
        assert codes and codes[0].is_failure  # bad password: refused at connect
        consumer.loop_stop()
        consumer.disconnect()
    finally:
        broker.stop()


def test_credentials_are_never_written_in_clear(conn: Conn, tmp_path: Path) -> None:
    write_city(conn, generate(0.0002, seed=4), progress=lambda _: None)
    conn.execute("UPDATE device SET credential_hash = %s WHERE device_key = 1",
                 (password_hash("plain-secret"),))  # fmt: skip
    write_files(conn, tmp_path, "gridwatch", "consumer-secret")
    text = (tmp_path / "passwd").read_text()
    assert "plain-secret" not in text and "consumer-secret" not in text
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in text.splitlines())
    assert (tmp_path / "passwd").stat().st_mode & 0o077 == 0


def test_retired_devices_lose_their_credentials(conn: Conn, tmp_path: Path) -> None:
    write_city(conn, generate(0.0002, seed=4), progress=lambda _: None)
    conn.execute("UPDATE device SET credential_hash = %s, retired_at = now() WHERE device_key = 1",
                 (password_hash("x"),))  # fmt: skip
    assert write_files(conn, tmp_path, "gridwatch", "c") == {"devices": 0, "gateways": 0}

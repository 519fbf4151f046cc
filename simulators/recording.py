"""Record broker traffic to a JSON-lines file and replay it with its original timing."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridwatch.contract import TOPIC_PREFIX
from gridwatch.settings import MqttEndpoint
from simulators.run import Sink


def record(
    endpoint: MqttEndpoint, out: Path, stop: threading.Event, topic: str = f"{TOPIC_PREFIX}/#"
) -> int:
    """Write every message as `{"t": seconds since start, "topic", "payload_b64"}` per line."""
    count = 0
    t0 = time.monotonic()
    lock = threading.Lock()
    with out.open("wb") as fh:

        def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            nonlocal count
            line = {"t": round(time.monotonic() - t0, 6), "topic": msg.topic,
                    "payload_b64": base64.b64encode(msg.payload).decode()}  # fmt: skip
            with lock:
                fh.write(orjson.dumps(line) + b"\n")
                count += 1

        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        if endpoint.username is not None:
            client.username_pw_set(endpoint.username, endpoint.password)
        client.on_message = on_message
        client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        client.connect(endpoint.host, endpoint.port)
        client.loop_start()
        stop.wait()
        client.disconnect()
        client.loop_stop()
    return count


def read_recording(path: Path) -> Iterator[tuple[float, str, bytes]]:
    with path.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            try:
                row = orjson.loads(line)
                yield float(row["t"]), str(row["topic"]), base64.b64decode(row["payload_b64"])
            except (orjson.JSONDecodeError, KeyError, ValueError) as exc:
                raise ValueError(f"{path}:{n}: not a recording line ({exc})") from None


def replay(path: Path, sink: Sink, speed: float, stop: Callable[[], bool] = lambda: False) -> int:
    """Publish a recording again; speed 1 keeps the original gaps, 0 is as fast as possible."""
    wall0 = time.monotonic()
    sent = 0
    for t, topic, payload in read_recording(path):
        if stop():
            break
        if speed > 0:
            delay = wall0 + t / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sink.publish(topic, payload)
        sent += 1
    return sent

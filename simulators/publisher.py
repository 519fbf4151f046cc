"""A QoS 1 publisher on paho: the simulators' (and benchmarks') side of the broker."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridwatch.settings import MqttEndpoint


class Publisher:
    """Publishes with QoS 1 and waits for every PUBACK in `flush()`.

    paho keeps unacknowledged messages and resends them after a reconnect, so a broker
    restart loses nothing that `publish` was given. `publish` blocks while `max_inflight`
    messages await their PUBACK: paho rescans its whole outgoing queue on every
    acknowledgement, so letting that queue grow makes publishing quadratically slow.
    """

    def __init__(self, endpoint: MqttEndpoint, client_id: str, max_inflight: int = 1000) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        if endpoint.username is not None:
            self.client.username_pw_set(endpoint.username, endpoint.password)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        self._connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self._connected.clear()
        self._window = threading.BoundedSemaphore(max_inflight)
        self._max_inflight = max_inflight
        self.client.on_publish = lambda *_: self._window.release()
        self.sent = 0
        self.client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(15):
            self.close()
            raise ConnectionError(f"no broker answered at {endpoint.host}:{endpoint.port}")

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: object,
                    props: object = None) -> None:  # fmt: skip
        self._connected.set()

    def publish(self, topic: str, payload: bytes) -> None:
        self._window.acquire()
        self.client.publish(topic, payload, qos=1)
        self.sent += 1

    def flush(self, timeout_s: float = 300.0) -> None:
        """Block until the broker has acknowledged everything published so far."""
        deadline = time.monotonic() + timeout_s
        taken = 0
        try:
            while taken < self._max_inflight:
                if not self._window.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("the broker did not acknowledge every message in time")
                taken += 1
        finally:
            for _ in range(taken):
                self._window.release()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publish_loop(endpoint: MqttEndpoint, client_id: str, work: mp.Queue[Any],
                  done: mp.Queue[str]) -> None:  # fmt: skip
    try:
        pub = Publisher(endpoint, client_id)
    except ConnectionError as exc:
        done.put(str(exc))
        return
    done.put("ready")
    while (item := work.get()) is not None:
        if item == "flush":
            pub.flush()
            done.put("flushed")
            continue
        for topic, payload in item:
            pub.publish(topic, payload)
    pub.flush()
    pub.close()
    done.put("closed")


class PublisherProcess:
    """A `Publisher` in a process of its own, fed in chunks: generating the city's traffic and
    publishing it each get a core (one process did 0.81 of real time for the full city)."""

    def __init__(self, endpoint: MqttEndpoint, client_id: str, chunk: int = 2000) -> None:
        ctx = mp.get_context("spawn")
        self._work: mp.Queue[Any] = ctx.Queue(maxsize=64)  # bounded: generation waits
        self._done: mp.Queue[str] = ctx.Queue()
        self._proc = ctx.Process(target=_publish_loop, name="publisher", daemon=True,
                                 args=(endpoint, client_id, self._work, self._done))  # fmt: skip
        self._proc.start()
        self._chunk = chunk
        self._buf: list[tuple[str, bytes]] = []
        self.sent = 0
        reply = self._done.get(timeout=60)
        if reply != "ready":
            self._proc.join(timeout=5)
            raise ConnectionError(reply)

    def publish(self, topic: str, payload: bytes) -> None:
        self._buf.append((topic, payload))
        if len(self._buf) >= self._chunk:
            self._send()

    def push(self) -> None:
        """Hand over what is buffered now (the end of a batch: no message waits for more)."""
        self._send()

    def _send(self) -> None:
        if self._buf:
            self._work.put(self._buf)
            self.sent += len(self._buf)
            self._buf = []

    def flush(self, timeout_s: float = 300.0) -> None:
        """Block until the broker has acknowledged everything published so far."""
        self._send()
        self._work.put("flush")
        if self._done.get(timeout=timeout_s) != "flushed":
            raise RuntimeError("the publisher process stopped")

    def close(self) -> None:
        self._send()
        self._work.put(None)
        self._proc.join(timeout=60)

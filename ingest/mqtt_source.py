"""The paho edge: subscribe with QoS 1 on a persistent session; acknowledge after commit.

The paho callback does no I/O: it freezes the message into a `Received` and puts it on a
bounded queue. When the queue is full the callback waits — paho stops reading the socket and
the broker holds the backlog — and the wait is counted. Nothing is dropped here.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gridwatch.contract import subscription
from gridwatch.settings import MqttEndpoint
from ingest.counters import IngestCounters
from ingest.messages import Received


class MqttSource:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        out: queue.Queue[Received],
        counters: IngestCounters,
        group: str | None = None,
        namespace: str = "",
    ) -> None:
        self.out = out
        self.counters = counters
        self.generation = 0
        self.connected = threading.Event()
        # A namespace prefixes every topic (tests share one broker); it is removed on receipt.
        self._namespace = namespace
        self._topic = namespace + subscription()
        if group:
            self._topic = f"$share/{group}/{self._topic}"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=True,
        )
        if endpoint.username is not None:
            self.client.username_pw_set(endpoint.username, endpoint.password)
        self.client.reconnect_delay_set(1, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._endpoint = endpoint
        self._lock = threading.Lock()

    def start(self, wait_s: float = 15.0) -> None:
        self.client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(wait_s):
            raise ConnectionError(
                f"GRIDWATCH_MQTT_URL: no broker answered at {self._endpoint.host}:"
                f"{self._endpoint.port}"
            )

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, batch: list[Received]) -> None:
        """Acknowledge, in arrival order, what came on the current connection.

        Messages from an earlier connection are not acknowledged: the broker redelivers them
        and storage de-duplicates; their message ids may by now name other messages.
        """
        with self._lock:
            gen = self.generation
        for msg in batch:
            if msg.qos > 0 and msg.generation == gen:
                self.client.ack(msg.mid, msg.qos)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: object,
                    props: object = None) -> None:  # fmt: skip
        with self._lock:
            self.generation += 1
        if self.connected.is_set() or self.generation > 1:
            self.counters.reconnects += 1
        client.subscribe(self._topic, qos=1)
        self.connected.set()

    def _on_disconnect(self, *args: object) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic[len(self._namespace) :] if self._namespace else msg.topic
        item = Received(topic, bytes(msg.payload), msg.mid, msg.qos,
                        dt.datetime.now(dt.UTC), self.generation)  # fmt: skip
        self.counters.received += 1
        try:
            self.out.put_nowait(item)
        except queue.Full:
            self.counters.queue_full_waits += 1
            self.out.put(item)

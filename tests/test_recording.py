"""Record broker traffic, then replay it: same messages, same order, original gaps kept."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from gridwatch.settings import Settings
from simulators.publisher import Publisher
from simulators.recording import read_recording, record, replay


class _Collect:
    def __init__(self) -> None:
        self.got: list[tuple[float, str, bytes]] = []

    def publish(self, topic: str, payload: bytes) -> None:
        self.got.append((time.monotonic(), topic, payload))


def test_record_then_replay_keeps_messages_order_and_timing(
    services: Settings, topic_root: str, tmp_path: Path
) -> None:
    out = tmp_path / "traffic.jsonl"
    stop = threading.Event()
    counted: list[int] = []
    recorder = threading.Thread(
        target=lambda: counted.append(record(services.mqtt, out, stop, f"{topic_root}/#"))
    )
    recorder.start()
    time.sleep(0.5)  # subscribed
    sent = [(f"{topic_root}/gw/v1/c/smoke/d{i}/telemetry", f'{{"n": {i}}}'.encode())
            for i in range(6)]  # fmt: skip
    pub = Publisher(services.mqtt, f"pub-{uuid.uuid4().hex[:8]}")
    for i, (topic, payload) in enumerate(sent):
        pub.publish(topic, payload)
        pub.flush()
        if i == 2:
            time.sleep(0.6)  # a gap the replay must keep
    pub.close()
    time.sleep(0.5)
    stop.set()
    recorder.join(timeout=10)
    assert counted == [6]
    assert [(t, p) for _, t, p in read_recording(out)] == sent

    sink = _Collect()
    t0 = time.monotonic()
    assert replay(out, sink, speed=1.0) == 6
    assert [(t, p) for _, t, p in sink.got] == sent
    gap = sink.got[3][0] - sink.got[2][0]
    assert 0.5 <= gap < 1.5 and sink.got[-1][0] - t0 >= 0.5
    fast = _Collect()
    replay(out, fast, speed=0)
    assert [(t, p) for _, t, p in fast.got] == sent and fast.got[3][0] - fast.got[2][0] < 0.3

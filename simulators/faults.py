"""Transport faults on demand: what real gateways and networks do to a clean stream."""

from __future__ import annotations

from collections import Counter

import numpy as np

from simulators.engine import Outgoing
from simulators.scenarios import Faults


class FaultInjector:
    """Applies a scenario's faults to each window's messages; counts what it did.

    Late messages are held back and released once the stream has moved `late_by_s` past them.
    """

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self.rng = np.random.default_rng(seed + 2)
        self.held: list[tuple[float, Outgoing]] = []
        self.counts: Counter[str] = Counter()

    def apply(self, batch: list[Outgoing], now: float) -> list[Outgoing]:
        f = self.faults
        out: list[Outgoing] = []
        for msg in batch:
            r = self.rng.random(6)
            if r[0] < f.malformed:
                self.counts["malformed"] += 1
                out.append(Outgoing(msg.topic, b"{not json" + msg.payload[:20], msg.sim_ts, 0))
                continue
            if r[1] < f.truncated:
                self.counts["truncated"] += 1
                cut = msg.payload[: max(1, len(msg.payload) // 2)]
                out.append(Outgoing(msg.topic, cut, msg.sim_ts, 0))
                continue
            if r[2] < f.unknown_device:
                self.counts["unknown_device"] += 1
                parts = msg.topic.split("/")
                parts[4] = f"ghost-{parts[4]}"
                out.append(Outgoing("/".join(parts), msg.payload, msg.sim_ts, 0))
                continue
            if r[3] < f.late:
                self.counts["late"] += 1
                self.held.append((msg.sim_ts + f.late_by_s, msg))
                continue
            out.append(msg)
            if r[4] < f.duplicate:
                self.counts["duplicate"] += 1
                out.append(Outgoing(msg.topic, msg.payload, msg.sim_ts, 0))
            if r[5] < f.out_of_order and len(out) >= 2:
                self.counts["out_of_order"] += 1
                out[-1], out[-2] = out[-2], out[-1]
        due = [m for t, m in self.held if t <= now]
        self.held = [(t, m) for t, m in self.held if t > now]
        return out + due

    def drain(self) -> list[Outgoing]:
        rest = [m for _, m in self.held]
        self.held = []
        return rest

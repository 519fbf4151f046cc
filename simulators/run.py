"""Drive a simulation against the wall clock (or as fast as possible) into a publisher."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from simulators.engine import Outgoing, Simulation
from simulators.faults import FaultInjector


class Sink(Protocol):
    def publish(self, topic: str, payload: bytes) -> None: ...


@dataclass
class RunStats:
    messages: int = 0
    records: int = 0
    wall_s: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.wall_s if self.wall_s else 0.0


def start_for(now: float, duration_s: float, speed: float) -> float:
    """Simulated start so that no timestamp is ever ahead of the wall clock.

    At speed 1 the run starts now; faster runs start in the past by as much as they compress.
    """
    if speed <= 0:
        return now - duration_s
    return now - duration_s * (1.0 - 1.0 / max(speed, 1.0))


def run(
    sim: Simulation,
    sink: Sink,
    duration_s: float,
    speed: float,
    faults: FaultInjector | None = None,
    tick_s: float = 0.25,
    fast_window_s: float = 10.0,
    progress: Callable[[RunStats], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
    since: float | None = None,
) -> RunStats:
    """Publish `duration_s` of simulated time from `since` (default: the simulation's start);
    `speed` 0 means as fast as possible."""
    stats = RunStats()
    begin = sim.start if since is None else since
    end = begin + duration_s
    t_prev = begin
    wall0 = time.monotonic()
    last_report = wall0
    while t_prev < end and not stop():
        if speed > 0:
            target = begin + (time.monotonic() - wall0) * speed
            t1 = min(max(target, t_prev), end)
            if t1 - t_prev < tick_s * speed and t1 < end:
                time.sleep(tick_s / 4)
                continue
        else:
            t1 = min(t_prev + fast_window_s, end)
        batch = sim.step(t_prev, t1)
        if faults is not None:
            batch = faults.apply(batch, t1)
        _send(sink, batch, stats)
        t_prev = t1
        if progress is not None and time.monotonic() - last_report >= 5.0:
            last_report = time.monotonic()
            stats.wall_s = last_report - wall0
            progress(stats)
    _send(sink, sim.finish(), stats)
    if faults is not None:
        _send(sink, faults.drain(), stats)
        stats.faults = dict(faults.counts)
    stats.wall_s = time.monotonic() - wall0
    return stats


def _send(sink: Sink, batch: list[Outgoing], stats: RunStats) -> None:
    for msg in batch:
        sink.publish(msg.topic, msg.payload)
    push = getattr(sink, "push", None)  # a buffering sink hands the batch over now
    if push is not None:
        push()
    stats.messages += len(batch)
    stats.records += sum(m.records for m in batch)

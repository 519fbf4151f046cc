"""Frozen values that cross the ingest stages: paho and psycopg objects stay at the edges."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Received:
    """One MQTT message as taken off the wire; `generation` names the connection it came on."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: dt.datetime
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Rejection:
    topic: str
    payload: bytes
    reason: str
    received_at: dt.datetime
    community: str | None = None
    device_id: str | None = None

    @property
    def kind(self) -> str:
        """The reason's stable head, for counters: 'unknown device', 'value out of range'…"""
        reason = self.reason
        if reason.startswith("record "):
            reason = reason.split(": ", 1)[-1]
        return reason.split(":", 1)[0]


@dataclass(slots=True)
class Decoded:
    """Rows for one batch, ready for COPY."""

    readings: list[tuple[dt.datetime, int, int, int, float]] = field(default_factory=list)
    events: list[tuple[dt.datetime, int, int, str, str | None, str, bytes]] = field(
        default_factory=list
    )
    statuses: list[tuple[int, bool, dt.datetime, str | None]] = field(default_factory=list)
    gateway_statuses: list[tuple[str, bool, dt.datetime, str | None]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    records: int = 0

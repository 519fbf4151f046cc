"""The MQTT contract (docs/mqtt.md) as code: topics and payload models.

Simulators build payloads with these models and ingest validates with them, so the two can
never disagree about the contract.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

TOPIC_PREFIX = "gw/v1"
DeviceChannel = Literal["telemetry", "event", "status"]
CHANNELS: tuple[str, ...] = ("telemetry", "event", "status")
GATEWAY = "gateway"

Seq = Annotated[int, Field(ge=0, lt=2**63)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


@dataclass(frozen=True, slots=True)
class Topic:
    """`gw/v1/{community}/{device_type}/{device_id}/{channel}`; for gateways the type is
    `gateway` and the channel `batch` or `status`.

    >>> Topic.parse("gw/v1/330203001001/smoke/smoke-330203001001-00001/telemetry")
    Topic(community='330203001001', device_type='smoke', device_id='smoke-330203001001-00001', channel='telemetry')
    >>> Topic.parse("gw/v1/x/smoke")
    Traceback (most recent call last):
    ...
    ValueError: topic must be gw/v1/{community}/{device_type}/{device_id}/{channel}
    """  # noqa: E501

    community: str
    device_type: str
    device_id: str
    channel: str

    @classmethod
    def parse(cls, topic: str) -> Topic:
        parts = topic.split("/")
        if len(parts) != 6 or f"{parts[0]}/{parts[1]}" != TOPIC_PREFIX or not all(parts[2:]):
            raise ValueError("topic must be gw/v1/{community}/{device_type}/{device_id}/{channel}")
        return cls(parts[2], parts[3], parts[4], parts[5])

    def __str__(self) -> str:
        return f"{TOPIC_PREFIX}/{self.community}/{self.device_type}/{self.device_id}/{self.channel}"

    @property
    def is_gateway(self) -> bool:
        return self.device_type == GATEWAY


def device_topic(community: str, device_type: str, device_id: str, channel: str) -> str:
    return f"{TOPIC_PREFIX}/{community}/{device_type}/{device_id}/{channel}"


def gateway_topic(community: str, gateway_id: str, channel: str = "batch") -> str:
    return f"{TOPIC_PREFIX}/{community}/{GATEWAY}/{gateway_id}/{channel}"


def subscription(root: str = TOPIC_PREFIX) -> str:
    """Every device and gateway topic below `root` (a community prefix shards the load)."""
    return f"{root}/+/+/+/+"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Telemetry(_Payload):
    """One device report: `{"ts": …, "seq": 17, "metrics": {"smoke": 0.8, "battery": 97}}`."""

    ts: dt.datetime
    seq: Seq
    metrics: dict[Name, float] = Field(min_length=1, max_length=64)


class Event(_Payload):
    """A device-reported event: a code from its standard, raised or cleared."""

    ts: dt.datetime
    seq: Seq
    code: Annotated[str, Field(min_length=1, max_length=32)]
    standard: Annotated[str, Field(max_length=32)] | None = None
    state: Literal["raised", "cleared"] = "raised"
    detail: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class Status(_Payload):
    """Online state; devices set `{"online": false, "reason": "lwt"}` as their last-will."""

    online: bool
    ts: dt.datetime | None = None
    seq: Seq | None = None
    reason: Annotated[str, Field(max_length=64)] | None = None


class BatchRecord(_Payload):
    """One device's record inside a gateway batch; its channel says which model it is."""

    device: Name
    type: Name
    channel: DeviceChannel
    ts: dt.datetime | None = None
    seq: Seq | None = None
    metrics: dict[Name, float] | None = None
    code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    standard: Annotated[str, Field(max_length=32)] | None = None
    state: Literal["raised", "cleared"] | None = None
    online: bool | None = None
    reason: Annotated[str, Field(max_length=64)] | None = None


class GatewayBatch(_Payload):
    """Many devices' records from one gateway on `gw/v1/{community}/gateway/{id}/batch`."""

    gateway: Name
    ts: dt.datetime
    records: list[BatchRecord] = Field(min_length=1, max_length=10_000)

"""Decode and validate messages against the contract and the registry — in one place.

Every message either becomes rows or a `Rejection` with a precise reason; nothing is
dropped. Records inside a gateway batch are judged one by one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from pydantic import ValidationError

from gridwatch.catalogue import DEVICE_TYPES
from gridwatch.contract import BatchRecord, Event, GatewayBatch, Status, Telemetry, Topic
from ingest.messages import Decoded, Received, Rejection
from ingest.registry import DeviceRef, Registry

_TELEMETRY_KEYS = {"ts", "seq", "metrics"}
_RECORD_KEYS = {"device", "type", "channel", *_TELEMETRY_KEYS}


class Invalid(Exception):
    """A reason to reject, phrased for the dead-letter table."""


def _why(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "payload"
    return f"invalid payload: {where}: {err['msg']}"


class Decoder:
    def __init__(
        self, registry: Registry, max_skew_s: float = 300.0, max_age_days: float = 30.0
    ) -> None:
        self.registry = registry
        self.max_skew = dt.timedelta(seconds=max_skew_s)
        self.max_age = dt.timedelta(days=max_age_days)
        self._metric_ids = {
            (t.name, m.name): (m.metric_id, m.low, m.high)
            for t in DEVICE_TYPES.values()
            for m in t.metrics
        }

    def decode(self, messages: list[Received]) -> Decoded:
        out = Decoded()
        for msg in messages:
            try:
                self._one(msg, out)
            except Invalid as exc:
                out.rejections.append(self._reject(msg, str(exc)))
        return out

    def _reject(self, msg: Received, reason: str, device: str | None = None) -> Rejection:
        parts = msg.topic.split("/")
        community = parts[2] if len(parts) > 2 else None
        device = device or (parts[4] if len(parts) > 4 else None)
        return Rejection(msg.topic, msg.payload, reason, msg.received_at, community, device)

    def _one(self, msg: Received, out: Decoded) -> None:
        try:
            topic = Topic.parse(msg.topic)
        except ValueError as exc:
            raise Invalid(f"bad topic: {exc}") from None
        try:
            body = orjson.loads(msg.payload)
        except orjson.JSONDecodeError as exc:
            raise Invalid(f"malformed json: {exc}") from None
        if not isinstance(body, dict):
            raise Invalid("invalid payload: expected a JSON object")
        if topic.is_gateway:
            self._gateway(msg, topic, body, out)
            return
        if (
            topic.channel == "telemetry"
            and body.keys() == _TELEMETRY_KEYS
            and self._fast_telemetry(
                body, topic.device_id, topic.device_type, topic.community, msg.received_at, out
            )
        ):
            return
        ref = self._device(topic.device_id, topic.device_type, topic.community)
        self._record(ref, topic.channel, body, msg.received_at, out)

    def _device(self, device_id: str, device_type: str, community: str) -> DeviceRef:
        ref = self.registry.device(device_id)
        if ref is None:
            raise Invalid(f"unknown device: {device_id!r} is not registered")
        if ref.device_type != device_type:
            raise Invalid(f"type mismatch: topic says {device_type}, registry {ref.device_type}")
        if ref.community != community:
            raise Invalid(f"community mismatch: topic {community}, registry {ref.community}")
        return ref

    def _record(
        self, ref: DeviceRef, channel: str, body: dict[str, Any], now: dt.datetime, out: Decoded
    ) -> None:
        try:
            if channel == "telemetry":
                self._telemetry(ref, Telemetry.model_validate(body), now, out)
            elif channel == "event":
                ev = Event.model_validate(body)
                ts = self._check_ts(ev.ts, now)
                detail = orjson.dumps(ev.detail)
                out.events.append((ts, ref.key, ev.seq, ev.code, ev.standard, ev.state, detail))
            elif channel == "status":
                st = Status.model_validate(body)
                # A last-will is written at connect time: its own ts says nothing of now.
                when = now if st.ts is None or st.reason == "lwt" else self._check_ts(st.ts, now)
                out.statuses.append((ref.key, st.online, when, st.reason))
            else:
                raise Invalid(f"bad topic: unknown channel {channel!r}")
        except ValidationError as exc:
            raise Invalid(_why(exc)) from None
        out.records += 1

    def _telemetry(self, ref: DeviceRef, t: Telemetry, now: dt.datetime, out: Decoded) -> None:
        ts = self._check_ts(t.ts, now)
        rows = []
        for name, value in t.metrics.items():
            spec = self._metric_ids.get((ref.device_type, name))
            if spec is None:
                raise Invalid(f"unknown metric: {name!r} is not a {ref.device_type} metric")
            metric_id, low, high = spec
            if not low <= value <= high:  # also refuses NaN
                raise Invalid(f"value out of range: {name}={value} not in [{low:g}, {high:g}]")
            rows.append((ts, ref.key, metric_id, t.seq, value))
        out.readings += rows

    def _check_ts(self, ts: dt.datetime, now: dt.datetime) -> dt.datetime:
        if ts.tzinfo is None:
            raise Invalid("bad timestamp: no time zone (use e.g. 2026-11-23T01:02:03Z)")
        if ts - now > self.max_skew:
            raise Invalid(f"bad timestamp: in the future by {(ts - now).total_seconds():.0f}s")
        if now - ts > self.max_age:
            raise Invalid(f"bad timestamp: older than {self.max_age.days} days")
        return ts

    def _gateway(self, msg: Received, topic: Topic, body: dict[str, Any], out: Decoded) -> None:
        community = self.registry.gateway_community(topic.device_id)
        if community is None:
            raise Invalid(f"unknown gateway: {topic.device_id!r} is not registered")
        if community != topic.community:
            raise Invalid(f"community mismatch: topic {topic.community}, registry {community}")
        if topic.channel == "status":
            try:
                st = Status.model_validate(body)
            except ValidationError as exc:
                raise Invalid(_why(exc)) from None
            out.gateway_statuses.append((topic.device_id, st.online, msg.received_at, st.reason))
            out.records += 1
            return
        if topic.channel != "batch":
            raise Invalid(f"bad topic: gateways publish on batch or status, not {topic.channel}")
        records = body.get("records")
        try:
            GatewayBatch.model_validate({**body, "records": [{"device": "x", "type": "x",
                                                              "channel": "status"}]})  # fmt: skip
        except ValidationError as exc:
            raise Invalid(_why(exc)) from None
        if not isinstance(records, list) or not records:
            raise Invalid("invalid payload: records: must be a non-empty list")
        for i, raw in enumerate(records):
            if (
                isinstance(raw, dict)
                and raw.keys() == _RECORD_KEYS
                and raw["channel"] == "telemetry"
                and self._fast_telemetry(
                    raw, raw["device"], raw["type"], topic.community, msg.received_at, out
                )
            ):
                continue
            try:
                rec = BatchRecord.model_validate(raw)
                ref = self._device(rec.device, rec.type, topic.community)
                fields = rec.model_dump(exclude_none=True, exclude={"device", "type", "channel"})
                self._record(ref, rec.channel, fields, msg.received_at, out)
            except ValidationError as exc:
                out.rejections.append(self._reject(msg, f"record {i}: {_why(exc)}"))
            except Invalid as exc:
                device = raw.get("device") if isinstance(raw, dict) else None
                out.rejections.append(self._reject(msg, f"record {i}: {exc}", str(device)))

    def _fast_telemetry(self, body: dict[str, Any], device_id: object, device_type: object,
                        community: str, now: dt.datetime, out: Decoded) -> bool:  # fmt: skip
        """The common case — a well-formed telemetry record — without pydantic (4x faster).

        Anything unusual returns False, and the record takes the validating path, which
        accepts or rejects it with the precise reason; so this path never decides a rejection.
        """
        ts_s, seq, metrics = body["ts"], body["seq"], body["metrics"]
        if type(ts_s) is not str or type(seq) is not int or type(metrics) is not dict:
            return False
        if type(device_id) is not str:
            return False
        ref = self.registry.device(device_id)
        if ref is None or ref.device_type != device_type or ref.community != community:
            return False
        if not 0 <= seq < 2**63 or not 0 < len(metrics) <= 64:
            return False
        try:
            ts = dt.datetime.fromisoformat(ts_s)
        except ValueError:
            return False
        if ts.tzinfo is None or ts - now > self.max_skew or now - ts > self.max_age:
            return False
        rows = []
        for name, value in metrics.items():
            spec = self._metric_ids.get((ref.device_type, name))
            if spec is None or type(value) not in (float, int):
                return False
            metric_id, low, high = spec
            if not low <= value <= high:
                return False
            rows.append((ts, ref.key, metric_id, seq, float(value)))
        out.readings += rows
        out.records += 1
        return True

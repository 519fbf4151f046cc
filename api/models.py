"""The API's JSON shapes (pydantic at the edge); rows become these in one place each."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Self

from pydantic import BaseModel, Field

from gridwatch.incidents import LEVELS

Severity = Literal["informational", "low", "medium", "high", "critical"]
Status = Literal["open", "acknowledged", "resolved"]

ALERT_COLUMNS = (
    "a.alert_id, a.grid_code, a.microgrid_code, a.community_code, a.cause, a.severity,"
    " a.status, a.title, a.opened_at, a.updated_at, a.acknowledged_at, a.resolved_at,"
    " a.escalation, a.assignee, a.signals, cardinality(a.devices), a.reopened"
)


class RowModel(BaseModel):
    """A model whose fields are declared in the order of its query's columns."""

    @classmethod
    def of_row(cls, row: tuple[Any, ...]) -> Self:
        return cls(**dict(zip(cls.model_fields, row, strict=False)))


class Alert(BaseModel):
    id: int
    grid_code: str
    microgrid_code: str | None
    community_code: str | None
    cause: str
    severity: Severity
    status: Status
    title: str
    opened_at: dt.datetime
    updated_at: dt.datetime
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    escalation_level: int = Field(description="0 grid worker, 1 community manager, 2 leaders")
    escalated_to: str
    assignee: str | None
    signals: int
    devices: int
    reopened: int

    @classmethod
    def of(cls, r: tuple[Any, ...]) -> Alert:
        """From ALERT_COLUMNS, in order (`escalated_to` is derived)."""
        values = dict(zip([n for n in cls.model_fields if n != "escalated_to"], r, strict=True))
        return cls(**values, escalated_to=LEVELS[values["escalation_level"]])


class AlertPage(BaseModel):
    items: list[Alert]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class Transition(RowModel):
    id: int = Field(description="also the live feed's event id")
    at: dt.datetime
    kind: str
    from_status: str | None
    to_status: str
    actor: str
    note: str | None
    severity: str | None
    escalation: int | None


class AffectedDevice(RowModel):
    device_id: str
    device_type: str
    microgrid_code: str | None
    gateway_id: str | None
    online: bool | None
    last_seen: dt.datetime | None


class AlertDetail(Alert):
    evidence: list[dict[str, Any]]
    affected_devices: list[AffectedDevice]
    history: list[Transition]


class Note(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class CommentIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=200)

"""/api/v1/alerts: incidents in the caller's territory — list, one with evidence and history,
people's actions, and the FIWARE export. (The live feed is api/feed.py.)

An incident outside the caller's scope answers 404, as one that does not exist: its
existence must not leak.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from api.deps import Db, Responder, Viewer, like_prefix, scope_path
from api.fiware import to_fiware
from api.keys import Principal
from api.models import (
    ALERT_COLUMNS,
    AffectedDevice,
    Alert,
    AlertDetail,
    AlertPage,
    AssignIn,
    CommentIn,
    Note,
    Severity,
    Status,
    Transition,
)
from gridwatch.catalogue import METRICS_BY_ID
from gridwatch.db import Conn
from gridwatch.incidents import IncidentError, assign, change_status, comment

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


def encode_cursor(opened_at: dt.datetime, alert_id: int) -> str:
    return base64.urlsafe_b64encode(f"{opened_at.isoformat()}|{alert_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        at, _, alert_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return dt.datetime.fromisoformat(at), int(alert_id)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(422, "cursor: not one this API gave out") from None


class Filters:
    """The list's and the feed's filters, as SQL on `alert a`."""

    def __init__(
        self,
        territory: str | None = None,
        severity: list[Severity] | None = None,
        status: list[Status] | None = None,
        cause: list[str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> None:
        self.territory, self.severity, self.status, self.cause = territory, severity, status, cause
        self.since, self.until = since, until

    def where(self, conn: Conn, who: Principal) -> tuple[list[str], list[Any]]:
        path = scope_path(conn, who, self.territory)
        clauses: list[str] = ["a.territory_path LIKE %s"]
        params: list[Any] = [like_prefix(path)]
        for column, values in (
            ("severity", self.severity),
            ("status", self.status),
            ("cause", self.cause),
        ):
            if values:
                clauses.append(f"a.{column} = ANY(%s)")
                params.append(list(values))
        if self.since is not None:
            clauses.append("a.opened_at >= %s")
            params.append(self.since)
        if self.until is not None:
            clauses.append("a.opened_at < %s")
            params.append(self.until)
        return clauses, params


def filters(
    territory: Annotated[str | None, Query(description="territory code: its subtree")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    status: Annotated[list[Status] | None, Query()] = None,
    cause: Annotated[list[str] | None, Query(description="e.g. fire, gas_leak")] = None,
    since: Annotated[dt.datetime | None, Query(description="opened at or after")] = None,
    until: Annotated[dt.datetime | None, Query(description="opened before")] = None,
) -> Filters:
    return Filters(territory, severity, status, cause, since, until)


FiltersQ = Annotated[Filters, Depends(filters)]


@router.get("", response_model=AlertPage, summary="List incidents, newest first")
def list_alerts(
    db: Db,
    who: Viewer,
    f: FiltersQ,
    cursor: Annotated[str | None, Query(description="from the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AlertPage:
    clauses, params = f.where(db, who)
    if cursor is not None:
        at, alert_id = decode_cursor(cursor)
        clauses.append("(a.opened_at, a.alert_id) < (%s, %s)")
        params += [at, alert_id]
    rows = db.execute(
        f"SELECT {ALERT_COLUMNS} FROM alert a WHERE {' AND '.join(clauses)}"
        " ORDER BY a.opened_at DESC, a.alert_id DESC LIMIT %s",
        [*params, limit + 1],
    ).fetchall()
    items = [Alert.of(r) for r in rows[:limit]]
    more = len(rows) > limit
    return AlertPage(
        items=items, next_cursor=encode_cursor(items[-1].opened_at, items[-1].id) if more else None
    )


@router.get("/export/fiware", summary="Incidents as FIWARE Smart Data Models `Alert` entities")
def export_fiware(
    db: Db,
    who: Viewer,
    f: FiltersQ,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    clauses, params = f.where(db, who)
    rows = db.execute(
        f"SELECT {ALERT_COLUMNS}, (SELECT avg(d.lat) FROM device d WHERE d.device_key ="
        " ANY(a.devices)), (SELECT avg(d.lon) FROM device d WHERE d.device_key = ANY(a.devices))"
        f" FROM alert a WHERE {' AND '.join(clauses)}"
        " ORDER BY a.opened_at DESC, a.alert_id DESC LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [to_fiware(Alert.of(r[:17]), r[17], r[18]) for r in rows]


def _visible(db: Conn, who: Principal, alert_id: int) -> tuple[Any, ...]:
    row = db.execute(
        f"SELECT {ALERT_COLUMNS}, a.territory_path, a.evidence, a.devices FROM alert a"
        " WHERE a.alert_id = %s",
        (alert_id,),
    ).fetchone()
    if row is None or not who.covers(row[17]):
        raise HTTPException(404, f"no incident {alert_id}")
    return tuple(row)


def detail(db: Conn, who: Principal, alert_id: int) -> AlertDetail:
    row = _visible(db, who, alert_id)
    devices = db.execute(
        "SELECT d.device_id, d.device_type, d.microgrid_code, d.gateway_id, s.online,"
        " s.last_seen, d.device_key FROM device d LEFT JOIN device_status s USING (device_key)"
        " WHERE d.device_key = ANY(%s) ORDER BY d.device_id",
        (row[19],),
    ).fetchall()
    history = db.execute(
        "SELECT transition_id, at, kind, from_status, to_status, actor, note, severity,"
        " escalation FROM alert_transition WHERE alert_id = %s ORDER BY transition_id",
        (alert_id,),
    ).fetchall()
    ids = {d[6]: d[0] for d in devices}
    evidence = [
        {
            **e,
            "device_id": ids.get(e.get("device_key")),
            "metric": METRICS_BY_ID[e["metric_id"]].name if e.get("metric_id") else None,
        }
        for e in row[18]
    ]
    return AlertDetail(
        **Alert.of(row[:17]).model_dump(),
        evidence=evidence,
        affected_devices=[AffectedDevice.of_row(d[:6]) for d in devices],
        history=[Transition.of_row(h) for h in history],
    )


@router.get(
    "/{alert_id}",
    response_model=AlertDetail,
    summary="One incident: evidence, affected devices, full history",
)
def get_alert(alert_id: int, db: Db, who: Viewer) -> AlertDetail:
    return detail(db, who, alert_id)


def _act(db: Conn, who: Principal, alert_id: int, action: Any) -> AlertDetail:
    _visible(db, who, alert_id)
    try:
        action()
    except IncidentError as exc:
        raise HTTPException(409, str(exc)) from None
    return detail(db, who, alert_id)


def actor(who: Principal) -> str:
    return f"{who.role}:{who.key_id}"


@router.post("/{alert_id}/acknowledge", response_model=AlertDetail, responses={409: {}})
def acknowledge(alert_id: int, body: Note, db: Db, who: Responder) -> AlertDetail:
    return _act(
        db,
        who,
        alert_id,
        lambda: change_status(db, alert_id, "acknowledged", actor(who), body.note),
    )


@router.post("/{alert_id}/resolve", response_model=AlertDetail, responses={409: {}})
def resolve(alert_id: int, body: Note, db: Db, who: Responder) -> AlertDetail:
    return _act(
        db, who, alert_id, lambda: change_status(db, alert_id, "resolved", actor(who), body.note)
    )


@router.post("/{alert_id}/assign", response_model=AlertDetail, responses={409: {}})
def assign_to(alert_id: int, body: AssignIn, db: Db, who: Responder) -> AlertDetail:
    return _act(db, who, alert_id, lambda: assign(db, alert_id, actor(who), body.assignee))


@router.post("/{alert_id}/comment", response_model=AlertDetail)
def add_comment(alert_id: int, body: CommentIn, db: Db, who: Responder) -> AlertDetail:
    return _act(db, who, alert_id, lambda: comment(db, alert_id, actor(who), body.note))

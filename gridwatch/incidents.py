"""Incidents (grid alerts): the one severity scale, the lifecycle, and people's actions on them.

The correlator opens, updates, escalates and auto-resolves incidents; people acknowledge,
assign, comment and resolve them through these functions (the API and the command call the
same ones). Every change is one `alert_transition` row — the incident's history and the
live feed's event.

>>> rank("high") > rank("medium")
True
>>> raise_by("medium", 1), raise_by("critical", 2)
('high', 'critical')
"""

from __future__ import annotations

import datetime as dt

from gridwatch.db import Conn

SEVERITIES = ("informational", "low", "medium", "high", "critical")
STATUSES = ("open", "acknowledged", "resolved")
# Who hears of an incident at each escalation level.
LEVELS = ("grid worker", "community emergency manager", "emergency leadership group")
# People may move an incident only along these edges (the correlator may also re-open).
ALLOWED = {("open", "acknowledged"), ("open", "resolved"), ("acknowledged", "resolved")}


class IncidentError(ValueError):
    """An action that does not apply: unknown incident, or a transition not allowed."""


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def raise_by(severity: str, steps: int, cap: str = "critical") -> str:
    return SEVERITIES[min(rank(severity) + steps, rank(cap))]


def top(*severities: str) -> str:
    return max(severities, key=rank)


def record(conn: Conn, alert_id: int, at: dt.datetime, kind: str, actor: str, *,
           from_status: str | None = None, to_status: str, note: str | None = None,
           severity: str | None = None, escalation: int | None = None) -> int:  # fmt: skip
    """One history row; its id orders the live feed."""
    row = conn.execute(
        "INSERT INTO alert_transition (alert_id, at, kind, from_status, to_status, actor, note,"
        " severity, escalation) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING transition_id",
        (alert_id, at, kind, from_status, to_status, actor, note, severity, escalation),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _locked_status(conn: Conn, alert_id: int) -> tuple[str, str]:
    row = conn.execute(
        "SELECT status, severity FROM alert WHERE alert_id = %s FOR UPDATE", (alert_id,)
    ).fetchone()
    if row is None:
        raise IncidentError(f"no incident {alert_id}")
    return str(row[0]), str(row[1])


def change_status(conn: Conn, alert_id: int, to_status: str, actor: str,
                  note: str | None = None, at: dt.datetime | None = None) -> None:  # fmt: skip
    """Acknowledge or resolve, as a person; a move the lifecycle forbids is an error."""
    at = at or dt.datetime.now(dt.UTC)
    with conn.transaction():
        status, severity = _locked_status(conn, alert_id)
        if (status, to_status) not in ALLOWED:
            raise IncidentError(f"incident {alert_id} is {status}; it cannot become {to_status}")
        stamp = {"acknowledged": "acknowledged_at", "resolved": "resolved_at"}[to_status]
        conn.execute(
            f"UPDATE alert SET status = %s, {stamp} = %s, updated_at = %s WHERE alert_id = %s",
            (to_status, at, at, alert_id),
        )
        record(conn, alert_id, at, "status", actor, from_status=status, to_status=to_status,
               note=note, severity=severity)  # fmt: skip


def comment(conn: Conn, alert_id: int, actor: str, note: str,
            at: dt.datetime | None = None) -> None:  # fmt: skip
    at = at or dt.datetime.now(dt.UTC)
    with conn.transaction():
        status, _ = _locked_status(conn, alert_id)
        conn.execute("UPDATE alert SET updated_at = %s WHERE alert_id = %s", (at, alert_id))
        record(conn, alert_id, at, "comment", actor, to_status=status, note=note)


def assign(conn: Conn, alert_id: int, actor: str, assignee: str,
           at: dt.datetime | None = None) -> None:  # fmt: skip
    at = at or dt.datetime.now(dt.UTC)
    with conn.transaction():
        status, _ = _locked_status(conn, alert_id)
        if status == "resolved":
            raise IncidentError(f"incident {alert_id} is resolved; re-open it by its condition")
        conn.execute(
            "UPDATE alert SET assignee = %s, updated_at = %s WHERE alert_id = %s",
            (assignee, at, alert_id),
        )
        record(conn, alert_id, at, "assign", actor, to_status=status, note=f"to {assignee}")

"""/api/v1/alerts/stream: the live feed of incident changes, as Server-Sent Events.

Every row of `alert_transition` is one event; its id is the event id. One poller (the hub)
reads new rows for all clients and hands each client what its filters and scope admit, so
200 clients cost one query every `poll_s`. A client that reconnects with `Last-Event-ID`
(the browser's EventSource does this by itself) first gets what it missed, from the
database, then the live rows — nothing lost, nothing twice. A client too slow to keep up is
disconnected rather than let its queue grow; on reconnect it catches up the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from api.deps import Viewer, like_prefix, pool, scope_path
from api.models import ALERT_COLUMNS, Alert, Severity, Status
from gridwatch.db import Conn

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

_ROWS = (
    "SELECT t.transition_id, t.at, t.kind, t.from_status, t.to_status, t.actor, t.note,"
    f" t.severity, t.escalation, {ALERT_COLUMNS}, a.territory_path FROM alert_transition t"
    " JOIN alert a USING (alert_id) WHERE t.transition_id > %s"
)
BACKFILL_MAX = 10_000


@dataclass(eq=False)
class Subscriber:
    path: str
    severity: set[str] | None
    status: set[str] | None
    cause: set[str] | None
    queue: asyncio.Queue[tuple[int, bytes]] = field(default_factory=lambda: asyncio.Queue(5000))
    overflowed: bool = False

    def admits(self, row: tuple[Any, ...]) -> bool:
        return (
            str(row[-1]).startswith(self.path)
            and (self.severity is None or row[14] in self.severity)
            and (self.status is None or row[15] in self.status)
            and (self.cause is None or row[13] in self.cause)
        )


def event(row: tuple[Any, ...]) -> bytes:
    """One SSE message: `id:` the transition id, `data:` the change and the incident now."""
    change = {
        "id": row[0],
        "at": row[1],
        "kind": row[2],
        "from_status": row[3],
        "to_status": row[4],
        "actor": row[5],
        "note": row[6],
        "severity": row[7],
        "escalation": row[8],
    }
    alert = Alert.of(row[9:26]).model_dump(mode="json")
    data = orjson.dumps({"change": change, "alert": alert})
    return b"id: %d\nevent: incident\ndata: %s\n\n" % (row[0], data)


class Hub:
    def __init__(self, db: ConnectionPool[Conn], poll_s: float = 0.2) -> None:
        self.db = db
        self.poll_s = poll_s
        self.subscribers: set[Subscriber] = set()
        self.last_id = 0
        self.events_sent = 0

    def _newest(self) -> int:
        with self.db.connection() as c:
            row = c.execute("SELECT coalesce(max(transition_id), 0) FROM alert_transition")
            found = row.fetchone()
        return int(found[0]) if found else 0

    def _after(
        self, last: int, limit: int = 1000, extra: str = "", params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        with self.db.connection() as c:
            rows = c.execute(
                f"{_ROWS}{extra} ORDER BY t.transition_id LIMIT %s", (last, *params, limit)
            ).fetchall()
        return [tuple(r) for r in rows]

    async def run(self) -> None:
        self.last_id = await run_in_threadpool(self._newest)
        while True:
            await asyncio.sleep(self.poll_s)
            if not self.subscribers:
                self.last_id = await run_in_threadpool(self._newest)
                continue
            with contextlib.suppress(Exception):  # the database away: try again next round
                rows = await run_in_threadpool(self._after, self.last_id)
                for row in rows:
                    self._publish(row)
                if rows:
                    self.last_id = int(rows[-1][0])

    def _publish(self, row: tuple[Any, ...]) -> None:
        message: bytes | None = None
        for sub in list(self.subscribers):
            if sub.overflowed or not sub.admits(row):
                continue
            message = message or event(row)
            try:
                sub.queue.put_nowait((int(row[0]), message))
                self.events_sent += 1
            except asyncio.QueueFull:
                sub.overflowed = True

    async def backfill(self, sub: Subscriber, last_id: int) -> list[tuple[int, bytes]]:
        extra, params = " AND a.territory_path LIKE %s", (like_prefix(sub.path),)
        rows = await run_in_threadpool(self._after, last_id, BACKFILL_MAX, extra, params)
        return [(int(r[0]), event(r)) for r in rows if sub.admits(r)]


@router.get(
    "/stream",
    summary="Live feed of incident changes (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    who: Viewer,
    territory: Annotated[str | None, Query(description="territory code: its subtree")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    status: Annotated[list[Status] | None, Query()] = None,
    cause: Annotated[list[str] | None, Query()] = None,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> StreamingResponse:
    def scope() -> str:
        with pool(request).connection() as c:
            return scope_path(c, who, territory)

    path = await run_in_threadpool(scope)
    hub: Hub = request.app.state.hub
    sub = Subscriber(
        path,
        set(severity) if severity else None,
        set(status) if status else None,
        set(cause) if cause else None,
    )
    hub.subscribers.add(sub)  # before the backfill: nothing falls between the two
    missed = await hub.backfill(sub, last_event_id) if last_event_id is not None else []

    async def body() -> AsyncIterator[bytes]:
        sent = last_event_id or 0
        try:
            yield b"retry: 2000\n\n"
            for eid, message in missed:
                sent = eid
                yield message
            while not sub.overflowed and not await request.is_disconnected():
                try:
                    eid, message = await asyncio.wait_for(sub.queue.get(), timeout=15.0)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if eid > sent:
                    sent = eid
                    yield message
        finally:
            hub.subscribers.discard(sub)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

"""/api/v1/territory: the hierarchy with each node's live status, down to micro-grids.

Status rolls up from the micro-grids: devices online / offline / not yet heard of, and the
open (not resolved) incidents by severity. Counting the whole city's 2.45 million devices
takes seconds, so the counts are cached for `ttl_s` and shared by all callers.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from api.deps import Anyone, Db, like_prefix, scope_path
from gridwatch.db import Conn
from gridwatch.incidents import SEVERITIES

router = APIRouter(prefix="/api/v1", tags=["territory"])


class NodeStatus(BaseModel):
    devices_online: int = 0
    devices_offline: int = 0
    devices_unknown: int = 0
    open_incidents: dict[str, int]


class Node(BaseModel):
    code: str
    level: str
    name: str
    parent_code: str | None
    path: str
    status: NodeStatus
    children: list[Node] = []


class StatusCounts:
    """Device states and open incidents summed for every territory path; refreshed lazily
    (devices are counted at their micro-grid, or their grid when they have none)."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._at = -1e9
        self._lock = threading.Lock()
        self.by_path: dict[str, NodeStatus] = {}

    def get(self, db: Conn, path: str) -> NodeStatus:
        with self._lock:
            if time.monotonic() - self._at > self.ttl_s:
                self.by_path = self._count(db)
                self._at = time.monotonic()
        found = self.by_path.get(path)
        return found or NodeStatus(open_incidents=dict.fromkeys(SEVERITIES, 0))

    @staticmethod
    def _count(db: Conn) -> dict[str, NodeStatus]:
        out: dict[str, NodeStatus] = {}

        def node(leaf: str) -> list[NodeStatus]:
            parts = leaf.split("/")
            chain = []
            for i in range(1, len(parts) + 1):
                path = "/".join(parts[:i])
                if path not in out:
                    out[path] = NodeStatus(open_incidents=dict.fromkeys(SEVERITIES, 0))
                chain.append(out[path])
            return chain

        for path, online, offline, unknown in db.execute(
            "SELECT t.path, count(*) FILTER (WHERE s.online),"
            " count(*) FILTER (WHERE NOT s.online), count(*) FILTER (WHERE s.online IS NULL)"
            " FROM device d JOIN territory t ON t.code = coalesce(d.microgrid_code, d.grid_code)"
            " LEFT JOIN device_status s USING (device_key) WHERE d.retired_at IS NULL"
            " GROUP BY t.path"
        ):
            for st in node(str(path)):
                st.devices_online += int(online)
                st.devices_offline += int(offline)
                st.devices_unknown += int(unknown)
        for path, severity, n in db.execute(
            "SELECT t.path, a.severity, count(*) FROM alert a JOIN territory t"
            " ON t.code = coalesce(a.microgrid_code, a.grid_code) WHERE a.status <> 'resolved'"
            " GROUP BY 1, 2"
        ):
            for st in node(str(path)):
                st.open_incidents[str(severity)] += int(n)
        return out


@router.get("/territory", response_model=Node, summary="A subtree with live status per node")
def territory(
    request: Request,
    db: Db,
    who: Anyone,
    root: Annotated[
        str | None, Query(description="default: the key's territory or the city")
    ] = None,
    depth: Annotated[int, Query(ge=0, le=5, description="levels below the root")] = 1,
) -> Node:
    path = scope_path(db, who, root)
    top = db.execute(
        "SELECT code, level, name, parent_code, path FROM territory WHERE "
        + ("path = %s" if path else "parent_code IS NULL"),
        (path,) if path else (),
    ).fetchone()
    if top is None:
        raise HTTPException(404, "no such territory")
    base = str(top[4]).count("/")
    rows = db.execute(
        "SELECT code, level, name, parent_code, path FROM territory WHERE path LIKE %s AND"
        " length(path) - length(replace(path, '/', '')) BETWEEN %s AND %s ORDER BY path",
        (like_prefix(str(top[4])), base + 1, base + depth),
    ).fetchall()
    counts: StatusCounts = request.app.state.status_counts
    nodes: dict[str, Node] = {}
    for r in [top, *rows]:
        nodes[str(r[0])] = Node(
            code=r[0],
            level=r[1],
            name=r[2],
            parent_code=r[3],
            path=r[4],
            status=counts.get(db, str(r[4])),
        )
    for r in rows:
        parent = nodes.get(str(r[3]))
        if parent is not None:
            parent.children.append(nodes[str(r[0])])
    return nodes[str(top[0])]

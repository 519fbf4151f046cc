"""What every router needs: a pooled connection and the caller's key, checked for role.

Keys come as `X-API-Key`, `Authorization: Bearer …`, or — for the browser's EventSource,
which cannot set headers — the `api_key` query parameter. No key or a wrong one is 401; a
role the route does not admit is 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from api.keys import Principal, authenticate
from gridwatch.db import Conn

_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)
_query = APIKeyQuery(name="api_key", auto_error=False)


def pool(request: Request) -> ConnectionPool[Conn]:
    p: ConnectionPool[Conn] = request.app.state.pool
    return p


def conn(request: Request) -> Iterator[Conn]:
    with pool(request).connection() as c:
        yield c


Db = Annotated[Conn, Depends(conn)]


def caller(
    request: Request,
    header: Annotated[str | None, Depends(_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    query: Annotated[str | None, Depends(_query)],
) -> Principal:
    key = header or (bearer.credentials if bearer else None) or query
    if not key:
        raise HTTPException(
            401, "an API key is required (X-API-Key)", headers={"WWW-Authenticate": "Bearer"}
        )
    with pool(request).connection() as c:
        who = authenticate(c, key)
    if who is None:
        raise HTTPException(
            401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    return who


def allow(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency admitting these roles (admin always)."""

    def check(who: Annotated[Principal, Depends(caller)]) -> Principal:
        if who.role != "admin" and who.role not in roles:
            raise HTTPException(403, f"the {who.role} role may not do this")
        return who

    return check


Viewer = Annotated[Principal, Depends(allow("viewer", "responder"))]
Responder = Annotated[Principal, Depends(allow("responder"))]
Integrator = Annotated[Principal, Depends(allow("integrator"))]
Anyone = Annotated[Principal, Depends(allow("viewer", "responder", "integrator"))]


def scope_path(conn: Conn, who: Principal, territory: str | None) -> str:
    """The path prefix a list is limited to: the caller's scope, or a subtree of it (a
    territory outside the scope is 403; an unknown one 404)."""
    if territory is None:
        return who.path
    row = conn.execute("SELECT path FROM territory WHERE code = %s", (territory,)).fetchone()
    if row is None:
        raise HTTPException(404, f"no territory {territory!r}")
    if not who.covers(str(row[0])):
        raise HTTPException(403, f"territory {territory} is outside this key's scope")
    return str(row[0])


def like_prefix(path: str) -> str:
    """LIKE pattern for a subtree. Paths are digits and '/', and codes have one length per
    level, so a prefix never matches a sibling: nothing to escape, no separator needed."""
    return f"{path}%" if path else "%"

"""/api/v1/devices: the integrators' door — register (one, or in bulk all-or-nothing), update,
retire, MQTT credentials, their devices' dead letters, and readings over time.

Every device is checked against the registry before anything is written: its type is in the
catalogue, its grid belongs to its community and its micro-grid to its grid, its gateway
fronts that community, and the grid lies in the caller's territory. A device outside the
caller's territory answers 404.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field, JsonValue, ValidationError, field_validator

from api.deps import Anyone, Db, Integrator, like_prefix, scope_path
from api.keys import Principal
from api.models import RowModel
from gridwatch.catalogue import DEVICE_TYPES, METRICS_BY_ID
from gridwatch.db import Conn
from gridwatch.mqtt_auth import password_hash
from gridwatch.schema.backend import installed_backend

router = APIRouter(prefix="/api/v1", tags=["devices"])
_ID = r"^[A-Za-z0-9_.\-]{1,64}$"


class DeviceIn(RowModel):
    device_id: str = Field(pattern=_ID)
    device_type: str = Field(json_schema_extra={"enum": list[JsonValue](sorted(DEVICE_TYPES))})
    community_code: str = Field(min_length=1, max_length=32)
    grid_code: str = Field(min_length=1, max_length=32)
    microgrid_code: str | None = Field(default=None, max_length=32)
    gateway_id: str | None = Field(default=None, pattern=_ID)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    report_interval_s: int | None = Field(default=None, gt=0, le=86_400)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("device_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in DEVICE_TYPES:
            raise ValueError(f"one of {', '.join(sorted(DEVICE_TYPES))}")
        return value


class DevicePatch(BaseModel):
    microgrid_code: str | None = Field(default=None, max_length=32)
    gateway_id: str | None = Field(default=None, pattern=_ID)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    report_interval_s: int | None = Field(default=None, gt=0, le=86_400)
    attributes: dict[str, Any] | None = None


class Device(DeviceIn):
    registered_at: dt.datetime
    retired_at: dt.datetime | None
    online: bool | None
    last_seen: dt.datetime | None


class RowError(BaseModel):
    row: int = Field(description="1-based, in the order sent")
    field: str
    error: str


class BulkResult(BaseModel):
    registered: int


class Credentials(BaseModel):
    username: str
    password: str = Field(description="shown once; only its hash is kept")


class DeadLetter(BaseModel):
    id: int
    received_at: dt.datetime
    topic: str
    reason: str
    device_id: str | None
    payload: str = Field(description="the raw bytes, decoded as UTF-8 with replacement")


class Bucket(BaseModel):
    t: dt.datetime
    n: int
    min: float
    max: float
    avg: float


class Readings(BaseModel):
    device_id: str
    metric: str
    unit: str
    bucket: str
    points: list[Bucket]


_DEVICE_SQL = (
    "SELECT d.device_id, d.device_type, d.community_code, d.grid_code, d.microgrid_code,"
    " d.gateway_id, d.lat, d.lon, d.report_interval_s, d.attributes, d.registered_at,"
    " d.retired_at, s.online, s.last_seen, d.device_key, t.path FROM device d"
    " JOIN territory t ON t.code = d.grid_code LEFT JOIN device_status s USING (device_key)"
)


def _device(row: tuple[Any, ...]) -> Device:
    return Device.of_row(row[:14])


def _visible(db: Conn, who: Principal, device_id: str) -> tuple[Any, ...]:
    row = db.execute(f"{_DEVICE_SQL} WHERE d.device_id = %s", (device_id,)).fetchone()
    if row is None or not who.covers(row[15]):
        raise HTTPException(404, f"no device {device_id!r}")
    return tuple(row)


class Checker:
    """Registry facts for validating many devices with a few queries."""

    def __init__(self, db: Conn, who: Principal) -> None:
        self.who = who
        self.territory = {
            str(c): (str(lv), p, str(path))
            for c, lv, p, path in db.execute(
                "SELECT code, level, parent_code, path FROM territory WHERE level IN"
                " ('community', 'grid', 'microgrid') AND path LIKE %s",
                (like_prefix(who.path),),
            )
        }
        self.gateways = {
            str(g): str(c) for g, c in db.execute("SELECT gateway_id, community_code FROM gateway")
        }
        self.db = db

    def errors(self, d: DeviceIn) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        t = self.territory
        grid = t.get(d.grid_code)
        if grid is None or grid[0] != "grid":
            out.append(("grid_code", "not a grid in this key's territory"))
        elif grid[1] != d.community_code:
            out.append(("grid_code", f"grid {d.grid_code} is not in community {d.community_code}"))
        if d.microgrid_code is not None:
            mg = t.get(d.microgrid_code)
            if mg is None or mg[0] != "microgrid" or mg[1] != d.grid_code:
                out.append(("microgrid_code", f"not a micro-grid of grid {d.grid_code}"))
        if d.gateway_id is not None and self.gateways.get(d.gateway_id) != d.community_code:
            out.append(("gateway_id", f"no gateway {d.gateway_id} in community {d.community_code}"))
        return out


def _insert(db: Conn, devices: list[DeviceIn]) -> None:
    with (
        db.cursor() as cur,
        cur.copy(
            "COPY device (device_id, device_type, community_code, grid_code, microgrid_code,"
            " gateway_id, lat, lon, report_interval_s, attributes) FROM STDIN"
        ) as copy,
    ):
        for d in devices:
            interval = d.report_interval_s or DEVICE_TYPES[d.device_type].report_interval_s
            copy.write_row(
                (
                    d.device_id,
                    d.device_type,
                    d.community_code,
                    d.grid_code,
                    d.microgrid_code,
                    d.gateway_id,
                    d.lat,
                    d.lon,
                    interval,
                    orjson.dumps(d.attributes).decode(),
                )
            )


def _register(db: Conn, who: Principal, devices: list[DeviceIn]) -> list[RowError]:
    """All or nothing: every row is checked, the errors of all rows reported together."""
    check = Checker(db, who)
    errors = [
        RowError(row=i, field=f, error=e)
        for i, d in enumerate(devices, start=1)
        for f, e in check.errors(d)
    ]
    ids = [d.device_id for d in devices]
    seen: set[str] = set()
    for i, device_id in enumerate(ids, start=1):
        if device_id in seen:
            errors.append(RowError(row=i, field="device_id", error="repeated in this request"))
        seen.add(device_id)
    taken = {
        str(r[0])
        for r in db.execute("SELECT device_id FROM device WHERE device_id = ANY(%s)", (ids,))
    }
    errors += [
        RowError(row=i, field="device_id", error="already registered")
        for i, d in enumerate(devices, start=1)
        if d.device_id in taken
    ]
    if not errors:
        with db.transaction():
            _insert(db, devices)
    return sorted(errors, key=lambda e: e.row)


@router.post("/devices", status_code=201, response_model=Device, responses={422: {}})
def register_device(body: DeviceIn, db: Db, who: Integrator) -> Device:
    errors = _register(db, who, [body])
    if errors:
        raise HTTPException(422, [e.model_dump() for e in errors])
    return _device(_visible(db, who, body.device_id))


def _parse_bulk(raw: bytes, content_type: str) -> tuple[list[DeviceIn], list[RowError]]:
    rows: list[dict[str, Any]]
    try:
        if content_type.startswith("text/csv"):
            rows = [
                {k: (v if v != "" else None) for k, v in r.items()}
                for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
            ]
            for r in rows:
                if isinstance(r.get("attributes"), str):
                    r["attributes"] = orjson.loads(r["attributes"])
                elif "attributes" in r and r["attributes"] is None:
                    del r["attributes"]
        else:
            parsed = orjson.loads(raw)
            if not isinstance(parsed, list):
                raise HTTPException(422, "the body must be a JSON array of devices, or CSV")
            rows = parsed
    except (orjson.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise HTTPException(422, f"unreadable body: {exc}") from None
    devices, errors = [], []
    for i, r in enumerate(rows, start=1):
        try:
            devices.append(DeviceIn.model_validate(r))
        except ValidationError as exc:
            errors += [
                RowError(row=i, field=".".join(str(p) for p in e["loc"]) or "row", error=e["msg"])
                for e in exc.errors()
            ]
    return devices, errors


@router.post(
    "/devices/bulk",
    response_model=BulkResult,
    responses={422: {}},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/DeviceIn"}}
                },
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
async def register_bulk(request: Request, db: Db, who: Integrator) -> BulkResult:
    """JSON array or CSV (a header row of DeviceIn's fields; `attributes` as JSON). Nothing is
    registered unless every row is valid; the 422 lists every row's errors."""
    if len(raw := await request.body()) > 50_000_000:
        raise HTTPException(413, "at most 50 MB per request")
    devices, errors = _parse_bulk(raw, request.headers.get("content-type", ""))
    if not errors:
        errors = _register(db, who, devices)
    if errors:
        raise HTTPException(422, [e.model_dump() for e in errors])
    return BulkResult(registered=len(devices))


@router.get("/devices/{device_id}", response_model=Device)
def get_device(device_id: str, db: Db, who: Anyone) -> Device:
    return _device(_visible(db, who, device_id))


@router.patch("/devices/{device_id}", response_model=Device, responses={422: {}})
def update_device(device_id: str, body: DevicePatch, db: Db, who: Integrator) -> Device:
    row = _device(_visible(db, who, device_id))
    changes = body.model_dump(exclude_unset=True)
    merged = DeviceIn.model_validate({**row.model_dump(), **changes})
    errors = Checker(db, who).errors(merged)
    if errors:
        raise HTTPException(
            422, [RowError(row=1, field=f, error=e).model_dump() for f, e in errors]
        )
    if changes:
        sets = ", ".join(f"{k} = %s" for k in changes)
        values = [orjson.dumps(v).decode() if k == "attributes" else v for k, v in changes.items()]
        db.execute(f"UPDATE device SET {sets} WHERE device_id = %s", [*values, device_id])
    return _device(_visible(db, who, device_id))


@router.delete("/devices/{device_id}", response_model=Device)
def retire_device(device_id: str, db: Db, who: Integrator) -> Device:
    """Retire: ingest refuses its messages from now on; its history stays."""
    _visible(db, who, device_id)
    db.execute(
        "UPDATE device SET retired_at = coalesce(retired_at, now()),"
        " credential_hash = NULL WHERE device_id = %s",
        (device_id,),
    )
    return _device(_visible(db, who, device_id))


@router.post("/devices/{device_id}/credentials", response_model=Credentials)
def issue_credentials(device_id: str, db: Db, who: Integrator) -> Credentials:
    """A new MQTT password (the old one stops working at the next `gridwatch mqtt sync`)."""
    row = _visible(db, who, device_id)
    if row[11] is not None:
        raise HTTPException(409, f"device {device_id} is retired")
    password = secrets.token_urlsafe(24)
    db.execute(
        "UPDATE device SET credential_hash = %s WHERE device_id = %s",
        (password_hash(password), device_id),
    )
    return Credentials(username=device_id, password=password)


def _dead_letters(db: Conn, where: str, params: list[Any], limit: int) -> list[DeadLetter]:
    rows = db.execute(
        "SELECT dead_letter_id, received_at, topic, reason, device_id, payload FROM dead_letter"
        f" WHERE {where} ORDER BY dead_letter_id DESC LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [
        DeadLetter(
            id=r[0],
            received_at=r[1],
            topic=r[2],
            reason=r[3],
            device_id=r[4],
            payload=bytes(r[5]).decode("utf-8", "replace"),
        )
        for r in rows
    ]


@router.get("/devices/{device_id}/dead-letters", response_model=list[DeadLetter])
def device_dead_letters(
    device_id: str, db: Db, who: Integrator, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetter]:
    _visible(db, who, device_id)
    return _dead_letters(db, "device_id = %s", [device_id], limit)


@router.get("/dead-letters", response_model=list[DeadLetter])
def dead_letters(
    db: Db,
    who: Integrator,
    territory: Annotated[str | None, Query(description="a community or above")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetter]:
    """Rejected messages of the devices, or whole communities, in the caller's territory,
    newest first (a message naming no known device is known by its topic's community)."""
    prefix = like_prefix(scope_path(db, who, territory))
    return _dead_letters(
        db,
        "community_code IN (SELECT code FROM territory WHERE level = 'community' AND path LIKE"
        " %s) OR device_id IN (SELECT d.device_id FROM device d JOIN territory t ON t.code ="
        " d.grid_code WHERE t.path LIKE %s)",
        [prefix, prefix],
        limit,
    )


@router.get("/devices/{device_id}/readings", response_model=Readings, responses={422: {}})
def readings(
    device_id: str,
    db: Db,
    who: Anyone,
    metric: Annotated[str, Query(description="e.g. temperature")],
    since: Annotated[dt.datetime, Query()],
    until: Annotated[dt.datetime | None, Query()] = None,
    bucket: Annotated[Literal["1m", "1h"], Query()] = "1m",
) -> Readings:
    """Min, max, mean and count per bucket: from the continuous aggregate on TimescaleDB,
    from the readings themselves (one device: an index range) on plain PostgreSQL."""
    row = _visible(db, who, device_id)
    m = next(
        (m for m in METRICS_BY_ID.values() if m.device_type == row[1] and m.name == metric), None
    )
    if m is None:
        raise HTTPException(422, f"a {row[1]} has no metric {metric!r}")
    until = until or dt.datetime.now(dt.UTC)
    if until <= since or until - since > dt.timedelta(days=31 if bucket == "1h" else 2):
        raise HTTPException(422, "since must precede until, by at most 2 days (1m) or 31 (1h)")
    width = "1 minute" if bucket == "1m" else "1 hour"
    if installed_backend(db).name == "timescaledb":
        sql = (
            "SELECT time_bucket(%s::interval, bucket) AS t, sum(n), min(min), max(max),"
            " sum(avg * n) / sum(n) FROM reading_1m WHERE device_key = %s AND metric_id = %s"
            " AND bucket >= %s AND bucket < %s GROUP BY 1 ORDER BY 1"
        )
    else:
        sql = (
            "SELECT date_bin(%s::interval, ts, '2000-01-01') AS t, count(*), min(value),"
            " max(value), avg(value) FROM reading WHERE device_key = %s AND metric_id = %s"
            " AND ts >= %s AND ts < %s GROUP BY 1 ORDER BY 1"
        )
    points = db.execute(sql, (width, row[14], m.metric_id, since, until)).fetchall()
    return Readings(
        device_id=device_id,
        metric=metric,
        unit=m.unit,
        bucket=bucket,
        points=[Bucket(t=p[0], n=p[1], min=p[2], max=p[3], avg=p[4]) for p in points],
    )

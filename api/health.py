"""/health (open: for load balancers) and /metrics (Prometheus text; any key)."""

from __future__ import annotations

import socket
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import Anyone, pool
from gridwatch.schema.backend import installed_backend

router = APIRouter(tags=["operations"])


def _broker_up(request: Request) -> bool:
    mqtt = request.app.state.settings.mqtt
    try:
        with socket.create_connection((mqtt.host, mqtt.port), timeout=1.0):
            return True
    except OSError:
        return False


def _lag(request: Request) -> dict[str, int]:
    pipeline = request.app.state.pipeline
    if pipeline is None:
        return {}
    ingest, detectors = pipeline.ingest.stats(), pipeline.detection.stats()
    return {
        "ingest_queue": int(ingest["queue_depth"]),
        "detector_queue": int(detectors["queue_depth"]),
    }


@router.get("/health", summary="Database, broker, storage backend, pipeline lag")
def health(request: Request) -> JSONResponse:
    body: dict[str, Any] = {"database": "down", "broker": "down", "backend": None}
    try:
        with pool(request).connection(timeout=2.0) as c:
            c.execute("SELECT 1")
            backend = installed_backend(c)
            body.update(database="up", backend=f"{backend.name} {backend.version}")
            row = c.execute(
                "SELECT (SELECT coalesce(max(signal_id), 0) FROM device_signal)"
                " - coalesce((SELECT max(signal_id) FROM correlator_cursor), 0)"
            ).fetchone()
            body["lag"] = {**_lag(request), "correlator_signals": int(row[0]) if row else 0}
    except Exception as exc:  # reported, not raised: health must answer
        body["error"] = type(exc).__name__
    body["broker"] = "up" if _broker_up(request) else "down"
    ok = body["database"] == "up" and body["broker"] == "up"
    body["status"] = "ok" if ok else "degraded"
    return JSONResponse(body, status_code=200 if ok else 503)


def _flatten(prefix: str, value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            key = "".join(c if c.isalnum() else "_" for c in str(k))
            _flatten(f"{prefix}_{key}", v, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out.append(f"{prefix} {value}")


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(request: Request, who: Anyone) -> str:
    lines: list[str] = []
    with pool(request).connection() as c:
        for severity, status, n in c.execute(
            "SELECT severity, status, count(*) FROM alert WHERE status <> 'resolved' GROUP BY 1, 2"
        ):
            lines.append(f'gridwatch_incidents_live{{severity="{severity}",status="{status}"}} {n}')
    pipeline = request.app.state.pipeline
    if pipeline is not None:
        for name, value in pipeline.stats().items():
            _flatten(f"gridwatch_{name}", value, lines)
    hub = request.app.state.hub
    lines.append(f"gridwatch_feed_clients {len(hub.subscribers)}")
    lines.append(f"gridwatch_feed_events_sent_total {hub.events_sent}")
    return "\n".join(lines) + "\n"

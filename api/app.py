"""The FastAPI application: /api/v1 (alerts, live feed, territory, devices), /health,
/metrics, and the dashboard at /.

`create_app` takes the settings and, when it runs inside `gridwatch run`, the pipeline (its
counters feed /metrics and /health). The OpenAPI document is at /openapi.json, the
interactive one at /docs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api import alerts, devices, feed, health, territory
from gridwatch.db import make_pool
from gridwatch.settings import Settings


def create_app(settings: Settings, pipeline: Any = None, feed_poll_s: float = 0.2) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = make_pool(settings, min_size=2, max_size=16, name="api")
        app.state.hub = feed.Hub(app.state.pool, poll_s=feed_poll_s)
        task = asyncio.create_task(app.state.hub.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            app.state.pool.close()

    app = FastAPI(
        title="GridWatch",
        version="1",
        summary="Grid-level safety incidents from a city's community IoT devices.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pipeline = pipeline
    app.state.status_counts = territory.StatusCounts()
    app.include_router(feed.router)  # before /alerts/{id}: "stream" is not an id
    app.include_router(alerts.router)
    app.include_router(territory.router)
    app.include_router(devices.router)
    app.include_router(health.router)

    @app.exception_handler(psycopg.DataError)
    async def bad_data(_: Request, exc: psycopg.DataError) -> JSONResponse:
        # Input the database cannot hold (a NUL byte in text, say): the client's mistake.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JSONResponse({"detail": f"invalid input: {first}"}, status_code=422)

    static = resources.files("api").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> str:
        return static.joinpath("index.html").read_text()

    return app

"""schemathesis against the OpenAPI schema, on a real server and database: whatever a client
sends, the API answers without a server error (and, keyless, with 401)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api.app import create_app
from api.keys import create_key
from api.server import Server
from detectors.alert_service import AlertService
from gridwatch.db import Conn
from gridwatch.net import free_port
from gridwatch.settings import Settings
from simulators.city import generate
from simulators.city_store import write_city

KEY: dict[str, str] = {}
EXAMPLES = int(os.environ.get("GRIDWATCH_FUZZ_EXAMPLES", "25"))  # more, for a longer hunt


@pytest.fixture
def api_schema(settings: Settings, conn: Conn) -> Iterator[Any]:
    write_city(conn, generate(0.0002, seed=4), progress=lambda _: None)
    conn.execute(
        "INSERT INTO device_signal (at, scope, device_key, grid_code, source, kind, severity,"
        " code) SELECT now(), 'device', device_key, grid_code, 'event', 'gas', 'high',"
        " 'GAS_ALARM' FROM device ORDER BY device_key LIMIT 3"
    )
    svc = AlertService(settings)
    svc.step()
    svc.stop()
    KEY["admin"] = create_key(conn, "admin")
    server = Server(create_app(settings), port=free_port()).start()
    try:
        # The live feed never ends by design: it has tests of its own.
        yield schemathesis.openapi.from_url(f"{server.url}/openapi.json").exclude(
            path_regex=r".*/stream$"
        )
    finally:
        server.stop()


def test_no_request_makes_a_server_error(api_schema: Any) -> None:
    operations = [r.ok() for r in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def check(case: Any) -> None:
            case.call_and_validate(headers={"X-API-Key": KEY["admin"]},
                                   checks=[not_a_server_error])  # fmt: skip

        check()

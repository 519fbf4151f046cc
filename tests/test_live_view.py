"""The live feed and the dashboard over a real server: SSE delivers a new incident, resumes
with Last-Event-ID without losing any; in headless Chromium the page shows a new incident
live and acknowledging it there changes the database."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.keys import create_key
from api.server import Server
from detectors.alert_service import AlertService
from gridwatch.db import Conn
from gridwatch.net import free_port
from gridwatch.settings import Settings
from simulators.city import generate
from simulators.city_store import write_city

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def live(settings: Settings, conn: Conn) -> Iterator[dict[str, Any]]:
    write_city(conn, generate(0.0002, seed=4), progress=lambda _: None)
    server = Server(create_app(settings, feed_poll_s=0.1), port=free_port()).start()
    correlator = AlertService(settings)
    try:
        yield {"url": server.url, "key": create_key(conn, "responder"), "correlator": correlator}
    finally:
        correlator.stop()
        server.stop()


def raise_incident(conn: Conn, correlator: AlertService, n: int) -> int:
    """A gas alarm on the n-th device: the correlator opens an incident for it."""
    row = conn.execute("SELECT device_key, grid_code FROM device ORDER BY device_key OFFSET %s"
                       " LIMIT 1", (n * 40,)).fetchone()  # fmt: skip
    assert row is not None
    conn.execute("INSERT INTO device_signal (at, scope, device_key, grid_code, source, kind,"
                 " severity, code) VALUES (now(), 'device', %s, %s, 'event', 'gas', 'high',"
                 " 'GAS_ALARM')", row)  # fmt: skip
    correlator.step()
    found = conn.execute("SELECT alert_id FROM alert WHERE grid_code = %s AND cause = 'gas_leak'"
                         " AND status <> 'resolved'", (row[1],)).fetchone()  # fmt: skip
    assert found is not None
    return int(found[0])


def read_events(resp: httpx.Response, want: int, timeout_s: float = 5.0) -> list[dict[str, str]]:
    events, current = [], {}
    deadline = time.monotonic() + timeout_s
    for line in resp.iter_lines():
        if time.monotonic() > deadline:
            break
        if not line:
            if "id" in current:
                events.append(current)
                if len(events) >= want:
                    break
            current = {}
            continue
        field, _, value = line.partition(": ")
        current[field] = value
    return events


def test_the_feed_delivers_live_and_resumes_without_loss(live: dict[str, Any], conn: Conn) -> None:
    url, key, correlator = live["url"], live["key"], live["correlator"]
    with httpx.Client(base_url=url, timeout=10) as http:
        with http.stream("GET", "/api/v1/alerts/stream", headers={"X-API-Key": key}) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            first = raise_incident(conn, correlator, 0)
            (event,) = read_events(resp, 1)  # the feed's delay is gridwatch bench api's
            assert f'"id":{first}' in event["data"]
            last_id = event["id"]
        # Disconnected: two more changes happen meanwhile.
        second = raise_incident(conn, correlator, 1)
        conn.execute("UPDATE alert SET status = 'acknowledged' WHERE alert_id = %s", (first,))
        conn.execute("INSERT INTO alert_transition (alert_id, at, kind, from_status, to_status,"
                     " actor) VALUES (%s, now(), 'status', 'open', 'acknowledged', 'x')",
                     (first,))  # fmt: skip
        headers = {"X-API-Key": key, "Last-Event-ID": last_id}
        with http.stream("GET", "/api/v1/alerts/stream", headers=headers) as resp:
            missed = read_events(resp, 3)
    ids = [int(e["id"]) for e in missed]
    assert ids == sorted(ids) and all(i > int(last_id) for i in ids)
    assert any(f'"id":{second}' in e["data"] for e in missed)
    assert '"to_status":"acknowledged"' in missed[-1]["data"]


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed")
def test_dashboard_shows_a_new_incident_live_and_acknowledges_it(
    live: dict[str, Any], conn: Conn
) -> None:
    from playwright.sync_api import sync_playwright

    url, key, correlator = live["url"], live["key"], live["correlator"]
    with sync_playwright() as p:
        flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/#key={key}")
            page.wait_for_selector("#conn.on", timeout=10_000)
            page.wait_for_selector("#tree .node", timeout=10_000)
            alert_id = raise_incident(conn, correlator, 2)
            # A locator, not an element: the feed re-renders as events arrive.
            item = page.locator(f'#feed li[data-id="{alert_id}"]')
            item.wait_for(timeout=5_000)
            assert "Gas leak" in item.inner_text()
            item.click()
            page.wait_for_selector('#status[data-status="open"]', timeout=5_000)
            page.click("#ack")
            page.wait_for_selector('#status[data-status="acknowledged"]', timeout=5_000)
            assert not errors, errors
        finally:
            browser.close()
    row = conn.execute("SELECT a.status, t.actor FROM alert a JOIN alert_transition t USING"
                       " (alert_id) WHERE a.alert_id = %s AND t.to_status = 'acknowledged'",
                       (alert_id,)).fetchone()  # fmt: skip
    assert row is not None and row[0] == "acknowledged" and row[1].startswith("responder:")

"""The API against the real database: who may do what (401/403/404 on every router),
alerts with filters, pagination, evidence, history and actions, territory status, the
integrators' device registry, readings, FIWARE export, health and metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from detectors.alert_service import AlertService
from gridwatch.db import Conn
from gridwatch.mqtt_auth import verify
from gridwatch.settings import Settings
from simulators.city import generate
from simulators.city_store import write_city

GRID_A, GRID_B = "330203001001001", "330203001001002"
COMMUNITY = "330203001001"


@pytest.fixture
def world(settings: Settings, conn: Conn) -> dict[str, Any]:
    """A small city with incidents in two grids, and a key for every role and scope."""
    write_city(conn, generate(0.0002, seed=4), progress=lambda _: None)
    keys = {}
    for grid in (GRID_A, GRID_B):
        for k, kind, sev, code in ((0, "fire", "medium", "SMOKE_ALARM"),
                                   (1, "gas", "high", "GAS_ALARM")):  # fmt: skip
            key = conn.execute("SELECT device_key FROM device WHERE grid_code = %s ORDER BY 1"
                               " OFFSET %s LIMIT 1", (grid, k)).fetchone()  # fmt: skip
            assert key is not None
            conn.execute(
                "INSERT INTO device_signal (at, scope, device_key, grid_code, source, kind,"
                " severity, code) VALUES (now(), 'device', %s, %s, 'event', %s, %s, %s)",
                (key[0], grid, kind, sev, code),
            )
    svc = AlertService(settings)
    svc.step()
    svc.stop()
    for role in ("viewer", "responder", "integrator", "admin"):
        keys[role] = create_key(conn, role)
    keys["grid_a_responder"] = create_key(conn, "responder", GRID_A)
    keys["grid_a_integrator"] = create_key(conn, "integrator", GRID_A)
    ids = {
        (g, c): int(i) for i, g, c in conn.execute("SELECT alert_id, grid_code, cause FROM alert")
    }
    return {"keys": keys, "alerts": ids}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


ROUTES = [
    ("GET", "/api/v1/alerts", None),
    ("GET", "/api/v1/alerts/export/fiware", None),
    ("GET", "/api/v1/alerts/1", None),
    ("POST", "/api/v1/alerts/1/acknowledge", {}),
    ("GET", "/api/v1/territory", None),
    ("POST", "/api/v1/devices/bulk", []),
    ("GET", "/api/v1/dead-letters", None),
    ("GET", "/metrics", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_router_refuses_a_missing_or_wrong_key(
    client: TestClient, world: dict[str, Any], conn: Conn, method: str, path: str, body: Any
) -> None:
    assert client.request(method, path, json=body).status_code == 401
    wrong = client.request(method, path, json=body, headers=h("gw_nope_nope"))
    assert wrong.status_code == 401
    revoked = world["keys"]["viewer"]
    conn.execute("UPDATE api_key SET revoked_at = now() WHERE key_id = %s",
                 (revoked.split("_")[1],))  # fmt: skip
    assert client.request(method, path, json=body, headers=h(revoked)).status_code == 401


def test_roles_are_least_privilege(client: TestClient, world: dict[str, Any]) -> None:
    k, fire_a = world["keys"], world["alerts"][(GRID_A, "fire")]
    # An integrator manages devices, never alerts.
    assert client.get("/api/v1/alerts", headers=h(k["integrator"])).status_code == 403
    assert client.get("/api/v1/alerts/stream", headers=h(k["integrator"])).status_code == 403
    # A viewer sees alerts but may not act on them, nor register devices.
    assert client.get("/api/v1/alerts", headers=h(k["viewer"])).status_code == 200
    ack = client.post(f"/api/v1/alerts/{fire_a}/acknowledge", json={}, headers=h(k["viewer"]))
    assert ack.status_code == 403
    assert client.post("/api/v1/devices/bulk", json=[], headers=h(k["viewer"])).status_code == 403
    assert (
        client.post("/api/v1/devices/bulk", json=[], headers=h(k["responder"])).status_code == 403
    )
    # The territory and readings are for every role.
    assert client.get("/api/v1/territory", headers=h(k["integrator"])).status_code == 200


def test_a_grid_scoped_key_sees_and_acts_on_its_grid_only(
    client: TestClient, world: dict[str, Any]
) -> None:
    key, alerts = world["keys"]["grid_a_responder"], world["alerts"]
    items = client.get("/api/v1/alerts", headers=h(key)).json()["items"]
    assert {a["grid_code"] for a in items} == {GRID_A} and len(items) == 2
    assert client.get("/api/v1/alerts", params={"territory": GRID_B},
                      headers=h(key)).status_code == 403  # fmt: skip
    other = alerts[(GRID_B, "fire")]
    assert client.get(f"/api/v1/alerts/{other}", headers=h(key)).status_code == 404
    r = client.post(f"/api/v1/alerts/{other}/acknowledge", json={}, headers=h(key))
    assert r.status_code == 404  # existence does not leak
    own = alerts[(GRID_A, "fire")]
    assert client.post(f"/api/v1/alerts/{own}/acknowledge", json={},
                       headers=h(key)).status_code == 200  # fmt: skip


def test_alert_list_filters_and_paginates_without_gaps_or_repeats(
    client: TestClient, world: dict[str, Any]
) -> None:
    key = h(world["keys"]["viewer"])
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/alerts", params={"limit": 1, **({"cursor": cursor} if cursor
                          else {})}, headers=key).json()  # fmt: skip
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(world["alerts"].values()) and len(set(seen)) == len(seen)
    gas = client.get("/api/v1/alerts", params={"cause": "gas_leak", "severity": ["high"]},
                     headers=key).json()["items"]  # fmt: skip
    assert {(a["cause"], a["severity"]) for a in gas} == {("gas_leak", "high")} and len(gas) == 2
    later = client.get("/api/v1/alerts", params={"since": "2999-01-01T00:00:00Z"}, headers=key)
    assert later.json()["items"] == []
    assert (
        client.get("/api/v1/alerts", params={"cursor": "garbage"}, headers=key).status_code == 422
    )
    assert client.get("/api/v1/alerts", params={"severity": "dire"}, headers=key).status_code == 422
    nul = client.get("/api/v1/alerts", params={"cause": "fi\x00re"}, headers=key)
    assert nul.status_code == 422 and "invalid input" in nul.json()["detail"]  # found by fuzzing


def test_incident_detail_actions_and_history(
    client: TestClient, world: dict[str, Any], conn: Conn
) -> None:
    key, alert_id = h(world["keys"]["responder"]), world["alerts"][(GRID_A, "gas_leak")]
    a = client.get(f"/api/v1/alerts/{alert_id}", headers=key).json()
    assert a["status"] == "open" and a["evidence"][0]["code"] == "GAS_ALARM"
    assert len(a["affected_devices"]) == 1 and a["history"][0]["kind"] == "opened"
    r = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": "on it"}, headers=key)
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    again = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}, headers=key)
    assert again.status_code == 409 and "acknowledged" in again.json()["detail"]
    client.post(f"/api/v1/alerts/{alert_id}/assign", json={"assignee": "team 2"}, headers=key)
    client.post(f"/api/v1/alerts/{alert_id}/comment", json={"note": "valve closed"}, headers=key)
    done = client.post(f"/api/v1/alerts/{alert_id}/resolve", json={}, headers=key).json()
    assert done["status"] == "resolved" and done["assignee"] == "team 2"
    assert [t["kind"] for t in done["history"]][-4:] == ["status", "assign", "comment", "status"]
    actor = conn.execute("SELECT actor FROM alert_transition WHERE alert_id = %s AND note ="
                         " 'on it'", (alert_id,)).fetchone()  # fmt: skip
    assert actor is not None and actor[0].startswith("responder:")
    assert client.get("/api/v1/alerts/999999", headers=key).status_code == 404


def test_fiware_export(client: TestClient, world: dict[str, Any]) -> None:
    out = client.get("/api/v1/alerts/export/fiware", headers=h(world["keys"]["viewer"])).json()
    assert len(out) == 4
    e = next(x for x in out if x["subCategory"] == "gasLeak")
    assert e["type"] == "Alert" and e["id"].startswith("urn:ngsi-ld:Alert:")
    assert e["category"] == "environment" and e["severity"] == "high"
    assert e["location"]["type"] == "Point" and e["dateIssued"]


def test_territory_tree_rolls_status_up(client: TestClient, world: dict[str, Any]) -> None:
    root = client.get("/api/v1/territory", params={"depth": 4},
                      headers=h(world["keys"]["viewer"])).json()  # fmt: skip
    assert root["level"] == "city"
    assert root["status"]["open_incidents"]["high"] == 2  # the two gas leaks
    assert root["status"]["devices_unknown"] > 0
    community = root["children"][0]["children"][0]["children"][0]
    assert community["level"] == "community" and len(community["children"]) == 3
    grid_a = next(g for g in community["children"] if g["code"] == GRID_A)
    assert grid_a["status"]["open_incidents"]["medium"] + grid_a["status"]["open_incidents"][
        "high"] == 2  # fmt: skip
    scoped = client.get("/api/v1/territory", headers=h(world["keys"]["grid_a_responder"])).json()
    assert scoped["code"] == GRID_A


def _device(i: int, **kw: Any) -> dict[str, Any]:
    return {"device_id": f"it-smoke-{i}", "device_type": "smoke", "community_code": COMMUNITY,
            "grid_code": GRID_A, "lat": 29.87, "lon": 121.55, **kw}  # fmt: skip


def test_device_registry_for_integrators(
    client: TestClient, world: dict[str, Any], conn: Conn
) -> None:
    key = h(world["keys"]["grid_a_integrator"])
    r = client.post("/api/v1/devices", json=_device(1), headers=key)
    assert r.status_code == 201 and r.json()["report_interval_s"] == 60
    # Bulk is all or nothing, with every row's errors reported.
    bad = [_device(2), _device(3, grid_code=GRID_B), _device(1), _device(4, device_type="toaster")]
    r = client.post("/api/v1/devices/bulk", json=bad, headers=key)
    assert r.status_code == 422
    rows = {(e["row"], e["field"]) for e in r.json()["detail"]}
    assert (4, "device_type") in rows  # the payload's own errors come first
    assert conn.execute("SELECT count(*) FROM device WHERE device_id LIKE 'it-smoke-%'"
                        ).fetchone() == (1,)  # fmt: skip
    bad = [_device(2), _device(3, grid_code=GRID_B), _device(1)]
    errors = client.post("/api/v1/devices/bulk", json=bad, headers=key).json()["detail"]
    assert {(e["row"], e["field"]) for e in errors} == {(2, "grid_code"), (3, "device_id")}
    csv_body = ("device_id,device_type,community_code,grid_code,lat,lon\n"
                f"it-smoke-5,smoke,{COMMUNITY},{GRID_A},29.8,121.5\n"
                f"it-smoke-6,smoke,{COMMUNITY},{GRID_A},,\n")  # fmt: skip
    r = client.post("/api/v1/devices/bulk", content=csv_body,
                    headers={**key, "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 200 and r.json() == {"registered": 2}
    r = client.patch("/api/v1/devices/it-smoke-5", json={"report_interval_s": 300}, headers=key)
    assert r.json()["report_interval_s"] == 300
    creds = client.post("/api/v1/devices/it-smoke-5/credentials", headers=key).json()
    stored = conn.execute("SELECT credential_hash FROM device WHERE device_id = 'it-smoke-5'"
                          ).fetchone()  # fmt: skip
    assert stored is not None and verify(creds["password"], stored[0])
    gone = client.delete("/api/v1/devices/it-smoke-5", headers=key).json()
    assert gone["retired_at"] is not None
    assert client.post("/api/v1/devices/it-smoke-5/credentials", headers=key).status_code == 409
    # A device of another grid does not exist for this key.
    other = conn.execute("SELECT device_id FROM device WHERE grid_code = %s LIMIT 1", (GRID_B,))
    other_id = other.fetchone()[0]  # type: ignore[index]
    assert client.get(f"/api/v1/devices/{other_id}", headers=key).status_code == 404


def test_dead_letters_and_readings_of_own_devices(
    client: TestClient, world: dict[str, Any], conn: Conn
) -> None:
    key = h(world["keys"]["grid_a_integrator"])
    dev_key, dev_id = conn.execute(
        "SELECT device_key, device_id FROM device WHERE grid_code = %s"
        " AND device_type = 'smoke' LIMIT 1",
        (GRID_A,),
    ).fetchone()  # type: ignore[misc]
    conn.execute("INSERT INTO dead_letter (received_at, topic, payload, reason, community_code,"
                 " device_id) VALUES (now(), 't', 'junk', 'malformed json', %s, %s)",
                 (COMMUNITY, dev_id))  # fmt: skip
    letters = client.get(f"/api/v1/devices/{dev_id}/dead-letters", headers=key).json()
    assert [(d["reason"], d["payload"]) for d in letters] == [("malformed json", "junk")]
    assert len(client.get("/api/v1/dead-letters", headers=key).json()) == 1
    t0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    metric = conn.execute(
        "SELECT metric_id FROM metric WHERE device_type = 'smoke' AND name = 'temperature'"
    ).fetchone()[0]  # type: ignore[index]
    for i in range(180):  # 3 h, one reading a minute
        conn.execute("INSERT INTO reading (ts, device_key, metric_id, seq, value) VALUES"
                     " (%s, %s, %s, %s, %s)", (t0 + dt.timedelta(minutes=i), dev_key, metric,
                                               i, float(i)))  # fmt: skip
    q = {"metric": "temperature", "since": t0.isoformat(), "until": (t0 + dt.timedelta(hours=3)
         ).isoformat()}  # fmt: skip
    hours = client.get(f"/api/v1/devices/{dev_id}/readings", params={**q, "bucket": "1h"},
                       headers=key).json()  # fmt: skip
    assert [(p["n"], p["min"], p["max"]) for p in hours["points"]] == [
        (60, 0.0, 59.0), (60, 60.0, 119.0), (60, 120.0, 179.0)]  # fmt: skip
    minutes = client.get(f"/api/v1/devices/{dev_id}/readings", params=q, headers=key).json()
    assert len(minutes["points"]) == 180 and minutes["unit"] == "degC"
    wrong = client.get(f"/api/v1/devices/{dev_id}/readings", params={**q, "metric": "gas"},
                       headers=key)  # fmt: skip
    assert wrong.status_code == 422


def test_health_and_metrics(client: TestClient, world: dict[str, Any]) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["database"] == "up" and r.json()["broker"] == "up"
    assert r.json()["backend"].split()[0] in ("postgres", "timescaledb")
    text = client.get("/metrics", headers=h(world["keys"]["viewer"])).text
    assert 'gridwatch_incidents_live{severity="high",status="open"} 2' in text

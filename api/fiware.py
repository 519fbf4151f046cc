"""Incidents as FIWARE Smart Data Models `Alert` entities (dataModel.Alert, NGSI-LD
key-values), for other city platforms.

`category` takes a value of the model's own list (traffic, naturalDisaster, weather,
environment, health, security, agriculture); `subCategory` names our cause in the model's
camelCase; severity is the same five-step scale.

>>> CATEGORIES["flooding"]
('naturalDisaster', 'flood')
"""

from __future__ import annotations

from typing import Any

from api.models import Alert

CATEGORIES: dict[str, tuple[str, str]] = {
    "fire": ("security", "fire"),
    "gas_leak": ("environment", "gasLeak"),
    "flooding": ("naturalDisaster", "flood"),
    "elevator_entrapment": ("security", "trappedPerson"),
    "elevator_fault": ("security", "elevatorFault"),
    "grid_outage": ("security", "powerOutage"),
    "gateway_offline": ("security", "deviceOffline"),
    "device_offline": ("security", "deviceOffline"),
    "sensor_fault": ("security", "sensorFault"),
    "medical": ("health", "fallDown"),
}


def to_fiware(alert: Alert, lat: float | None, lon: float | None) -> dict[str, Any]:
    category, sub = CATEGORIES.get(alert.cause, ("security", alert.cause))
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Alert:gridwatch:{alert.id}",
        "type": "Alert",
        "category": category,
        "subCategory": sub,
        "severity": alert.severity,
        "description": alert.title,
        "alertSource": f"urn:ngsi-ld:Grid:{alert.grid_code}",
        "dateIssued": alert.opened_at.isoformat(),
        "validFrom": alert.opened_at.isoformat(),
    }
    if alert.resolved_at is not None:
        entity["validTo"] = alert.resolved_at.isoformat()
    if lat is not None and lon is not None:
        entity["location"] = {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}
    return entity

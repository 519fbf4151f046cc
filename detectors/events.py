"""What a device's own event means: its standard's code → a signal kind and base severity.

The codes are those of docs/mqtt.md. Severity here is the base for one device alone; the
correlator raises it when signals corroborate each other. An unknown code is not dropped:
it becomes an `unknown event` signal (informational) that names the code, so that someone
extends this table rather than misses an alarm.

Vendors renumber GB/T 24476 faults by region; `REGIONAL_ELEVATOR_CODES` maps a scheme (the
event's `detail.scheme`) to the standard's numbering. Codes also arrive as `E07`, `07` or
`0x07`; all mean fault 7.

>>> classify("GB/T 24476", "E08", "raised", {})
EventSignal(kind='entrapment', severity='critical', code='8', label='trapped not at level')
>>> classify(None, "GAS_ALARM", "raised", {}).severity
'high'
>>> classify("GB/T 24476", "42", "raised", {}).kind
'unknown event'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ELEVATOR = "GB/T 24476"
FIRE = "GB 26875.3"
VIDEO = "GB/T 28181"

# GB/T 24476: (label, kind, base severity)
ELEVATOR_FAULTS: dict[str, tuple[str, str, str]] = {
    "1": ("overrun at the top", "elevator fault", "high"),
    "2": ("overrun at the bottom", "elevator fault", "high"),
    "3": ("overspeed", "elevator fault", "critical"),
    "4": ("door opened while running", "elevator fault", "critical"),
    "5": ("moving with the door open", "elevator fault", "critical"),
    "6": ("stopped outside the door zone", "elevator fault", "high"),
    "7": ("trapped at level", "entrapment", "high"),
    "8": ("trapped not at level", "entrapment", "critical"),
    "9": ("power cut", "power", "medium"),
    "10": ("safety circuit open", "elevator fault", "high"),
    "11": ("door-open fault", "elevator fault", "medium"),
    "12": ("door-close fault", "elevator fault", "medium"),
    "13": ("door-lock circuit open", "elevator fault", "high"),
    "14": ("landing button stuck", "elevator fault", "low"),
    "15": ("abnormal speed", "elevator fault", "high"),
}

# scheme → {vendor code → GB/T 24476 code}. Extend per vendor as integrators report them.
REGIONAL_ELEVATOR_CODES: dict[str, dict[str, str]] = {
    # A common pre-2019 numbering that put the two entrapments first.
    "legacy-a": {"1": "7", "2": "8", "3": "1", "4": "2", "5": "3", "6": "9"},
}

# GB 26875.3 controller states and the stand-alone detectors' own alarms.
FIRE_STATES: dict[str, tuple[str, str, str]] = {
    "FIRE_ALARM": ("fire alarm", "fire", "high"),
    "MANUAL_CALL_POINT": ("manual call point pressed", "fire", "high"),
    "SUPERVISORY": ("supervisory signal", "fire equipment", "medium"),
    "FAULT": ("controller fault", "fire equipment", "low"),
    "DISABLED": ("zone disabled", "fire equipment", "low"),
    "MAINS_POWER_FAULT": ("mains power fault", "fire equipment", "low"),
    "BACKUP_POWER_FAULT": ("backup power fault", "fire equipment", "medium"),
}
DETECTOR_ALARMS: dict[str, tuple[str, str, str]] = {
    "SMOKE_ALARM": ("smoke detector alarm", "fire", "medium"),
    "GAS_ALARM": ("gas detector alarm", "gas", "high"),
    "WATER_ALARM": ("water level alarm", "flood", "medium"),
}

# GB/T 28181 alarm types and the community video analytics events.
VIDEO_EVENTS: dict[str, tuple[str, str, str]] = {
    "VIDEO_LOST": ("video lost", "video equipment", "low"),
    "TAMPER": ("camera tampered with", "security", "medium"),
    "DISK_FULL": ("recorder disk full", "video equipment", "informational"),
    "MOTION": ("motion", "security", "informational"),
    "INTRUSION": ("intrusion", "security", "medium"),
    "TRIPWIRE": ("tripwire crossed", "security", "medium"),
    "LOITERING": ("loitering", "security", "low"),
    "DENSITY": ("crowd density", "crowd", "medium"),
    "SMOKE_FIRE": ("smoke or fire seen", "fire", "high"),
    "EBIKE_IN_ELEVATOR": ("e-bike entering an elevator", "fire risk", "medium"),
    "FIRE_LANE_BLOCKED": ("fire lane blocked", "fire risk", "low"),
    "CROWD_GATHERING": ("crowd gathering", "crowd", "medium"),
    "FALL": ("person fallen", "medical", "high"),
    "OBJECT_THROWN": ("object thrown from height", "safety", "medium"),
}


@dataclass(frozen=True, slots=True)
class EventSignal:
    kind: str
    severity: str
    code: str
    label: str


def elevator_code(code: str, detail: dict[str, Any]) -> str:
    """The GB/T 24476 number of a vendor's code.

    >>> elevator_code("0x0D", {}), elevator_code("E7", {})
    ('13', '7')
    >>> elevator_code("2", {"scheme": "legacy-a"})
    '8'
    """
    text = code.strip().upper()
    try:
        if text.startswith("0X"):
            number = str(int(text[2:], 16))
        else:
            number = str(int(text.removeprefix("ERR").removeprefix("E")))
    except ValueError:
        return code
    scheme = detail.get("scheme") if isinstance(detail, dict) else None
    if isinstance(scheme, str) and scheme in REGIONAL_ELEVATOR_CODES:
        return REGIONAL_ELEVATOR_CODES[scheme].get(number, number)
    return number


def classify(standard: str | None, code: str, state: str, detail: dict[str, Any]) -> EventSignal:
    """The signal of one event (`state` is for the caller: `cleared` ends the condition)."""
    table: dict[str, tuple[str, str, str]]
    if standard == ELEVATOR:
        code = elevator_code(code, detail)
        table = ELEVATOR_FAULTS
    elif standard == VIDEO:
        table = VIDEO_EVENTS
    else:
        table = {**FIRE_STATES, **DETECTOR_ALARMS, **VIDEO_EVENTS}
    found = table.get(code)
    if found is None:
        return EventSignal("unknown event", "informational", code,
                           f"unknown code {code!r} ({standard or 'no standard'})")  # fmt: skip
    label, kind, severity = found
    return EventSignal(kind, severity, code, label)

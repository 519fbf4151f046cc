"""Device signals → grid incidents: one per grid and cause, with its evidence and severity.

A signal joins the live incident of its grid and cause, or opens one; a resolved incident
whose cause comes back within `reopen_s` re-opens with its history. A device already part of
a live hazard incident explains its own side effects (an entrapped car's speed stuck at 0
joins the entrapment, it does not open a sensor fault); a gateway or device going quiet in a
grid that is out joins the outage.

Severity comes from the evidence, on one scale (`gridwatch.incidents.SEVERITIES`):
- each signal brings its base severity (the event catalogue, silence), except telemetry,
  which alone is informational — a rare reading is a hint until it repeats or is seen on
  a second device (then low),
  a stuck value is low — and silence: one device offline is a hint until it stays away
  for `offline_grace_s` or flaps (three times), a gateway or a whole grid until it stays
  silent for `gateway_grace_s` (then medium, high): in a small grid one late gateway batch
  silences everything for a minute;
- corroboration raises it: for a fire, one smoke alarm is a check-on-site (medium), two
  devices with one alarm high, two alarms with a temperature rise or a controller's fire
  alarm plus another device critical; a gas alarm with a second gas device critical; other
  hazards (flood, security, crowd …) one step when two or more devices agree, up to high.
Severity never falls while the incident lives: people act on the highest it reached.

The incident's conditions are what keeps it alive: an alarm until its device clears it, a
silence until the device (gateway, grid) is heard again, a telemetry anomaly for `point_ttl_s`.
When all are gone and stay gone for `hold_s`, the incident resolves itself.

Everything here is plain state and a clock passed in, so tests drive it with a fake one;
`detectors/alert_store.py` makes it durable and `detectors/alert_service.py` runs it live.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from detectors.escalation import Escalation
from gridwatch.catalogue import HAZARD_FLOORS, METRICS_BY_ID
from gridwatch.incidents import LEVELS, raise_by, rank, top

# Event kinds (detectors/events.py) → cause. Unlisted kinds are their own cause.
EVENT_CAUSES = {
    "fire": "fire", "entrapment": "elevator_entrapment", "elevator fault": "elevator_fault",
    "power": "grid_outage", "gas": "gas_leak", "flood": "flooding",
    "fire equipment": "fire_equipment", "video equipment": "device_fault",
    "unknown event": "unknown_event", "fire risk": "fire_risk",
}  # fmt: skip
SILENCE_CAUSES = {"offline": "device_offline", "gateway silent": "gateway_offline",
                  "grid silent": "grid_outage"}  # fmt: skip
# A rare reading on these metrics is evidence of a hazard when it is also past the metric's
# early-warning floor (`HAZARD_FLOORS`); any other rare reading hints at a faulty sensor.
HAZARD_METRICS = {"smoke": "fire", "gas": "gas_leak", "water_level": "flooding"}
HEAT_DEVICES = {"smoke", "fire"}  # their temperature is fire evidence
# Causes that a device's own side effects (stuck values, silence) fold into.
ABSORBING = {"fire", "gas_leak", "flooding", "elevator_entrapment", "elevator_fault",
             "grid_outage", "gateway_offline"}  # fmt: skip
SIDE_EFFECTS = {"sensor_fault", "device_offline", "gateway_offline"}
HAZARDS = {"flooding", "security", "crowd", "fire_risk", "safety", "medical", "elevator_fault"}
# One incident per device for these: unrelated faulty or missing sensors in a grid are
# separate maintenance tickets, and a new one must not hide inside an old one.
PER_DEVICE = {"sensor_fault", "device_offline"}
# A state that holds still (a door closed all night, a car parked at a floor) is not stuck.
DISCRETE_UNITS = {"0/1", "-1/0/1", "floor"}
TITLES = {
    "fire": "Possible fire", "gas_leak": "Gas leak", "elevator_entrapment": "Elevator "
    "entrapment", "elevator_fault": "Elevator fault", "grid_outage": "Power or network outage",
    "gateway_offline": "Gateway offline", "device_offline": "Device offline",
    "flooding": "Flooding", "sensor_fault": "Faulty sensor",
}  # fmt: skip
EVIDENCE_CAP = 100


@dataclass(frozen=True, slots=True)
class SignalIn:
    """One `device_signal` row as the correlator reads it (times as epoch seconds)."""

    signal_id: int
    at: float
    scope: str
    device_key: int | None
    gateway_id: str | None
    grid_code: str
    microgrid_code: str | None
    source: str
    kind: str
    severity: str
    state: str
    metric_id: int | None = None
    value: float | None = None
    code: str | None = None

    @property
    def condition(self) -> str:
        target = self.device_key if self.scope == "device" else self.gateway_id or self.grid_code
        return f"{self.scope}:{target}:{self.kind}:{self.code or ''}"


def cause_of(sig: SignalIn) -> str:
    """The cause a signal speaks of, before correlation.

    >>> cause_of(SignalIn(1, 0.0, "device", 7, None, "g", None, "event", "fire", "medium",
    ...                   "raised"))
    'fire'
    """
    if sig.source == "event":
        return EVENT_CAUSES.get(sig.kind, sig.kind.replace(" ", "_"))
    if sig.source == "silence":
        return SILENCE_CAUSES.get(sig.kind, "device_offline")
    if sig.kind == "stuck value" or sig.metric_id not in METRICS_BY_ID:
        return "sensor_fault"
    metric = METRICS_BY_ID[sig.metric_id]
    if sig.value is None or sig.value < HAZARD_FLOORS.get(metric.name, float("inf")):
        return "sensor_fault"
    if metric.name == "temperature" and metric.device_type in HEAT_DEVICES:
        return "fire"
    return HAZARD_METRICS.get(metric.name, "sensor_fault")


@dataclass
class DeviceEvidence:
    signals: int = 0
    severity: str = "informational"
    alarm: bool = False  # its own alarm event
    controller_alarm: bool = False  # a fire controller's alarm (GB 26875.3)
    heat: bool = False  # a temperature anomaly
    stuck: bool = False


@dataclass
class Incident:
    grid: str
    cause: str
    opened_at: float
    subject: str = ""  # the device key for per-device causes
    via: str | None = None  # a per-device incident's gateway
    microgrid: str | None = None
    alert_id: int | None = None
    status: str = "open"
    severity: str = "informational"
    escalation: int = 0
    escalate_from: float = 0.0
    conditions: dict[str, float] = field(default_factory=dict)
    point_until: float = 0.0
    quiet_since: float | None = None
    devices: dict[int, DeviceEvidence] = field(default_factory=dict)
    areas: dict[str, int] = field(default_factory=dict)  # scope signals: gateway/grid → count
    evidence: list[dict[str, Any]] = field(default_factory=list)
    signals: int = 0
    last_signal_at: float = 0.0
    resolved_at: float | None = None
    reopened: int = 0
    updated_at: float = 0.0
    # Changes since the store last saved it: (kind, fields) → alert_transition rows.
    pending: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.grid, self.cause, self.subject)

    @property
    def title(self) -> str:
        where = f"micro-grid {self.microgrid}" if self.microgrid else f"grid {self.grid}"
        what = TITLES.get(self.cause, self.cause.replace("_", " ").capitalize())
        n = len(self.devices)
        if self.subject:
            return f"{what} (device {self.subject}) in {where}"
        return f"{what} in {where}" + (f" ({n} devices)" if n > 1 else "")

    @property
    def live(self) -> bool:
        return self.status != "resolved"

    def assess(self) -> str:
        """Severity from the evidence; see the module's docstring."""
        ev = list(self.devices.values())
        base = top("informational", *(d.severity for d in ev))
        n, alarms = len(ev), sum(d.alarm for d in ev)
        # Rare readings that come back (the detectors repeat a series' signal after 10 min at
        # the soonest) are a fault. Three would spare the odd low ticket for noise but missed
        # a 12 °C drift within its 90 minutes (measured with gridwatch eval): two it is.
        persistent = any(d.signals >= 2 for d in ev)
        if (self.cause in HAZARD_METRICS.values() and n >= 2) or persistent:
            base = top(base, "low")
        if self.cause == "fire":
            heat = any(d.heat for d in ev)
            if (any(d.controller_alarm for d in ev) and n >= 2) or (alarms >= 2 and heat):
                base = top(base, "critical")
            elif alarms >= 2 or (alarms >= 1 and n >= 2):
                base = top(base, "high")
            elif n >= 2:
                base = top(base, "medium")
        elif self.cause == "gas_leak" and alarms >= 1 and n >= 2:
            base = top(base, "critical")
        elif self.cause in HAZARDS and n >= 2:
            base = top(base, raise_by(base, 1, cap="high"))
        return top(self.severity, base)


class Correlator:
    """Live incidents by (grid, cause), plus those resolved lately (they may re-open)."""

    def __init__(self, hold_s: float = 300.0, point_ttl_s: float = 900.0, reopen_s: float = 1800.0,
                 offline_grace_s: float = 600.0, gateway_grace_s: float = 90.0,
                 escalation: Escalation | None = None) -> None:  # fmt: skip
        self.hold_s = hold_s
        # A silence this long is no longer a hint: cause → (severity, seconds).
        # cause → (severity, seconds, the silence conditions that count)
        self.grace = {"device_offline": ("low", offline_grace_s, "device:"),
                      "gateway_offline": ("medium", gateway_grace_s, "gateway:"),
                      "grid_outage": ("high", gateway_grace_s, "grid:")}  # fmt: skip
        self.point_ttl_s = point_ttl_s
        self.reopen_s = reopen_s
        self.escalation = escalation or Escalation()
        self.incidents: dict[tuple[str, str, str], Incident] = {}

    # -- signals ---------------------------------------------------------------------------
    def observe(self, signals: Iterable[SignalIn], now: float) -> None:
        for sig in signals:
            self._observe(sig, now)

    def _observe(self, sig: SignalIn, now: float) -> None:
        cause = self._explained_by(sig, cause_of(sig))
        subject = str(sig.device_key) if cause in PER_DEVICE and sig.device_key is not None else ""
        inc = self.incidents.get((sig.grid_code, cause, subject))
        if inc is None or (not inc.live and now - (inc.resolved_at or now) > self.reopen_s):
            if sig.state == "cleared":
                return  # the end of a condition nobody saw start (or long closed)
            inc = Incident(sig.grid_code, cause, now, subject, sig.microgrid_code,
                           escalate_from=now)  # fmt: skip
            self.incidents[inc.key] = inc
            self._note(inc, now, "opened", to_status="open", note=f"from {sig.source} signal")
        elif not inc.live:
            if sig.state == "cleared":
                return
            self._reopen(inc, now)
        if inc.microgrid != sig.microgrid_code:
            inc.microgrid = None  # spans micro-grids: the grid is the place
        if subject and sig.gateway_id:
            inc.via = sig.gateway_id
        self._add(inc, sig, now)
        if cause in ("gateway_offline", "grid_outage") and sig.state == "raised":
            self._fold_devices(inc, now)

    def _fold_devices(self, outage: Incident, now: float) -> None:
        """Devices that went quiet on their own before their gateway (or grid) was seen to:
        their incidents become part of the outage, whatever order the signals came in."""
        gateways = {a.split(":", 1)[1] for a in outage.areas if a.startswith("gateway:")}
        for key, inc in list(self.incidents.items()):
            unrelated = outage.cause == "gateway_offline" and inc.via not in gateways
            if (
                inc.cause != "device_offline"
                or not inc.live
                or inc.grid != outage.grid
                or unrelated
            ):
                continue
            for k, d in inc.devices.items():
                outage.devices.setdefault(k, d)
            outage.conditions.update(inc.conditions)
            if inc.alert_id is None:
                del self.incidents[key]  # a hint: it simply becomes part of the outage
                continue
            was, inc.status, inc.resolved_at = inc.status, "resolved", now
            what = TITLES[outage.cause].lower()
            self._note(inc, now, "status", from_status=was, to_status="resolved",
                       note=f"part of the {what} in grid {outage.grid}")  # fmt: skip

    def _explained_by(self, sig: SignalIn, cause: str) -> str:
        """A side effect joins the live incident that explains it, if any."""
        if cause not in SIDE_EFFECTS:
            return cause
        outage = self.incidents.get((sig.grid_code, "grid_outage", ""))
        if outage is not None and outage.live and cause != "sensor_fault":
            return "grid_outage"
        gateway = self.incidents.get((sig.grid_code, "gateway_offline", ""))
        if (gateway is not None and gateway.live and cause == "device_offline"
                and f"gateway:{sig.gateway_id}" in gateway.areas):  # fmt: skip
            return "gateway_offline"
        if sig.device_key is None:
            return cause
        for other in ABSORBING - {cause}:
            inc = self.incidents.get((sig.grid_code, other, ""))
            if inc is not None and inc.live and sig.device_key in inc.devices:
                return other
        return cause

    def _add(self, inc: Incident, sig: SignalIn, now: float) -> None:
        inc.signals += 1
        inc.last_signal_at = max(inc.last_signal_at, sig.at)
        inc.updated_at = now
        if sig.state == "cleared":
            inc.conditions.pop(sig.condition, None)
        elif sig.source == "telemetry":
            inc.point_until = max(inc.point_until, now + self.point_ttl_s)
        else:
            inc.conditions[sig.condition] = now
        if sig.state == "raised":
            inc.quiet_since = None
        before_devices = len(inc.devices)
        if sig.scope == "device" and sig.device_key is not None:
            self._device_evidence(inc, sig)
        elif sig.state == "raised":
            area = f"{sig.scope}:{sig.gateway_id or sig.grid_code}"
            inc.areas[area] = inc.areas.get(area, 0) + 1
        if len(inc.evidence) < EVIDENCE_CAP:
            inc.evidence.append({
                "signal_id": sig.signal_id, "at": sig.at, "scope": sig.scope,
                "device_key": sig.device_key, "gateway_id": sig.gateway_id,
                "source": sig.source, "kind": sig.kind, "severity": sig.severity,
                "state": sig.state, "metric_id": sig.metric_id, "value": sig.value,
                "code": sig.code,
            })  # fmt: skip
        severity = inc.assess()
        if severity != inc.severity:
            was, inc.severity = inc.severity, severity
            self._note(inc, now, "severity", note=f"{was} → {severity}: {inc.title}")
        elif len(inc.devices) > before_devices and before_devices:
            self._note(inc, now, "evidence", note=f"device {sig.device_key} joins: {sig.kind}")

    def _device_evidence(self, inc: Incident, sig: SignalIn) -> None:
        assert sig.device_key is not None
        d = inc.devices.setdefault(sig.device_key, DeviceEvidence())
        if sig.state != "raised":
            return
        d.signals += 1
        if sig.source == "telemetry":
            metric = METRICS_BY_ID.get(sig.metric_id or -1)
            discrete = metric is not None and metric.unit in DISCRETE_UNITS
            d.stuck |= sig.kind == "stuck value" and not discrete
            d.heat |= metric is not None and metric.name == "temperature"
            d.severity = top(d.severity, "low" if d.stuck else "informational")
        elif sig.source == "silence":
            # One device offline is a hint; flapping (or staying away, see `tick`) is not.
            d.severity = top(d.severity, "low" if d.signals >= 3 else "informational")
        else:
            d.severity = top(d.severity, sig.severity)
            d.alarm |= sig.source == "event"
            d.controller_alarm |= sig.source == "event" and sig.code == "FIRE_ALARM"

    # -- time ------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Auto-resolve what stayed clear, escalate what nobody acknowledged, forget the old."""
        for key, inc in list(self.incidents.items()):
            if not inc.live:
                if now - (inc.resolved_at or now) > self.reopen_s and not inc.pending:
                    del self.incidents[key]
                continue
            if not inc.conditions and now >= inc.point_until:
                if inc.quiet_since is None:
                    inc.quiet_since = max(inc.point_until, inc.updated_at)
                if now - inc.quiet_since >= self.hold_s:
                    self._resolve(inc, now)
                    continue
            grace = self.grace.get(inc.cause)
            silent = [t for c, t in inc.conditions.items() if grace and c.startswith(grace[2])]
            if grace is not None and rank(inc.severity) < rank(grace[0]) and silent \
                    and now - min(silent) >= grace[1]:  # fmt: skip
                was, inc.severity = inc.severity, grace[0]
                self._note(inc, now, "severity", note=f"{was} → {grace[0]}: silent for"
                           f" {grace[1]:g} s")  # fmt: skip
            if inc.status == "open":
                level = self.escalation.due(inc.severity, inc.escalation, now - inc.escalate_from)
                if level is not None:
                    inc.escalation = level
                    self._note(inc, now, "escalation", note=f"not acknowledged: escalated to"
                               f" the {LEVELS[level]}", escalation=level)  # fmt: skip

    def _resolve(self, inc: Incident, now: float) -> None:
        was, inc.status, inc.resolved_at, inc.updated_at = inc.status, "resolved", now, now
        self._note(inc, now, "status", from_status=was, to_status="resolved",
                   note=f"condition cleared and stayed clear for {self.hold_s:g} s")  # fmt: skip

    def _reopen(self, inc: Incident, now: float) -> None:
        inc.status, inc.resolved_at, inc.reopened = "open", None, inc.reopened + 1
        inc.escalation, inc.escalate_from, inc.quiet_since = 0, now, None
        self._note(inc, now, "reopened", from_status="resolved", to_status="open",
                   note="the condition came back")  # fmt: skip

    def _note(self, inc: Incident, now: float, kind: str, *, from_status: str | None = None,
              to_status: str | None = None, note: str | None = None,
              escalation: int | None = None) -> None:  # fmt: skip
        inc.pending.append({
            "at": now, "kind": kind, "from_status": from_status,
            "to_status": to_status or inc.status, "note": note, "severity": inc.severity,
            "escalation": escalation,
        })  # fmt: skip

    # -- people ----------------------------------------------------------------------------
    def adopt_status(self, inc: Incident, status: str, now: float) -> None:
        """A person acknowledged or resolved it: escalation stops, the lifecycle follows."""
        if status == inc.status:
            return
        inc.status = status
        if status == "resolved":
            inc.resolved_at = now
        self.incidents[inc.key] = inc

    def live(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.live]

"""The correlator and escalation timers on a fake clock: grouping, corroboration, flapping,
outages, auto-resolve, re-open and the emergency chain."""

from __future__ import annotations

import itertools
from typing import Any

from detectors.correlator import Correlator, SignalIn
from gridwatch.catalogue import DEVICE_TYPES

_ids = itertools.count(1)


def metric_id(device_type: str, name: str) -> int:
    return next(m.metric_id for m in DEVICE_TYPES[device_type].metrics if m.name == name)


def sig(kind: str, source: str = "event", key: int | None = 1, state: str = "raised",
        severity: str = "medium", grid: str = "G1", micro: str | None = "M1",
        scope: str = "device", **kw: Any) -> SignalIn:  # fmt: skip
    return SignalIn(next(_ids), 0.0, scope, key, kw.pop("gateway", None), grid, micro, source,
                    kind, severity, state, **kw)  # fmt: skip


def kinds(c: Correlator) -> list[str]:
    return [p["kind"] for inc in c.incidents.values() for p in inc.pending]


def test_fire_evidence_corroborates_into_one_incident_of_rising_severity() -> None:
    c = Correlator()
    c.observe([sig("fire", key=1, code="SMOKE_ALARM")], now=0.0)
    (inc,) = c.incidents.values()
    assert (inc.cause, inc.severity) == ("fire", "medium")  # one detector: check on site
    c.observe([sig("fire", key=2, code="SMOKE_ALARM")], now=20.0)
    assert inc.severity == "high"  # two detectors agree
    heat = metric_id("smoke", "temperature")
    c.observe([sig("rare value", "telemetry", key=2, severity="low", metric_id=heat,
                   value=61.0)], now=40.0)  # fmt: skip
    assert inc.severity == "critical"  # and the temperature rises
    assert len(c.incidents) == 1 and sorted(inc.devices) == [1, 2]
    assert kinds(c) == ["opened", "severity", "severity", "severity"]


def test_a_lone_rare_reading_is_informational_and_never_escalates() -> None:
    c = Correlator()
    temp = metric_id("env", "temperature")
    c.observe([sig("rare value", "telemetry", severity="low", metric_id=temp)], now=0.0)
    (inc,) = c.incidents.values()
    assert (inc.cause, inc.severity) == ("sensor_fault", "informational")
    c.tick(now=10_000.0)
    assert "escalation" not in kinds(c)
    # The same sensor again, later: a persistent fault is worth a low-severity ticket.
    c.observe([sig("rare value", "telemetry", severity="low", metric_id=temp)], now=700.0)
    assert inc.severity == "low"


def test_flapping_updates_one_incident_then_resolves_once_it_stays_clear() -> None:
    c = Correlator(hold_s=300.0)
    t = 0.0
    for _ in range(10):  # offline / back every 40 s
        c.observe([sig("offline", "silence", severity="low")], now=t)
        c.tick(t)
        c.observe([sig("offline", "silence", severity="low", state="cleared")], now=t + 20)
        c.tick(t + 20)
        t += 40
    (inc,) = c.incidents.values()
    assert inc.cause == "device_offline" and inc.live and inc.signals == 20
    assert inc.severity == "low"  # flapping is worth a ticket
    last_clear = t - 20
    c.tick(last_clear + 299)
    assert inc.live  # not clear for long enough yet
    c.tick(last_clear + 301)
    assert inc.status == "resolved"
    # It comes back soon after: the same incident re-opens with its history.
    c.observe([sig("offline", "silence", severity="low")], now=t + 600)
    assert inc.live and inc.reopened == 1 and len(c.incidents) == 1
    assert kinds(c).count("opened") == 1 and kinds(c).count("reopened") == 1


def test_one_device_offline_is_a_hint_until_it_stays_away() -> None:
    c = Correlator(offline_grace_s=600.0)
    c.observe([sig("offline", "silence", severity="low")], now=0.0)
    (inc,) = c.incidents.values()
    c.tick(599.0)
    assert inc.severity == "informational"
    c.tick(600.0)
    assert inc.severity == "low"


def test_a_silent_gateway_is_raised_only_once_it_stays_silent() -> None:
    c = Correlator(gateway_grace_s=90.0)
    c.observe([sig("gateway silent", "silence", key=None, scope="gateway", gateway="gw1",
                   severity="medium")], now=0.0)  # fmt: skip
    (inc,) = c.incidents.values()
    c.tick(89.0)
    assert inc.severity == "informational"  # a late batch looks the same for a minute
    c.tick(90.0)
    assert inc.severity == "medium"


def test_devices_behind_a_silent_gateway_join_its_incident() -> None:
    c = Correlator()
    c.observe([sig("gateway silent", "silence", key=None, scope="gateway", gateway="gw1",
                   severity="medium")], now=0.0)  # fmt: skip
    c.observe([sig("offline", "silence", key=k, gateway="gw1", severity="low")
               for k in range(5)], now=1.0)  # fmt: skip
    c.observe([sig("offline", "silence", key=9, gateway="gw2", severity="low")], now=1.0)
    assert sorted(c.incidents) == [("G1", "device_offline", "9"), ("G1", "gateway_offline", "")]
    assert len(c.incidents[("G1", "gateway_offline", "")].devices) == 5


def test_devices_quiet_before_their_gateway_fold_into_its_incident() -> None:
    c = Correlator()
    c.observe([sig("offline", "silence", key=k, gateway="gw1", severity="low")
               for k in range(3)], now=0.0)  # fmt: skip
    c.observe([sig("offline", "silence", key=9, gateway="gw2", severity="low")], now=0.0)
    c.observe([sig("gateway silent", "silence", key=None, scope="gateway", gateway="gw1",
                   severity="medium")], now=5.0)  # fmt: skip
    assert sorted(c.incidents) == [("G1", "device_offline", "9"), ("G1", "gateway_offline", "")]
    assert sorted(c.incidents[("G1", "gateway_offline", "")].devices) == [0, 1, 2]


def test_a_grid_wide_silence_is_one_outage_incident() -> None:
    c = Correlator()
    signals = [sig("power", key=k, code="9") for k in (1, 2)]
    signals += [sig("gateway silent", "silence", key=None, scope="gateway", gateway=f"gw{i}",
                    severity="medium") for i in range(3)]  # fmt: skip
    signals.append(sig("grid silent", "silence", key=None, scope="grid", severity="high"))
    signals += [sig("offline", "silence", key=k, severity="low") for k in range(10, 20)]
    c.observe(signals, now=0.0)
    causes = {inc.cause for inc in c.incidents.values()}
    assert causes == {"grid_outage"}, causes
    (inc,) = c.incidents.values()
    assert inc.severity == "medium"  # the elevators' power cuts, at once
    c.tick(89.0)
    assert inc.severity == "medium"
    c.tick(90.0)
    assert inc.severity == "high"  # and a grid silent for 90 s: not a late batch


def test_a_rare_but_harmless_hazard_reading_is_a_sensor_matter() -> None:
    c = Correlator()
    gas = metric_id("gas", "gas")
    c.observe([sig("rare value", "telemetry", key=k, severity="low", metric_id=gas, value=0.6)
               for k in (1, 2, 3)], now=0.0)  # fmt: skip
    # One ticket per sensor, each a hint only.
    assert [(i.cause, i.subject, i.severity) for i in c.incidents.values()] == [
        ("sensor_fault", str(k), "informational") for k in (1, 2, 3)
    ]
    c.observe([sig("rare value", "telemetry", key=4, severity="low", metric_id=gas, value=18)],
              now=0.0)  # fmt: skip
    assert (
        c.incidents[("G1", "gas_leak", "")].severity == "informational"
    )  # a hint, until it repeats


def test_a_side_effect_of_a_live_hazard_joins_it() -> None:
    c = Correlator()
    c.observe([sig("entrapment", key=5, code="7", severity="high")], now=0.0)
    speed = metric_id("elevator", "speed")
    c.observe([sig("stuck value", "telemetry", key=5, severity="low", metric_id=speed)], 60.0)
    assert [i.cause for i in c.incidents.values()] == ["elevator_entrapment"]
    # The same kind of signal from a device outside the incident is a fault of its own.
    c.observe([sig("stuck value", "telemetry", key=6, severity="low", metric_id=speed)], 60.0)
    assert {i.cause for i in c.incidents.values()} == {"elevator_entrapment", "sensor_fault"}


def test_a_door_closed_all_night_is_not_a_stuck_sensor() -> None:
    c = Correlator()
    door = metric_id("elevator", "door_open")
    c.observe([sig("stuck value", "telemetry", key=3, severity="low", metric_id=door)], 0.0)
    assert [i.severity for i in c.incidents.values()] == ["informational"]


def test_grids_and_causes_stay_apart() -> None:
    c = Correlator()
    c.observe([sig("gas", key=1, severity="high", grid="G1"),
               sig("gas", key=2, severity="high", grid="G2"),
               sig("fire", key=3, grid="G1")], now=0.0)  # fmt: skip
    assert sorted(c.incidents) == [("G1", "fire", ""), ("G1", "gas_leak", ""),
                                   ("G2", "gas_leak", "")]  # fmt: skip


def test_unacknowledged_critical_escalates_up_the_chain_on_time() -> None:
    c = Correlator()
    c.observe([sig("entrapment", code="8", severity="critical")], now=1000.0)
    (inc,) = c.incidents.values()
    c.tick(1119.0)
    assert inc.escalation == 0
    c.tick(1120.0)
    assert inc.escalation == 1  # community emergency manager after 2 min
    c.tick(1299.0)
    assert inc.escalation == 1
    c.tick(1300.0)
    assert inc.escalation == 2  # leadership group after 5 min
    notes = [p["note"] for p in inc.pending if p["kind"] == "escalation"]
    assert len(notes) == 2 and "leadership" in notes[1]


def test_acknowledging_stops_escalation() -> None:
    c = Correlator()
    c.observe([sig("gas", severity="high")], now=0.0)
    (inc,) = c.incidents.values()
    c.adopt_status(inc, "acknowledged", now=100.0)
    c.tick(10_000.0)
    assert inc.escalation == 0 and "escalation" not in kinds(c)


def test_an_incident_turning_critical_escalates_on_the_critical_deadline() -> None:
    c = Correlator()
    c.observe([sig("fire", key=1, code="SMOKE_ALARM")], now=0.0)  # medium: 15 min
    c.tick(100.0)
    (inc,) = c.incidents.values()
    assert inc.escalation == 0
    c.observe([sig("fire", key=2, code="FIRE_ALARM", severity="high")], now=110.0)
    assert inc.severity == "critical"
    c.tick(121.0)  # 2 min after it opened
    assert inc.escalation == 1


def test_a_clear_for_a_condition_nobody_saw_opens_nothing() -> None:
    c = Correlator()
    c.observe([sig("offline", "silence", state="cleared")], now=0.0)
    assert not c.incidents

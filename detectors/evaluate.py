"""`gridwatch eval`: a scenario through the whole path, scored against its ground truth.

simulator → broker → ingest → detectors → correlator, in a database of its own (created on
the configured server and dropped after). The telemetry detector decides only after a day of
learning, so the city's previous `warm_h` hours are fed to the detectors first, straight
from the simulator (no broker: it is learning, not the run under test); then the scenario
is published through the broker at `speed`, on a simulated clock the detectors and the
correlator share.

Scoring: an incident counts as raised once its severity reaches `low` (informational hints
are never written as incidents). A raised incident matches a ground-truth incident of the same
grid and cause raised between its start (less 2 min) and its end (plus 15 min); one that
matches none is a false alert.

Time to alert runs from the moment the incident became observable — its first device alarm
where it has one (a fire's first smoke alarm), otherwise its start — to the moment it was
raised, as it would be at speed 1: simulated time, except the pipeline's own delay (from the
first signal's time to the incident opening), which the replay stretches by `speed` and is
counted back at its real length — so a fast replay neither hides nor inflates it.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import numpy as np

from gridwatch.catalogue import METRICS_BY_ID
from gridwatch.db import Conn, connect, scratch_database
from gridwatch.incidents import SEVERITIES, rank
from gridwatch.run import Pipeline
from gridwatch.schema.migrate import migrate
from gridwatch.settings import Settings

RAISED = "low"
URGENT = ("building_fire", "elevator_entrapment", "gas_leak")
TARGETS = {"recall": 0.95, "precision": 0.9, "storm_factor": 1.2, "urgent_p95_s": 10.0}


class SimClock:
    """Simulated time: set by hand while warming up, then running at `speed`, then frozen."""

    def __init__(self, t: float) -> None:
        self.t, self.wall0, self.speed = t, 0.0, 0.0

    def run(self, t: float, speed: float) -> None:
        self.t, self.wall0, self.speed = t, time.time(), speed

    def freeze(self, t: float) -> None:
        self.t, self.speed = t, 0.0

    def __call__(self) -> float:
        return self.t + (time.time() - self.wall0) * self.speed if self.speed else self.t


def evaluate(settings: Settings, scenario: str, seed: int, scale: float = 0.0005,
             speed: float = 20.0, warm_h: float = 25.0, city_seed: int = 1,
             mode: str = "gateway", progress: Any = print) -> dict[str, Any]:  # fmt: skip
    from simulators.city import generate
    from simulators.city_store import load_fleet, write_city
    from simulators.engine import Simulation
    from simulators.faults import FaultInjector
    from simulators.publisher import Publisher
    from simulators.run import run
    from simulators.scenarios import Scenario, load_scenario

    spec = load_scenario(scenario)
    warm_s = warm_h * 3600
    wall_start = time.monotonic()
    with scratch_database(settings, "gw_eval") as own:
        own = own.model_copy(
            update={"data_dir": settings.data_dir / f"eval-{uuid.uuid4().hex[:8]}"}
        )
        with connect(own) as conn:
            migrate(conn, own)
            write_city(conn, generate(scale, seed=city_seed), progress=lambda _: None)
            fleet = load_fleet(conn)
        shifted = Scenario(name=spec.name, duration=spec.duration + warm_s, faults=spec.faults,
                           incidents=[i.model_copy(update={"at": i.at + warm_s})
                                      for i in spec.incidents])  # fmt: skip
        s0 = time.time() - warm_s - spec.duration
        live_from = s0 + warm_s
        sim = Simulation(fleet, shifted, seed, s0, mode)  # type: ignore[arg-type]
        clock = SimClock(s0)
        pipeline = Pipeline(own, clock=clock, scan_s=max(0.2, 10.0 / speed))
        progress(f"eval {spec.name}: {len(fleet):,} devices; learning {warm_h:g} h of normal life")
        _warm(own, pipeline, sim, s0, live_from, clock)
        progress(f"publishing {spec.duration / 60:g} simulated minutes at {speed:g}x")
        pipeline.start()
        pub = Publisher(own.mqtt, f"gridwatch-eval-{uuid.uuid4().hex[:8]}")
        time.sleep(2.0)  # ingest subscribed and the publisher connected before time runs:
        clock.run(live_from, speed)  # at 20x a few seconds of start-up look like an outage
        try:
            run(sim, pub, spec.duration, speed, FaultInjector(spec.faults, seed), since=live_from)
        finally:
            pub.close()
        clock.freeze(live_from + spec.duration)
        _settle(own, pipeline)
        pipeline.stop()
        with connect(own) as conn:
            result = score(conn, sim.truth(), speed)
    result.update(scenario=spec.name, seed=seed, scale=scale, devices=len(fleet), speed=speed,
                  wall_s=round(time.monotonic() - wall_start, 1))  # fmt: skip
    return result


def _warm(settings: Settings, pipeline: Pipeline, sim: Any, t0: float, t1: float,
          clock: SimClock, step_s: float = 60.0) -> None:  # fmt: skip
    from ingest.decode import Decoder
    from ingest.messages import Received
    from ingest.registry import Registry

    with connect(settings) as conn:
        decoder = Decoder(Registry(conn))
        t = t0
        while t < t1:
            end = min(t + step_s, t1)
            msgs = sim.step(t, end)
            clock.freeze(end)
            now = dt.datetime.fromtimestamp(end, dt.UTC)
            decoded = decoder.decode([Received(m.topic, m.payload, 0, 1, now) for m in msgs])
            pipeline.detection.process(decoded)  # learning: its signals are not the test's
            pipeline.detection.scan(end)
            t = end


def _settle(settings: Settings, pipeline: Pipeline, timeout_s: float = 60.0) -> None:
    """Wait until ingest, the detectors and the correlator have taken everything in."""
    deadline = time.monotonic() + timeout_s
    last = -1
    with connect(settings) as conn:
        while time.monotonic() < deadline:
            time.sleep(1.0)
            stored = int(pipeline.ingest.stats()["readings_stored"])
            row = conn.execute("SELECT coalesce(max(signal_id), 0) FROM device_signal").fetchone()
            newest = int(row[0]) if row else 0
            idle = pipeline.detection.queue.empty() and stored == last
            if idle and pipeline.alerts.stats()["cursor"] >= newest:
                time.sleep(1.0)  # one more correlator round for the last signals
                return
            last = stored


def score(conn: Conn, truth: list[dict[str, Any]], speed: float) -> dict[str, Any]:
    """Compare the incidents in `conn` with the ground truth (see the module's docstring)."""
    floor = [s for s in SEVERITIES if rank(s) >= rank(RAISED)]
    rows = conn.execute(
        "SELECT a.alert_id, a.grid_code, a.cause, a.severity, a.evidence,"
        " (SELECT min(t.at) FROM alert_transition t WHERE t.alert_id = a.alert_id"
        "  AND t.severity = ANY(%s)), a.opened_at FROM alert a ORDER BY a.alert_id",
        (floor,),
    ).fetchall()
    raised = [r for r in rows if r[5] is not None]
    matched: dict[int, list[tuple[Any, ...]]] = {i: [] for i in range(len(truth))}
    false_alerts = []
    for alert in raised:
        at = alert[5].timestamp()
        hits = [i for i, t in enumerate(truth) if (t["grid"], t["cause"]) == alert[1:3]
                and t["start"] - 120 <= at <= t["end"] + 900]  # fmt: skip
        for i in hits:
            matched[i].append(alert)
        if not hits:
            why = [f"device {e['device_key']} {e['source']} {e['kind']}"
                   f" {METRICS_BY_ID[e['metric_id']].name + '=' if e['metric_id'] else ''}"
                   f"{e['value'] if e['value'] is not None else e['code'] or ''}"
                   for e in alert[4][:6]]  # fmt: skip
            false_alerts.append({"alert_id": alert[0], "grid": alert[1], "cause": alert[2],
                                 "severity": alert[3], "evidence": why})  # fmt: skip
    per_incident, ttas, urgent, delays = [], [], [], []
    for i, t in enumerate(truth):
        alerts = matched[i]
        entry: dict[str, Any] = {"type": t["type"], "cause": t["cause"], "grid": t["grid"],
                                 "found": bool(alerts), "alerts": len(alerts)}  # fmt: skip
        if alerts:
            first = min(alerts, key=lambda a: a[5])
            tta, delay = _time_to_alert(first, t, speed)
            ttas.append(tta)
            delays.append(delay)
            if t["type"] in URGENT:
                urgent.append(tta)
            entry.update(time_to_alert_s=round(tta, 1), severity=max(
                (a[3] for a in alerts), key=rank))  # fmt: skip
        per_incident.append(entry)
    found = sum(e["found"] for e in per_incident)
    true_alerts = sum(len(a) for a in matched.values())
    result: dict[str, Any] = {
        "recall": round(found / len(truth), 3) if truth else 1.0,
        "precision": round((len(raised) - len(false_alerts)) / len(raised), 3) if raised else 1.0,
        "storm_factor": round(true_alerts / found, 2) if found else 0.0,
        "time_to_alert_p50_s": _pct(ttas, 50),
        "time_to_alert_p95_s": _pct(ttas, 95),
        "urgent_time_to_alert_p95_s": _pct(urgent, 95),
        "pipeline_delay_p95_s": _pct(delays, 95),
        "incidents_true": len(truth),
        "incidents_found": found,
        "alerts_raised": len(raised),
        "device_signals": int(conn.execute("SELECT count(*) FROM device_signal").fetchone()[0]),  # type: ignore[index]
        "false_alerts": false_alerts,
        "highest_false_severity": max(
            (f["severity"] for f in false_alerts), key=rank, default=None
        ),
        "incidents": per_incident,
    }
    result["targets_met"] = _targets_met(result)
    return result


def _time_to_alert(alert: tuple[Any, ...], truth: dict[str, Any], speed: float
                   ) -> tuple[float, float]:  # fmt: skip
    """Seconds from observable to raised as at speed 1, and the pipeline's share.

    The pipeline's delay `d` (the first signal's own time to the correlator opening the
    incident) is real seconds stretched by the replay to `d` simulated ones; it counts as
    d / speed, everything else (readings needed, a silence's grace) at face value."""
    raised_at, opened_at = alert[5].timestamp(), alert[6].timestamp()
    observable = truth["alarm_at"] if truth.get("alarm_at") is not None else truth["start"]
    first = min((float(e["at"]) for e in alert[4]), default=opened_at)
    stretched = max(0.0, opened_at - first)
    pipeline = stretched / speed
    return max(0.0, raised_at - observable - stretched + pipeline), pipeline


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _targets_met(r: dict[str, Any]) -> bool:
    """The issue's targets; a quiet day's only target: nothing above low."""
    if r["incidents_true"] == 0:
        return rank(r["highest_false_severity"] or "low") <= rank("low")
    urgent = r["urgent_time_to_alert_p95_s"]
    return (
        r["recall"] >= TARGETS["recall"]
        and r["precision"] >= TARGETS["precision"]
        and r["storm_factor"] <= TARGETS["storm_factor"]
        and (urgent is None or urgent <= TARGETS["urgent_p95_s"])
    )

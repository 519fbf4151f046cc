import numpy as np
import orjson
import pytest

from gridwatch.catalogue import DEVICE_TYPES
from gridwatch.contract import Event, GatewayBatch, Status, Telemetry, Topic
from simulators.city import generate
from simulators.engine import Outgoing, Simulation
from simulators.faults import FaultInjector
from simulators.scenarios import Faults, Scenario, builtin_names, load_scenario

START = 1_790_000_000.0
FLEET = generate(0.002, seed=5).fleet


def _run(scenario: Scenario, seed: int, mode: str = "gateway") -> tuple[Simulation, list[Outgoing]]:
    sim = Simulation(FLEET, scenario, seed, START, mode)  # type: ignore[arg-type]
    out: list[Outgoing] = []
    t = START
    while t < START + scenario.duration:
        out += sim.step(t, t + 30.0)
        t += 30.0
    return sim, out + sim.finish()


def test_every_builtin_scenario_loads() -> None:
    names = builtin_names()
    assert {"quiet_day", "building_fire", "elevator_entrapment", "power_outage",
            "gateway_failure", "gas_leak", "flooding", "sensor_drift", "stuck_sensor",
            "flapping_device"} <= set(names)  # fmt: skip
    for name in names:
        assert load_scenario(name).name == name


def test_unknown_incident_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown incident type 'meteor'"):
        Scenario.model_validate({"name": "x", "incidents": [{"type": "meteor", "at": 0}]})


@pytest.mark.parametrize("mode", ["direct", "gateway"])
def test_payloads_follow_the_contract(mode: str) -> None:
    _, out = _run(load_scenario("building_fire"), seed=2, mode=mode)
    kinds = set()
    for msg in out:
        topic = Topic.parse(msg.topic)
        body = orjson.loads(msg.payload)
        if topic.is_gateway:
            assert topic.channel in ("batch", "status")
            if topic.channel == "batch":
                batch = GatewayBatch.model_validate(body)
                assert batch.gateway == topic.device_id
                for rec in batch.records:
                    kinds.add(rec.channel)
                    assert rec.metrics is None or set(rec.metrics) <= _metric_names(rec.type)
            continue
        model = {"telemetry": Telemetry, "event": Event, "status": Status}[topic.channel]
        parsed = model.model_validate(body)
        kinds.add(topic.channel)
        if isinstance(parsed, Telemetry):
            spec = DEVICE_TYPES[topic.device_type]
            for name, value in parsed.metrics.items():
                m = spec.metric(name)
                assert m is not None and m.low <= value <= m.high
    assert {"telemetry", "event"} <= kinds


def _metric_names(dtype: str) -> set[str]:
    return {m.name for m in DEVICE_TYPES[dtype].metrics}


def test_same_seed_same_stream() -> None:
    _, a = _run(load_scenario("gas_leak"), seed=9)
    _, b = _run(load_scenario("gas_leak"), seed=9)
    assert [(m.topic, m.payload) for m in a] == [(m.topic, m.payload) for m in b]
    _, c = _run(load_scenario("gas_leak"), seed=10)
    assert [m.payload for m in a] != [m.payload for m in c]


def test_each_injected_incident_is_in_the_truth_and_in_the_stream() -> None:
    spec = load_scenario("combined_day").model_copy(update={"duration": 3600.0})
    spec = spec.model_copy(update={"incidents": spec.incidents[:3]})
    sim, out = _run(spec, seed=4)
    truth = sim.truth()
    assert [t["type"] for t in truth] == [i.type for i in spec.incidents]
    for t, inc in zip(truth, spec.incidents, strict=True):
        assert t["start"] == START + inc.at and t["end"] == START + inc.at + inc.duration
        assert t["devices"], t
    blob = b"".join(m.payload for m in out)
    for device in truth[0]["devices"]:  # the gas leak's detector reports its alarm
        assert device.encode() in blob
    assert b'"GAS_ALARM"' in blob
    assert b'"SMOKE_ALARM"' in blob  # the building fire's smoke detectors alarm


def test_quiet_day_has_no_incident_and_no_event() -> None:
    sim, out = _run(Scenario(name="q", duration=600), seed=1)
    assert sim.truth() == []
    assert not any(b'"code"' in m.payload for m in out)
    reports = sum(m.records for m in out)
    assert reports == pytest.approx(len(FLEET) * 10, rel=0.01)  # one report a minute each


def test_gas_leak_raises_the_gas_reading() -> None:
    sim, out = _run(load_scenario("gas_leak"), seed=3)
    device = sim.truth()[0]["devices"][0]
    values = []
    for m in out:
        body = orjson.loads(m.payload)
        for rec in body.get("records", [body]):
            if rec.get("device", m.topic.split("/")[4]) == device and "metrics" in rec:
                values.append(rec["metrics"]["gas"])
    assert max(values) > 20 > np.median(values)


def test_silenced_devices_do_not_report_during_the_outage() -> None:
    sim, out = _run(load_scenario("gateway_failure"), seed=6)
    inc = sim.incidents[0]
    silent = set(FLEET.device_id[inc.silent].tolist())
    for m in out:
        body = orjson.loads(m.payload)
        for rec in body.get("records", []):
            if rec["device"] in silent and rec["channel"] == "telemetry":
                ts = np.datetime64(rec["ts"].rstrip("Z")).astype("datetime64[ms]").astype(float)
                assert not inc.start * 1000 <= ts < inc.end * 1000
    statuses = [m for m in out if m.topic.endswith(f"{inc.gateway}/status")]
    assert [orjson.loads(m.payload)["online"] for m in statuses] == [False, True]


def test_faults_are_injected_and_counted() -> None:
    faults = Faults(malformed=0.05, truncated=0.05, unknown_device=0.05, duplicate=0.05,
                    late=0.05, late_by_s=60)  # fmt: skip
    _, clean = _run(Scenario(name="q", duration=300), seed=1)
    injector = FaultInjector(faults, seed=1)
    dirty = injector.apply(clean, START + 300) + injector.drain()
    c = injector.counts
    assert all(c[k] > 0 for k in ("malformed", "truncated", "unknown_device", "duplicate", "late"))
    assert len(dirty) == len(clean) + c["duplicate"]
    assert sum(1 for m in dirty if "/ghost-" in m.topic) == c["unknown_device"]

"""Device types and their metrics: the per-type schema of the MQTT contract.

Metric ids are stable small integers: they are what the readings table stores, so an id is
never reused for another metric. Ranges are the sensor's physical range; a value outside it
is rejected at ingest as impossible, not merely unusual.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    metric_id: int
    device_type: str
    name: str
    unit: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class DeviceType:
    name: str
    description: str
    report_interval_s: int
    metrics: tuple[Metric, ...]

    def metric(self, name: str) -> Metric | None:
        for m in self.metrics:
            if m.name == name:
                return m
        return None


def _metrics(
    device_type: str, first_id: int, *specs: tuple[str, str, float, float]
) -> tuple[Metric, ...]:
    return tuple(
        Metric(first_id + i, device_type, name, unit, low, high)
        for i, (name, unit, low, high) in enumerate(specs)
    )


_BATTERY = ("battery", "%", 0.0, 100.0)

DEVICE_TYPES: dict[str, DeviceType] = {
    t.name: t
    for t in (
        DeviceType(
            "elevator",
            "Elevator monitor (GB/T 24476 remote monitoring)",
            60,
            _metrics(
                "elevator",
                1,
                ("floor", "floor", -10, 200),
                ("direction", "-1/0/1", -1, 1),
                ("speed", "m/s", 0, 12),
                ("door_open", "0/1", 0, 1),
                ("load", "kg", 0, 5000),
                ("vibration", "m/s2", 0, 50),
            ),
        ),
        DeviceType(
            "fire",
            "Fire-protection controller of a micro fire station (GB 26875.3)",
            60,
            _metrics(
                "fire",
                20,
                ("smoke", "%obs/m", 0, 100),
                ("temperature", "degC", -40, 300),
                ("hydrant_pressure", "MPa", 0, 3),
                ("sprinkler_pressure", "MPa", 0, 3),
                ("tank_level", "m", 0, 30),
            ),
        ),
        DeviceType(
            "smoke",
            "Independent photoelectric smoke detector",
            60,
            _metrics(
                "smoke",
                40,
                ("smoke", "%obs/m", 0, 100),
                ("temperature", "degC", -40, 300),
                _BATTERY,
            ),
        ),
        DeviceType(
            "gas",
            "Combustible gas detector",
            60,
            _metrics(
                "gas", 50, ("gas", "%LEL", 0, 100), ("temperature", "degC", -40, 150), _BATTERY
            ),
        ),
        DeviceType(
            "water",
            "Water-level sensor (basements, underpasses, riverbanks)",
            60,
            _metrics("water", 60, ("water_level", "cm", -100, 1000), _BATTERY),
        ),
        DeviceType(
            "door",
            "Door-magnet sensor (fire exits, equipment rooms)",
            60,
            _metrics("door", 70, ("open", "0/1", 0, 1), _BATTERY),
        ),
        DeviceType(
            "manhole",
            "Manhole-cover sensor",
            60,
            _metrics(
                "manhole", 80, ("tilt", "deg", 0, 180), ("water_level", "cm", -100, 1000), _BATTERY
            ),
        ),
        DeviceType(
            "env",
            "Environment station (temperature, humidity)",
            60,
            _metrics("env", 90, ("temperature", "degC", -50, 80), ("humidity", "%RH", 0, 100)),
        ),
        DeviceType(
            "video",
            "Village/community video point (GB/T 28181)",
            60,
            _metrics(
                "video",
                100,
                ("online", "0/1", 0, 1),
                ("frame_rate", "fps", 0, 240),
                ("bitrate", "kbit/s", 0, 200_000),
            ),
        ),
    )
}

METRICS_BY_ID: dict[int, Metric] = {
    m.metric_id: m for t in DEVICE_TYPES.values() for m in t.metrics
}

# Early-warning floors: a rare reading past one is evidence of a hazard, not of a faulty
# sensor (half a gas detector's usual 10 %LEL low alarm; a fifth of a smoke detector's
# alarm; a heat detector's 54 °C less a margin; water well above a sensor's zero).
HAZARD_FLOORS: dict[str, float] = {"smoke": 1.0, "gas": 5.0, "water_level": 60.0,
                                   "temperature": 40.0}  # fmt: skip

CHANNELS = ("telemetry", "event", "status")

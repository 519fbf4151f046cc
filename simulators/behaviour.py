"""Normal telemetry per device type: daily rhythm plus noise, vectorised over devices.

Each device has a stable personality (offsets) derived from its index, so that a detector
has something honest to learn and two runs with one seed agree.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Metrics = dict[str, np.ndarray]
_DAY = 86_400.0


def personality(idx: np.ndarray, salt: int = 0) -> np.ndarray:
    """A stable value in [0, 1) per device index (Knuth multiplicative hash)."""
    return (
        ((idx.astype(np.uint64) + np.uint64(salt)) * np.uint64(2654435761)) % np.uint64(1 << 32)
    ).astype(np.float64) / float(1 << 32)


def daily(t: np.ndarray, peak_hour: float = 15.0) -> np.ndarray:
    """Cosine in [-1, 1] peaking at `peak_hour` local time (UTC+8)."""
    hours = ((t + 8 * 3600) % _DAY) / 3600.0
    return np.cos(2 * np.pi * (hours - peak_hour) / 24.0)


def activity(t: np.ndarray) -> np.ndarray:
    """People moving about, in [0, 1]: peaks at 8:00 and 18:30, low at night."""
    hours = ((t + 8 * 3600) % _DAY) / 3600.0
    return np.clip(
        0.1 + 0.8 * np.exp(-((hours - 8.0) ** 2) / 2) + 0.9 * np.exp(-((hours - 18.5) ** 2) / 3),
        0,
        1,
    )


def _battery(idx: np.ndarray, t: np.ndarray) -> np.ndarray:
    # Drains ~1 % a month from a per-device start level; reported in whole percent.
    return np.floor(np.clip(60 + 40 * personality(idx, 7) - t / (30 * _DAY) % 1, 0, 100))


def _elevator(idx: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Metrics:
    n = len(idx)
    moving = rng.random(n) < 0.1 + 0.4 * activity(t)
    floors = 6 + np.floor(personality(idx, 1) * 28)
    direction = np.where(moving, rng.choice([-1.0, 1.0], n), 0.0)
    speed = np.where(moving, 1.0 + 1.5 * personality(idx, 2) + rng.normal(0, 0.05, n), 0.0)
    return {
        "floor": np.floor(rng.random(n) * floors) + 1,
        "direction": direction,
        "speed": np.clip(speed, 0, None).round(2),
        "door_open": np.where(moving, 0.0, (rng.random(n) < 0.15).astype(float)),
        "load": np.where(moving, np.clip(rng.normal(280, 140, n), 0, 1600), 0.0).round(0),
        "vibration": np.clip(rng.normal(0.12 + 0.25 * moving, 0.03, n), 0, None).round(3),
    }


def _fire(idx: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Metrics:
    n = len(idx)
    return {
        "smoke": np.abs(rng.normal(0.02, 0.01, n)).round(3),
        "temperature": (19 + 4 * personality(idx) + 3 * daily(t) + rng.normal(0, 0.2, n)).round(2),
        "hydrant_pressure": (0.30 + 0.1 * personality(idx, 3) + rng.normal(0, 0.005, n)).round(3),
        "sprinkler_pressure": (0.45 + 0.1 * personality(idx, 4) + rng.normal(0, 0.005, n)).round(3),
        "tank_level": (2.5 + personality(idx, 5) + rng.normal(0, 0.01, n)).round(3),
    }


def _smoke(idx: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Metrics:
    n = len(idx)
    return {
        "smoke": np.abs(rng.normal(0.02, 0.01, n)).round(3),
        "temperature": (20 + 4 * personality(idx) + 3 * daily(t) + rng.normal(0, 0.2, n)).round(2),
        "battery": _battery(idx, t),
    }


def _gas(idx: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Metrics:
    n = len(idx)
    return {
        "gas": np.clip(
            0.3 * personality(idx)
            + 0.4 * activity(t) * personality(idx, 9)
            + rng.normal(0, 0.08, n),
            0,
            None,
        ).round(2),
        "temperature": (21 + 4 * personality(idx) + 3 * daily(t) + rng.normal(0, 0.2, n)).round(2),
        "battery": _battery(idx, t),
    }


def _water(idx: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Metrics:
    n = len(idx)
    return {
        "water_level": (5 + 20 * personality(idx) + rng.normal(0, 0.8, n)).round(1),
        "battery": _battery(idx, t),
    }


def _door(idx: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Metrics:
    n = len(idx)
    return {
        "open": (rng.random(n) < 0.02 + 0.1 * activity(t)).astype(float),
        "battery": _battery(idx, t),
    }


def _manhole(idx: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Metrics:
    n = len(idx)
    return {
        "tilt": np.abs(0.5 + 1.5 * personality(idx) + rng.normal(0, 0.1, n)).round(2),
        "water_level": (10 + 30 * personality(idx, 2) + rng.normal(0, 1.0, n)).round(1),
        "battery": _battery(idx, t),
    }


def _env(idx: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Metrics:
    n = len(idx)
    d = daily(t)
    return {
        "temperature": (15 + 3 * personality(idx) + 6 * d + rng.normal(0, 0.3, n)).round(2),
        "humidity": np.clip(
            70 - 15 * d + 10 * personality(idx, 1) + rng.normal(0, 1.5, n), 5, 100
        ).round(1),
    }


def _video(idx: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Metrics:
    n = len(idx)
    return {
        "online": np.ones(n),
        "frame_rate": np.clip(25 + rng.normal(0, 0.4, n), 0, None).round(1),
        "bitrate": np.clip(
            4096 + 1000 * personality(idx) + 300 * activity(t) + rng.normal(0, 120, n), 0, None
        ).round(0),
    }


BEHAVIOURS: dict[str, Callable[[np.ndarray, np.ndarray, np.random.Generator], Metrics]] = {
    "elevator": _elevator,
    "fire": _fire,
    "smoke": _smoke,
    "gas": _gas,
    "water": _water,
    "door": _door,
    "manhole": _manhole,
    "env": _env,
    "video": _video,
}

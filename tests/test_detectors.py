"""Detectors: one contract for every model, the CSV path, persistence, NAB's scorer."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pytest

from detectors.csv_stream import CsvError, detect_csv, detect_rows
from detectors.nab_score import PROFILES, ScoredFile, normalised
from detectors.protocol import Model, Single
from detectors.rarity import Rarity
from detectors.stuck import Stuck
from detectors.telemetry import KINDS, TelemetryDetector

MODELS: dict[str, type] = {"rarity": Rarity, "stuck": Stuck}


def _series(seed: int, n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 20 + 5 * np.sin(t / 30) + rng.normal(0, 0.5, n)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_contract(name: str) -> None:
    """Scores in [0, 1]; scoring changes nothing; a batch equals the same readings one by one;
    state restored gives the same scores."""
    x = _series(1)
    batch: Model = MODELS[name]()
    batch.grow(3)
    singles = [Single(MODELS[name]()) for _ in range(3)]
    rng = np.random.default_rng(2)
    for v in x:
        vals = v + rng.normal(0, 0.1, 3)
        idx = np.arange(3)
        before = {k: a.copy() for k, a in batch.state().items()}
        s = batch.score(idx, vals)
        assert all(np.array_equal(before[k], a) for k, a in batch.state().items())
        assert ((s >= 0) & (s <= 1)).all()
        one = [d.score_one(float(val)) for d, val in zip(singles, vals, strict=True)]
        assert np.allclose(s, one)
        batch.learn(idx, vals)
        for d, val in zip(singles, vals, strict=True):
            d.learn_one(float(val))
    clone: Model = MODELS[name]()
    clone.restore(batch.state())
    probe = np.array([x[-1], 1e6, -3.0])
    assert np.array_equal(clone.score(np.arange(3), probe), batch.score(np.arange(3), probe))


def test_a_point_never_sees_itself() -> None:
    """A value far outside everything seen is scored before it is learned."""
    d = Single(Rarity(warmup=10))
    for v in _series(3, 200):
        d.score_one(float(v))
        d.learn_one(float(v))
    assert d.score_one(500.0) > 0.99
    d.learn_one(500.0)
    assert d.score_one(500.0) < d.score_one(900.0)


def test_telemetry_detector_finds_a_spike_and_a_stuck_sensor_and_stays_quiet_otherwise() -> None:
    det = TelemetryDetector()
    rng = np.random.default_rng(5)
    quiet_flags = 0
    for i in range(3000):
        x = np.array([20 + 3 * np.sin(i / 50) + rng.normal(0, 0.3), 50 + rng.normal(0, 2)])
        quiet_flags += int(det.process(np.array([0, 1]), x).is_anomaly.sum())
    spike = det.process(np.array([0, 1]), np.array([60.0, 50.0]))
    assert quiet_flags <= 3 and spike.is_anomaly.tolist() == [True, False]
    assert KINDS[spike.kind[0]] == "rare value"
    kinds = []
    for _ in range(80):
        r = det.process(np.array([1]), np.array([51.234]))
        kinds += [KINDS[k] for k, a in zip(r.kind, r.is_anomaly, strict=True) if a]
    assert kinds == ["stuck value"]


def test_repeated_series_in_one_batch_mean_the_same_as_one_by_one() -> None:
    a, b = TelemetryDetector(), TelemetryDetector()
    x = _series(7, 600)
    idx = np.zeros(len(x), dtype=np.int64)
    batched = a.process(idx, x).score
    single = np.array([b.process(np.array([0]), np.array([v])).score[0] for v in x])
    assert np.array_equal(batched, single)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    det = TelemetryDetector()
    x = _series(9, 500)
    for v in x:
        det.process(np.array([0, 4]), np.array([v, -v]))
    det.save(tmp_path / "state.npz")
    again = TelemetryDetector()
    again.load(tmp_path / "state.npz")
    probe = (np.array([0, 4, 0]), np.array([x[-1], -x[-1] * 3, 99.0]))
    assert np.array_equal(again.process(*probe).score, det.process(*probe).score)


def test_detect_csv_is_strictly_streaming(tmp_path: Path) -> None:
    x = _series(11, 600)
    x[450] += 40
    src = tmp_path / "in.csv"
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["when", "a", "b"])
        for i, v in enumerate(x):  # every 5 minutes: the spike comes after a day of learning
            at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=5 * i)
            w.writerow([at.isoformat(), v, "" if i % 7 else v * 2])
    full = io.StringIO()
    assert detect_csv(src, full, timestamp_column="when") == len(x)
    rows = list(csv.reader(io.StringIO(full.getvalue())))
    assert rows[0] == ["timestamp", "anomaly_score", "is_anomaly"]
    scores = [float(r[1]) for r in rows[1:]]
    assert all(0 <= s <= 1 for s in scores)
    assert rows[451][2] == "1" and sum(int(r[2]) for r in rows[1:]) <= 3
    # The first 300 rows alone give exactly the first 300 outputs: nothing looks ahead.
    with src.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        prefix = [next(reader) for _ in range(300)]
    head = [s for _, s, _ in detect_rows(prefix, header, "when")]
    assert head == pytest.approx(scores[:300], abs=1e-6)


def test_detect_csv_says_what_is_wrong(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("time,value\n1,2\n")
    with pytest.raises(CsvError, match="no column 'timestamp'"):
        detect_csv(src, io.StringIO())
    src.write_text("timestamp,value\n2026-01-01T00:00:00Z,2\n3\n")
    with pytest.raises(CsvError, match="line 3"):
        detect_csv(src, io.StringIO())
    src.write_text("timestamp,value\n2026-01-01T00:00:00Z,2\nyesterday,3\n")
    with pytest.raises(CsvError, match="line 3: 'yesterday' is not a timestamp"):
        detect_csv(src, io.StringIO())


def test_nab_scorer_null_is_0_and_perfect_is_100() -> None:
    rng = np.random.default_rng(1)
    files = []
    for n, windows in ((1000, [(300, 339), (700, 759)]), (2000, [(1500, 1599)]), (800, [])):
        files.append((n, windows))
    null = [ScoredFile(np.zeros(n), w) for n, w in files]
    perfect = []
    for n, w in files:
        s = np.zeros(n)
        for lo, _ in w:
            s[lo] = 1.0
        perfect.append(ScoredFile(s, w))
    noisy = [ScoredFile(rng.random(n), w) for n, w in files]
    for p in PROFILES:
        assert normalised(null, p)[0] == pytest.approx(0.0)
        assert normalised(perfect, p)[0] == pytest.approx(100.0)
        assert normalised(noisy, p)[0] < 100.0
    # A late detection earns less than an early one; a false positive costs.
    late = [ScoredFile(np.eye(1000)[330], [(300, 339)])]
    early = [ScoredFile(np.eye(1000)[301], [(300, 339)])]
    fp = [ScoredFile(np.eye(1000)[301] + np.eye(1000)[900], [(300, 339)])]
    std = PROFILES[0]
    assert normalised(late, std)[0] < normalised(fp, std)[0] < normalised(early, std)[0]


def test_a_restarted_silence_watch_clears_what_was_down_before(tmp_path: Path) -> None:
    from detectors.silence import Silence

    grid = np.zeros(6, dtype=int)
    gw = np.array([0, 0, 0, 0, -1, -1])
    before = Silence(np.full(6, 60), grid, gw, now=0.0)
    before.seen(np.arange(6), np.full(6, 100.0))
    before.seen(np.array([4, 5]), np.full(2, 200.0))
    assert [(o.scope, o.state) for o in before.scan(200.0)] == [("gateway", "raised")]
    before.save(tmp_path / "silence.npz")
    after = Silence(np.full(6, 60), grid, gw, now=1000.0)  # a new process
    after.load(tmp_path / "silence.npz")
    assert after.scan(1001.0) == []  # nothing new: every device gets its interval again
    after.seen(np.arange(4), np.full(4, 1010.0))
    assert [(o.scope, o.state) for o in after.scan(1011.0)] == [("gateway", "cleared")]

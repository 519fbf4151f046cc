"""`gridwatch detect-csv`: the live telemetry detector over a CSV, strictly streaming.

One column of timestamps, every other column a numeric series (one series each, as one
device's metrics would be). Rows are read, scored, learned and written one at a time, so
each output row depends only on the rows before and at it. A blank or non-numeric cell is
not a reading: that series is skipped for the row (and the row still gets its output).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from detectors.telemetry import TelemetryDetector


class CsvError(ValueError):
    """A CSV that cannot be read as timestamp + numeric columns; says where."""


def parse_ts(text: str) -> float:
    """NAB's and most CSVs' timestamps, naive ones read as UTC.

    >>> parse_ts("2014-03-07 03:41:00.000000")
    1394163660.0
    """
    t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def _number(cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def detect_rows(
    rows: Iterable[list[str]],
    header: list[str],
    timestamp_column: str,
    detector: TelemetryDetector | None = None,
) -> Iterator[tuple[str, float, bool]]:
    """(timestamp, anomaly score, is anomaly) for each row, as it arrives."""
    if timestamp_column not in header:
        raise CsvError(f"no column {timestamp_column!r}; columns are {', '.join(header)}")
    ts_at = header.index(timestamp_column)
    value_at = [i for i in range(len(header)) if i != ts_at]
    if not value_at:
        raise CsvError("no value column besides the timestamp")
    det = detector or TelemetryDetector()
    det.grow(len(value_at))
    series = np.arange(len(value_at), dtype=np.int64)
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise CsvError(f"line {line}: {len(row)} cells, header has {len(header)}")
        x = np.array([_number(row[i]) for i in value_at])
        ok = ~np.isnan(x)
        try:
            t = parse_ts(row[ts_at])
        except ValueError:
            raise CsvError(f"line {line}: {row[ts_at]!r} is not a timestamp") from None
        if ok.any():
            scored = det.process(series[ok], x[ok], np.full(int(ok.sum()), t))
            yield row[ts_at], float(scored.score.max()), bool(scored.is_anomaly.any())
        else:
            yield row[ts_at], 0.0, False


def detect_csv(src: Path, out: TextIO, timestamp_column: str = "timestamp") -> int:
    """Writes `timestamp,anomaly_score,is_anomaly`; returns the number of rows."""
    with src.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise CsvError(f"{src} is empty")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["timestamp", "anomaly_score", "is_anomaly"])
        n = 0
        for ts, score, flag in detect_rows(reader, header, timestamp_column):
            writer.writerow([ts, f"{score:.6f}", int(flag)])
            n += 1
    return n

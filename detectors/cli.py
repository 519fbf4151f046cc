"""`gridwatch detect-csv`, `gridwatch bench nab`, `gridwatch bench detect`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from detectors.csv_stream import CsvError, detect_csv
from gridwatch.report import print_result


def detect_csv_cmd(
    src: Annotated[Path, typer.Argument(metavar="IN.csv", exists=True, dir_okay=False)],
    out: Annotated[Path | None, typer.Option("--out", help="output CSV (default: stdout)")] = None,
    timestamp_column: Annotated[str, typer.Option(help="name of the timestamp column")] = (
        "timestamp"
    ),
) -> None:
    """Score a CSV with the live telemetry detector: timestamp,anomaly_score,is_anomaly."""
    try:
        if out is None:
            detect_csv(src, sys.stdout, timestamp_column)
            return
        with out.open("w", newline="") as fh:
            n = detect_csv(src, fh, timestamp_column)
    except CsvError as exc:
        raise typer.BadParameter(str(exc), param_hint="IN.csv") from None
    print(f"{n:,} rows scored → {out}", file=sys.stderr)


def bench_nab_cmd(
    data: Annotated[Path, typer.Option(help="the NAB subset's folder")] = Path(
        "../shared/benchmarks/nab"
    ),
    json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """NAB's normalised scores (standard, reward low FP, reward low FN) of the live detector."""
    from detectors.bench import bench_nab

    if not (data / "labels.json").exists():
        raise typer.BadParameter(f"no labels.json in {data}", param_hint="--data")
    print_result(bench_nab(data), json)


def bench_detect_cmd(
    devices: Annotated[int, typer.Option(min=1, help="registered devices")] = 2_450_000,
    seconds: Annotated[float, typer.Option(help="how long to stream")] = 10.0,
    json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Readings/s on the vectorised path (one core) and detector memory per device."""
    from detectors.bench import bench_detect

    print_result(bench_detect(devices, seconds=seconds), json)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("detect-csv")(detect_csv_cmd)
    bench.command("nab")(bench_nab_cmd)
    bench.command("detect")(bench_detect_cmd)

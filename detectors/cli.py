"""`gridwatch detect-csv`, `gridwatch eval`, `gridwatch bench nab`, `gridwatch bench detect`."""

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


def eval_cmd(
    scenario: Annotated[str | None, typer.Option(help="built-in name or scenario file")] = None,
    seed: Annotated[int, typer.Option(help="the scenario's random seed")] = 1,
    json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    list_: Annotated[bool, typer.Option("--list", help="name the built-in scenarios")] = False,
    scale: Annotated[float, typer.Option(help="city size (1.0 = 2.45 million devices)")] = 0.0005,
    speed: Annotated[float, typer.Option(min=1.0, help="simulated seconds per second")] = 20.0,
    warm_h: Annotated[float, typer.Option(help="hours of normal life learned first")] = 25.0,
) -> None:
    """Run a scenario through broker → ingest → detectors → alerts; score against its truth."""
    from simulators.scenarios import builtin_names

    if list_:
        print("\n".join(builtin_names()))
        return
    if scenario is None:
        raise typer.BadParameter("name a scenario (gridwatch eval --list)", param_hint="--scenario")
    from detectors.evaluate import evaluate
    from gridwatch.local_services import services_for
    from gridwatch.settings import load_settings

    def say(line: str) -> None:
        print(line, file=sys.stderr if json else sys.stdout, flush=True)

    try:
        with services_for(load_settings(), log=not json) as settings:
            result = evaluate(settings, scenario, seed, scale=scale, speed=speed, warm_h=warm_h,
                              progress=say)  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenario") from None
    if json:
        print_result(result, True)
        return
    for inc in result.pop("incidents"):
        found = (f"found in {inc['time_to_alert_s']:g} s, {inc['severity']}, {inc['alerts']}"
                 " alert(s)" if inc["found"] else "MISSED")  # fmt: skip
        print(f"  {inc['type']:<20} grid {inc['grid']}: {found}")
    for f in result.pop("false_alerts"):
        print(f"  false alert {f['alert_id']}: {f['cause']} ({f['severity']}) in grid {f['grid']}:"
              f" {'; '.join(f['evidence'])}")  # fmt: skip
    print_result(result, False)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("detect-csv")(detect_csv_cmd)
    app.command("eval")(eval_cmd)
    bench.command("nab")(bench_nab_cmd)
    bench.command("detect")(bench_detect_cmd)

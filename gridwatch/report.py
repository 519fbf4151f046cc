"""Printing a benchmark's result: one JSON object for machines, aligned lines for people."""

from __future__ import annotations

from typing import Any

import orjson


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """
    >>> print_result({"readings_per_s": 167112, "vs_copy_bare": 0.544}, as_json=False)
    readings_per_s: 167,112
      vs_copy_bare: 0.544
    """
    if as_json:
        print(orjson.dumps(result).decode())
        return
    width = max((len(k) for k in result), default=0)
    for key, value in result.items():
        shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        print(f"{key:>{width}}: {shown}")

"""Turn the runs into the table: each figure as median [min–max] over the runs, ratios beside, targets judged."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass


def spread(runs: list[dict], key: str) -> tuple[float, float, float]:
    values = [run[key] for run in runs]
    return min(values), statistics.median(values), max(values)


def fmt(values: tuple[float, float, float], unit: str) -> str:
    low, mid, high = values
    digits = 0 if mid >= 100 else 1 if mid >= 10 else 2
    return f"{mid:,.{digits}f} {unit} [{low:,.{digits}f}–{high:,.{digits}f}]"


@dataclass
class Row:
    name: str
    ours: str
    yardstick: str = ""
    ratio: float | None = None
    target: str = ""  # e.g. ">= 3": the ratio's target, judged in `met`

    @property
    def met(self) -> bool | None:
        if not self.target or self.ratio is None:
            return None
        op, bound = self.target.split()
        return self.ratio >= float(bound) if op == ">=" else self.ratio <= float(bound)

    def cells(self) -> list[str]:
        ratio = f"{self.ratio:.2f}×" if self.ratio is not None else ""
        verdict = {True: "met", False: "**missed**", None: ""}[self.met]
        target = self.target.replace(">=", "≥").replace("<=", "≤") + "×" if self.target else ""
        return [self.name, self.ours, self.yardstick, ratio, target, verdict]


def compare(name: str, ours: list[dict], theirs: list[dict] | None, key: str, unit: str, yardstick: str = "",
            target: str = "") -> Row:
    """A row for `key` of `ours`, against `theirs` (median over median) when given."""
    mine = spread(ours, key)
    if theirs is None:
        return Row(name, fmt(mine, unit))
    other = spread(theirs, key)
    return Row(name, fmt(mine, unit), f"{yardstick}: {fmt(other, unit)}", mine[1] / other[1], target)


def markdown(rows: list[Row]) -> str:
    header = ["measure", "ours: median [min–max]", "yardstick: median [min–max]", "ratio", "target", ""]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform()}

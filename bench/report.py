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
    target: str = ""  # e.g. ">= 3": the ratio's target; "<= 3 s": the median's own (no yardstick); see `met`
    median: float | None = None  # ours, for a target of its own

    @property
    def met(self) -> bool | None:
        judged = self.ratio if self.ratio is not None else self.median
        if not self.target or judged is None:
            return None
        op, bound = self.target.split()[:2]
        return judged >= float(bound) if op == ">=" else judged <= float(bound)

    def cells(self) -> list[str]:
        ratio = f"{self.ratio:.2f}×" if self.ratio is not None else ""
        verdict = {True: "met", False: "**missed**", None: ""}[self.met]
        target = self.target.replace(">=", "≥").replace("<=", "≤")
        if target and self.ratio is not None:
            target += "×"
        return [self.name, self.ours, self.yardstick, ratio, target, verdict]


def compare(name: str, ours: list[dict], theirs: list[dict] | None, key: str, unit: str, yardstick: str = "",
            target: str = "") -> Row:
    """A row for `key` of `ours`, against `theirs` (median over median) when given."""
    mine = spread(ours, key)
    if theirs is None:
        return Row(name, fmt(mine, unit), target=target, median=mine[1])
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

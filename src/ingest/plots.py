"""Pictures of what the database holds: an author's metrics over time, drawn with matplotlib into a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ingest.store.history import Point

SIZE_PX = (1200, 800)
DPI = 100


def plot_history(points: Sequence[Point], path: Path, title: str, size_px: tuple[int, int] = SIZE_PX) -> None:
    """h-index, citations and paper count over time, one panel each (their scales differ by orders), as a PNG of
    `size_px` pixels. An author with one snapshot is drawn as points."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot

    figure, panels = pyplot.subplots(3, 1, sharex=True, figsize=(size_px[0] / DPI, size_px[1] / DPI), dpi=DPI)
    times = [point.observed_at for point in points]
    for panel, (label, values) in zip(panels, (
            ("h-index", [p.h_index for p in points]),
            ("citations", [p.citations for p in points]),
            ("papers", [p.paper_count for p in points]))):
        panel.plot(times, [v if v is not None else float("nan") for v in values], marker="o", drawstyle="steps-post")
        panel.set_ylabel(label)
        panel.grid(True, alpha=0.3)
    panels[0].set_title(title)
    figure.autofmt_xdate()
    figure.savefig(path, dpi=DPI)
    pyplot.close(figure)

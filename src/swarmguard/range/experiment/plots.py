"""Table 1's figures (matplotlib, Agg): trade-off, response times, timeline.

- ``dr_far.png``: detection rate against false alarm rate, one point per configuration (and
  per offline detector and dataset, hollow);
- ``response_times.png``: every measured response time (first attack packet to enforcement
  live) per configuration;
- ``timeline.png``: per configuration, each attack attempt as a bar, its alerts as dots and
  its enforcements as ticks, in seconds from the start of the run.

Each function takes the rows of ``measure_row`` (``per_attempt`` and ``response_ms`` included)
and the timelines, and returns the path written.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Timeline", "plot_all", "plot_dr_far", "plot_response", "plot_timeline"]


@dataclass
class Timeline:
    """What happened in one run, in epoch seconds, for the timeline plot."""

    t0: float
    alerts: list[float] = field(default_factory=list)
    enforcements: list[float] = field(default_factory=list)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path, dpi: int) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a crowded panel keeps its own margins
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_dr_far(
    rows: Sequence[dict[str, Any]], offline: Sequence[dict[str, Any]], out: Path
) -> Path:
    """Detection rate against false alarm rate per configuration."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for r in rows:
        if r["detection_rate"] is None:
            continue
        x, y = 100 * r["false_alarm_rate"], 100 * r["detection_rate"]
        ax.scatter([x], [y], s=60)
        ax.annotate(r["name"], (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    for o in offline:
        x, y = 100 * o["false_alarm_rate"], 100 * o["detection_rate"]
        ax.scatter([x], [y], s=40, facecolors="none", edgecolors="grey")
        ax.annotate(
            f"{o['name']} {o['dataset']}",
            (x, y),
            textcoords="offset points",
            xytext=(5, -9),
            fontsize=7,
            color="grey",
        )
    ax.set_xlabel("false alarm rate (%)")
    ax.set_ylabel("detection rate (%)")
    ax.set_ylim(-5, 105)
    ax.set_xlim(left=-1)
    ax.set_title("Detection / false alarm trade-off (filled: range, hollow: offline)")
    ax.grid(alpha=0.3)
    return _save(plt, fig, out / "dr_far.png", 110)


def plot_response(rows: Sequence[dict[str, Any]], out: Path) -> Path:
    """Response times per configuration (each point one attempt; the bar its median)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    names = [r["name"] for r in rows]
    for i, r in enumerate(rows):
        values = [v / 1000.0 for v in r.get("response_ms", [])]
        if values:
            ax.scatter([i] * len(values), values, alpha=0.7)
            med = sorted(values)[len(values) // 2]
            ax.hlines(med, i - 0.3, i + 0.3, colors="black")
        else:
            ax.text(i, 0, "no block", ha="center", va="bottom", fontsize=8, color="grey")
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_ylabel("first attack packet → enforcement live (s)")
    ax.set_title("Response time per configuration")
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, out / "response_times.png", 110)


def plot_timeline(
    rows: Sequence[dict[str, Any]], timelines: dict[str, Timeline], out: Path
) -> Path:
    """Attempts, alerts and enforcements over time, one panel per configuration."""
    plt = _plt()
    n = max(1, len(rows))
    heights = [max(1.6, 0.6 + 0.2 * (len(r.get("per_attempt", [])) + 2)) for r in rows] or [1.6]
    fig, axes = plt.subplots(
        n,
        1,
        figsize=(9.0, 0.8 + sum(heights)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, r in zip(axes[:, 0], rows, strict=False):
        tl = timelines.get(r["name"])
        t0 = tl.t0 if tl else 0.0
        attempts = r.get("per_attempt", [])
        labels = []
        for j, a in enumerate(attempts):
            first = a["first_packet_ts"] or a["ts_start"]
            start, end = first - t0, max(first + 0.5, a["ts_end"]) - t0
            labels.append(a["attack"])
            colour = "tab:red" if a["detected"] else "grey"
            ax.plot([start, end], [j, j], lw=6, color=colour)
            if a["enforced_ts"]:
                ax.plot([a["enforced_ts"] - t0], [j], marker="|", ms=14, color="tab:green")
        if tl is not None:
            rel = [t - t0 for t in tl.alerts]
            ax.scatter(rel, [-1] * len(rel), s=6, color="tab:orange", label="alerts")
            enf = [t - t0 for t in tl.enforcements]
            ax.scatter(enf, [-2] * len(enf), marker="|", s=80, color="tab:green", label="blocks")
        ax.set_yticks([-2, -1, *range(len(labels))], ["blocks", "alerts", *labels], fontsize=6)
        ax.set_title(r["name"], fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("seconds from the start of the run")
    return _save(plt, fig, out / "timeline.png", 100)


def plot_all(
    rows: Sequence[dict[str, Any]],
    offline: Sequence[dict[str, Any]],
    timelines: dict[str, Timeline],
    out: Path,
) -> list[Path]:
    """All three figures into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return [
        plot_dr_far(rows, offline, out),
        plot_response(rows, out),
        plot_timeline(rows, timelines, out),
    ]

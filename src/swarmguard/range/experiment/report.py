"""Write Table 1: Markdown in the seed's shape, CSV, and the JSON contract.

The JSON holds ``rows`` (one object per configuration with ``name``, ``detection_rate``,
``false_alarm_rate``, ``response_ms_p50``, ``response_ms_p95``, ``detect_to_enforce_ms_p50``,
``attempts_before_block_median``, ``benign_requests_failed`` and more) and ``offline`` (the
public-data rows with their test sets).

Example
-------
>>> fmt_pct(0.5), fmt_pct(None), fmt_ms(1234.6), fmt_ms(None)
('50.0 %', '–', '1235 ms', '–')
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

__all__ = ["CONTRACT_FIELDS", "fmt_ms", "fmt_pct", "markdown", "write_report"]

#: The fields every row of ``rows`` carries (the contract of ``experiment table1 --json``).
CONTRACT_FIELDS = (
    "name",
    "detection_rate",
    "false_alarm_rate",
    "response_ms_p50",
    "response_ms_p95",
    "detect_to_enforce_ms_p50",
    "attempts_before_block_median",
    "benign_requests_failed",
)
_CSV_EXTRA = (
    "attempts",
    "detected",
    "enforced",
    "blocked_before_start",
    "alerts",
    "false_alerts",
    "benign_flows",
    "benign_flows_alerted",
    "benign_requests",
    "run",
    "trained_on",
)


def fmt_pct(x: float | None) -> str:
    """A rate as a percentage with one decimal, ``–`` when undefined."""
    return "–" if x is None else f"{100 * x:.1f} %"


def fmt_ms(x: float | None) -> str:
    """Milliseconds, rounded, ``–`` when undefined."""
    return "–" if x is None else f"{x:.0f} ms"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:g}"


def markdown(result: dict[str, Any]) -> str:
    """The report: live rows, detection per attack, offline rows, and how they were made."""
    rows: list[dict[str, Any]] = result["rows"]
    lines = [
        f"# Table 1 on the range: scenario `{result['scenario']}`"
        + (" (quick)" if result.get("quick") else ""),
        "",
        f"Seed {result['seed']}; {result['machine']}; {result['seconds']:.0f} s in all. "
        "Every figure is measured: response time runs from the first attack packet in the "
        "zone captures to the moment an enforcer reported the block live.",
        "",
        "| configuration | detection rate | false alarm rate | response p50 / p95 | "
        "detection → enforcement p50 | attempts before block (median) | "
        "benign requests failed | trained on |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {fmt_pct(r['detection_rate'])} "
            f"({r['detected']}/{r['attempts']}) | {fmt_pct(r['false_alarm_rate'])} "
            f"({r['benign_flows_alerted']}/{r['benign_flows']} flows) | "
            f"{fmt_ms(r['response_ms_p50'])} / {fmt_ms(r['response_ms_p95'])} | "
            f"{fmt_ms(r['detect_to_enforce_ms_p50'])} | "
            f"{_num(r['attempts_before_block_median'])} | "
            f"{r['benign_requests_failed']}/{r['benign_requests']} | {r.get('trained_on', '')} |"
        )
    attacks = sorted({a for r in rows for a in r.get("per_attack", {})})
    if attacks:
        lines += [
            "",
            "## Detection per attack",
            "",
            "| attack | " + " | ".join(r["name"] for r in rows) + " |",
            "|---|" + "---:|" * len(rows),
        ]
        for a in attacks:
            cells = []
            for r in rows:
                s = r.get("per_attack", {}).get(a)
                cells.append("·" if s is None else f"{s['detected']}/{s['attempts']}")
            lines.append(f"| {a} | " + " | ".join(cells) + " |")
    offline = result.get("offline", [])
    if offline:
        lines += [
            "",
            "## Offline rows (public datasets)",
            "",
            "| detector | dataset | detection rate | false alarm rate | F1 | "
            "unseen families DR | train / test rows | test set |",
            "|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for o in offline:
            unseen = o.get("unseen_detection_rate")
            f1 = o.get("f1")
            lines.append(
                f"| {o['name']} | {o['dataset']} | {fmt_pct(o['detection_rate'])} | "
                f"{fmt_pct(o['false_alarm_rate'])} | {'–' if f1 is None else f'{f1:.3f}'} | "
                f"{fmt_pct(unseen)} | {o.get('n_train')} / {o.get('n_test')} | "
                f"{o['test_set']} |"
            )
    notes = result.get("notes", [])
    if notes:
        lines += ["", "## How the rows were made", ""] + [f"- {n}" for n in notes]
    plots = result.get("plots", [])
    if plots:
        lines += ["", "## Figures", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def write_report(result: dict[str, Any], out: Path, json_out: Path | None = None) -> list[Path]:
    """Write ``table1.md``, ``table1.csv`` and ``table1.json`` under ``out`` (and ``json_out``)."""
    out.mkdir(parents=True, exist_ok=True)
    md = out / "table1.md"
    md.write_text(markdown(result), encoding="utf-8")
    table = out / "table1.csv"
    with table.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["kind", *CONTRACT_FIELDS, *_CSV_EXTRA, "dataset", "test_set"])
        for r in result["rows"]:
            w.writerow(
                ["live", *(r.get(k) for k in CONTRACT_FIELDS), *(r.get(k) for k in _CSV_EXTRA)]
                + ["", ""]
            )
        for o in result.get("offline", []):
            base = [o["name"], o["detection_rate"], o["false_alarm_rate"]]
            w.writerow(
                ["offline", *base, *[""] * (len(CONTRACT_FIELDS) - 3), *[""] * len(_CSV_EXTRA)]
                + [o["dataset"], o["test_set"]]
            )
    text = json.dumps(result, indent=2, default=str) + "\n"
    paths = [md, table, out / "table1.json"]
    paths[2].write_text(text, encoding="utf-8")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text, encoding="utf-8")
    return paths

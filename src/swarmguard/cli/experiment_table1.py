"""``swarmguard experiment table1``: the seed's Table 1 reproduced on the range, end to end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmguard.cli.console import err, guarded, out, setup_logging

__all__ = ["experiment_table1_command", "table1_table"]


def table1_table(result: dict[str, Any]) -> Table:
    """The live rows as a rich table."""
    from swarmguard.range.experiment.report import fmt_ms, fmt_pct

    table = Table(title=f"Table 1 on the range: {result['scenario']}")
    for col in ("configuration", "DR", "FAR", "resp p50", "resp p95", "det→enf p50"):
        table.add_column(col, justify="left" if col == "configuration" else "right")
    table.add_column("tries before block", justify="right")
    table.add_column("benign failed", justify="right")
    for r in result["rows"]:
        before = r["attempts_before_block_median"]
        table.add_row(
            r["name"],
            fmt_pct(r["detection_rate"]),
            fmt_pct(r["false_alarm_rate"]),
            fmt_ms(r["response_ms_p50"]),
            fmt_ms(r["response_ms_p95"]),
            fmt_ms(r["detect_to_enforce_ms_p50"]),
            "–" if before is None else f"{before:g}",
            f"{r['benign_requests_failed']}/{r['benign_requests']}",
        )
    return table


def experiment_table1_command(
    scenario: Annotated[str, typer.Option(help="shipped scenario name (small, campus) or YAML")],
    out_dir: Annotated[Path, typer.Option("--out", help="report, CSV, JSON, plots and runs")],
    json_out: Annotated[Path, typer.Option("--json", help="write the result object here")],
    quick: Annotated[bool, typer.Option("--quick", help="short phases (CI)")] = False,
    seed: Annotated[int, typer.Option(help="seeds benign users, training and splits")] = 0,
) -> None:
    """Run every configuration on the scenario and measure detection, false alarms, response.

    Needs root: the range builds network namespaces and firewalls them.
    """
    setup_logging(False)
    start = time.monotonic()

    def progress(line: str) -> None:
        err.print(
            f"[dim]{time.monotonic() - start:6.0f} s[/dim] {line}", highlight=False, soft_wrap=True
        )

    with guarded():
        from swarmguard.range.experiment.table1 import run_table1

        result = run_table1(
            scenario, out=out_dir, seed=seed, quick=quick, json_out=json_out, progress=progress
        )
        out.print(table1_table(result))
        out.print(f"report: {out_dir / 'table1.md'}; result: {json_out}")

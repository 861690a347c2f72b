"""``swarmguard sandbox run``: detonate samples on sandbox nodes scheduled by Ray (needs root)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmguard.cli.console import guarded, out, setup_logging

__all__ = ["run_command", "sandbox_app"]

sandbox_app = typer.Typer(
    help="Detonate samples in isolated sandbox nodes and capture their traffic.",
    no_args_is_help=True,
)


@sandbox_app.callback()
def _group() -> None:
    """Detonate samples in isolated sandbox nodes and capture their traffic."""


def _table(result: dict[str, Any]) -> Table:
    table = Table(title="sandbox run")
    for col in ("sample", "status", "exit", "s", "flows", "dns", "http", "contacted", "alerts"):
        table.add_column(col, no_wrap=col != "contacted")
    for r in result["samples"]:
        alerts = ", ".join(f"{k}: {v}" for k, v in r.get("alerts_by_category", {}).items())
        table.add_row(
            str(r["sample"]),
            str(r["status"]),
            str(r.get("exit_status")),
            f"{r['duration_s']:.1f}" if r.get("duration_s") is not None else "-",
            str(r.get("flows", 0)),
            str(len(r.get("dns_queries", []))),
            str(len(r.get("http_requests", []))),
            str(len(r.get("contacted", []))),
            alerts or "-",
        )
    return table


@sandbox_app.command("run")
def run_command(
    samples: Annotated[list[Path], typer.Argument(help="executables or scripts to detonate")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="output folder: runs/<key>/, dataset/, report.json")
    ],
    json_out: Annotated[Path, typer.Option("--json", help="write the run's JSON object here")],
    nodes: Annotated[int, typer.Option("--nodes", help="local Ray nodes to start")] = 3,
    parallel: Annotated[int, typer.Option("--parallel", help="sandboxes per node at once")] = 1,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds a sample may run")] = 30.0,
    address: Annotated[
        str | None,
        typer.Option(help="join this Ray cluster (its nodes offer 'sandbox_slots') instead"),
    ] = None,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            "--model", help="also score each sample's flows with this fitted model (repeatable)"
        ),
    ] = None,
    memory_mb: Annotated[int, typer.Option(help="memory cap of one detonation (MiB)")] = 256,
    pids: Annotated[int, typer.Option(help="task cap of one detonation")] = 64,
    cpu_s: Annotated[int, typer.Option(help="CPU-seconds cap of one detonation")] = 30,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no table")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Run each SAMPLE once in an isolated sandbox; write reports, pcaps, flows and --json."""
    setup_logging(verbose)
    with guarded():
        from swarmguard.acquire.sandbox.limits import Limits
        from swarmguard.sandbox.scheduler import SandboxConfig, run_sandbox

        cfg = SandboxConfig(
            samples=samples,
            out_dir=out_dir,
            nodes=nodes,
            parallel=parallel,
            timeout_s=timeout,
            address=address,
            limits=Limits(cpu_s=cpu_s, memory_mb=memory_mb, pids=pids),
            models=tuple(model or ()),
        )
        result = run_sandbox(cfg)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        if not quiet:
            out.print(_table(result))
            s = result["summary"]
            out.print(
                f"{s['completed']}/{s['samples']} completed, {s['retried']} retried, "
                f"{s['lost']} lost in {s['wall_seconds']:.1f} s -> {json_out}"
            )

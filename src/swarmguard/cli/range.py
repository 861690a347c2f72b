"""``swarmguard range up|run|down``: the multi-zone namespace testbed (needs root).

``up`` brings a scenario's range up (services, agents, benign users) and holds it until
Ctrl-C; ``run`` runs one phase end to end (attacks on the schedule) and writes its artifacts;
``down`` removes whatever a crashed run left (``sgx-*`` namespaces).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmguard.cli.console import err, guarded, out, setup_logging

__all__ = ["range_app"]

range_app = typer.Typer(
    help="A multi-zone network-namespace range: services, benign users, real attacks, agents.",
    no_args_is_help=True,
)

_SCENARIO = typer.Option("--scenario", "-s", help="shipped name (small, campus) or a YAML file")


@range_app.callback()
def _group() -> None:
    """A multi-zone network-namespace range: services, benign users, real attacks, agents."""


def _say(start: float) -> Any:
    def say(msg: str) -> None:
        err.print(f"[dim]{time.time() - start:6.1f}s[/dim] {msg}")

    return say


def _overrides(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from swarmguard.errors import InputError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot read agent overrides (JSON): {exc}") from None
    if not isinstance(data, dict):
        raise InputError(path, "agent overrides must be a JSON object")
    return data


@range_app.command("run")
def run_command(
    scenario: Annotated[str, _SCENARIO] = "small",
    workdir: Annotated[
        Path, typer.Option("--out", help="folder for captures, logs, run.json")
    ] = Path("range-run"),
    phase: Annotated[str, typer.Option(help="warmup or measure")] = "measure",
    quick: Annotated[bool, typer.Option("--quick", help="the scenario's shorter phases")] = False,
    seed: Annotated[int, typer.Option(help="seed of the benign users' timing")] = 0,
    fail2ban: Annotated[bool, typer.Option(help="also run fail2ban on the SSH server")] = False,
    agents: Annotated[bool, typer.Option(help="start the coordinator and zone agents")] = True,
    agent_overrides: Annotated[
        Path | None, typer.Option("--agent-overrides", help="JSON merged into each agent.toml")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Run one phase of a scenario: build, attack on schedule, capture, clean up."""
    setup_logging(verbose)
    with guarded():
        from swarmguard.errors import InputError
        from swarmguard.range.runner import run_scenario
        from swarmguard.range.scenario import load_scenario

        if phase not in ("warmup", "measure"):
            raise InputError("--phase", "must be warmup or measure")
        sc = load_scenario(scenario)
        if quick:
            sc = sc.with_quick()
        arts = run_scenario(
            sc,
            workdir=workdir,
            seed=seed,
            agent_overrides=_overrides(agent_overrides),
            phase="warmup" if phase == "warmup" else "measure",
            fail2ban=fail2ban,
            agents=agents,
            progress=_say(time.time()),
        )
        out.print(_summary(arts.ground_truth, arts.alerts, arts.benign_log))
        out.print(f"{arts.t1 - arts.t0:.0f} s -> {workdir / 'run.json'}")


def _summary(truth: Path, alerts: dict[str, Path], benign: Path) -> Table:
    """Per attack: first packet, alerts and block of its source (from the agents' events)."""
    events: list[dict[str, Any]] = []
    for path in alerts.values():
        if path.exists():
            events += [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    table = Table(title="range run")
    for col in ("attempt", "src", "dst", "category", "alerts", "blocked after"):
        table.add_column(col)
    for line in truth.read_text().splitlines():
        rec = json.loads(line)
        src = rec["src_ip"]
        n = sum(1 for e in events if e.get("type") == "alert" and e.get("src_ip") == src)
        blocks = [
            float(e["enforced_at"])
            for e in events
            if e.get("type") == "decision" and e.get("value") == src and e.get("enforced_at")
        ]
        first = rec.get("first_packet_ts")
        after = f"{(min(blocks) - first) * 1000:.0f} ms" if blocks and first else "-"
        table.add_row(rec["attempt_id"], src, rec["dst_ip"], rec["category"], str(n), after)
    reqs = [json.loads(x) for x in benign.read_text().splitlines() if x.strip()]
    failed = sum(1 for r in reqs if not r["ok"])
    table.caption = f"benign requests: {len(reqs)}, failed: {failed}"
    return table


@range_app.command("up")
def up_command(
    scenario: Annotated[str, _SCENARIO] = "small",
    workdir: Annotated[Path, typer.Option("--out", help="folder for logs and captures")] = Path(
        "range-up"
    ),
    seed: Annotated[int, typer.Option(help="seed of the benign users' timing")] = 0,
    agents: Annotated[bool, typer.Option(help="start the coordinator and zone agents")] = True,
    users: Annotated[bool, typer.Option(help="start the benign users")] = True,
    hold: Annotated[
        float | None, typer.Option("--hold", help="seconds to keep it up (default: until Ctrl-C)")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Bring a scenario's range up and hold it until Ctrl-C; then remove it."""
    setup_logging(verbose)
    with guarded():
        from swarmguard.range.runner import hold_range
        from swarmguard.range.topology import RangeNet

        def ready(net: RangeNet) -> None:
            table = Table(title=f"range {net.scenario.name} (run {net.run})")
            for col in ("host", "ip", "zone", "role", "namespace"):
                table.add_column(col)
            for h in net.plan.values():
                table.add_row(h.name, h.ip, h.zone, h.role, net.ns(h.name))
            out.print(table)
            out.print(f"router: ip netns exec {net.router} bash   (Ctrl-C removes everything)")

        hold_range(
            scenario,
            workdir=workdir,
            seed=seed,
            agents=agents,
            users=users,
            hold_s=hold,
            ready=ready,
            progress=_say(time.time()),
        )


@range_app.command("down")
def down_command(
    run: Annotated[
        str, typer.Option("--run", help="only this run id (default: every sgx- one)")
    ] = "",
) -> None:
    """Remove every range namespace (sgx-*) and its processes left by a crashed run."""
    with guarded():
        from swarmguard.range.topology import sweep

        gone = sweep(run)
        out.print(f"removed {len(gone)} namespaces" + (f": {', '.join(gone)}" if gone else ""))

"""``swarmguard rules-test``: run a suricata-verify style test folder through the rule engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swarmguard.cli.console import guarded, out, setup_logging
from swarmguard.detect.rules.verify import run_test_dir, write_json

__all__ = ["rules_test_command"]


def rules_test_command(
    folder: Annotated[Path, typer.Argument(help="test folder: capture, *.rules, test.yaml")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the checks as one JSON object here")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Run the engine on DIR and check every alert expectation of its test.yaml.

    Exits 0 only if every alert check holds; other checks are listed as skipped.
    """
    setup_logging(verbose)
    with guarded():
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such directory")
        result = run_test_dir(folder)
        for c in result.checks:
            if c.passed is None:
                out.print(f"skip  check {c.index} ({c.description}): {c.reason}", markup=False)
            else:
                mark = "pass" if c.passed else "FAIL"
                out.print(
                    f"{mark}  check {c.index}: count {c.got} (expected {c.expected}) "
                    f"where {c.description}",
                    markup=False,
                )
        for note in result.notes:
            out.print(f"note  {note}", markup=False)
        verdict = "PASS" if result.passed else "FAIL"
        out.print(f"{verdict} {result.test}: {result.alerts} alerts", markup=False)
        if json_out is not None:
            write_json(result, json_out)
    if not result.passed:
        raise typer.Exit(1)

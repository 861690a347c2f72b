"""``swarmguard experiment``: reproducible experiments behind the figures we publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from swarmguard.cli.console import guarded, out, setup_logging, spinner
from swarmguard.cli.evaluate import FORMAT_HELP, load_rows, metrics_table, new_detector
from swarmguard.errors import SkipLog
from swarmguard.eval.holdout import holdout_experiment

__all__ = ["experiment_app", "print_holdout"]

experiment_app = typer.Typer(help="Experiments behind the published figures.", no_args_is_help=True)


def print_holdout(title: str, result: dict[str, Any]) -> None:
    """Print a holdout experiment's runs and the pooled unseen-attack figure."""
    rows = [(name.replace("unseen:", "unseen "), run) for name, run in result["runs"].items()]
    out.print(metrics_table(title, rows))
    pooled = result["unseen_pooled"]
    out.print(
        f"attacks of families never seen in training ({pooled['families']} families): "
        f"detection rate {100 * pooled['detection_rate']:.1f} % pooled, "
        f"{100 * pooled['macro_detection_rate']:.1f} % macro; "
        f"false alarm rate {100 * pooled['false_alarm_rate']:.1f} %",
        soft_wrap=True,
    )


@experiment_app.command("holdout")
def holdout_command(
    data: Annotated[Path, typer.Argument(help="dataset file or directory of CSV files")],
    json_out: Annotated[Path, typer.Option("--json", help="write all results here")],
    detector: Annotated[str, typer.Option(help="registered detector name")] = "svm",
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    test_fraction: Annotated[float, typer.Option(help="share of benign rows in test")] = 0.3,
    seed: Annotated[int, typer.Option(help="seeds splits and models")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Random split next to leave-one-attack-family-out, on one dataset."""
    setup_logging(verbose)
    show = not quiet
    with guarded():
        rows = load_rows(data, fmt, skip_bad=False, skip_log=SkipLog(), show=show, what="data")
        with spinner(f"{detector} on {rows.format}", show) as stage:
            result = holdout_experiment(
                rows,
                lambda: new_detector(detector, seed),
                seed=seed,
                test_fraction=test_fraction,
                on_stage=stage,
            )
        result["detector"] = detector
        result["data"] = str(data)
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        if show:
            print_holdout(f"{detector} on {rows.format}: random split vs unseen families", result)


from swarmguard.cli.experiment_table1 import experiment_table1_command  # noqa: E402

experiment_app.command("table1")(experiment_table1_command)

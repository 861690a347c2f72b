"""``swarmguard evaluate``: train a detector, test it, write the metrics as one JSON object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmguard.acquire.datasets import load_dataset
from swarmguard.cli.console import byte_progress, guarded, input_size, out, setup_logging, spinner
from swarmguard.detect.base import DETECTORS, Detector
from swarmguard.errors import SkipLog
from swarmguard.eval.evaluate import evaluate
from swarmguard.records.dataset import LabeledTable

__all__ = ["evaluate_command", "load_rows", "metrics_table", "new_detector"]

FORMAT_HELP = "auto, nsl-kdd, unsw-nb15 or cic-ids2017 (auto recognises the columns)"


def new_detector(name: str, seed: int) -> Detector:
    """Construct the registered detector ``name`` with ``seed``."""
    return DETECTORS.get(name)(seed=seed)  # type: ignore[call-arg]


def load_rows(
    path: Path, fmt: str, *, skip_bad: bool, skip_log: SkipLog, show: bool, what: str
) -> LabeledTable:
    """Load a dataset file or directory with a progress bar."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    with byte_progress(f"reading {what}", input_size(path), show) as progress:
        return load_dataset(path, fmt, skip_bad=skip_bad, skip_log=skip_log, progress=progress)


def metrics_table(title: str, rows: list[tuple[str, dict[str, Any]]]) -> Table:
    """A rich table of the headline metrics, one row per result."""
    table = Table(title=title)
    table.add_column("run", no_wrap=True)
    for col in ("DR %", "FAR %", "F1", "train", "test", "flows/s", "p99 ms"):
        table.add_column(col, justify="right", no_wrap=True)
    for name, r in rows:
        dr = float(r["detection_rate"])
        far = float(r["false_alarm_rate"])
        table.add_row(
            name,
            f"{100 * dr:.1f}",
            f"{100 * far:.1f}",
            f"{float(r['f1']):.3f}",
            str(r["n_train"]),
            str(r["n_test"]),
            f"{float(r['flows_per_second']):,.0f}",
            f"{float(r['latency_ms_p99']):.2f}" if r.get("latency_samples") else "-",
        )
    return table


def evaluate_command(
    detector: Annotated[str, typer.Option(help="registered detector name, e.g. svm")],
    train: Annotated[Path, typer.Option(help="training file, or a directory of CSV files")],
    test: Annotated[Path, typer.Option(help="test file, or a directory of CSV files")],
    json_out: Annotated[Path, typer.Option("--json", help="write the metrics object here")],
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    seed: Annotated[int, typer.Option(help="seeds every random choice")] = 0,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="skip malformed rows (counted and reported)")
    ] = False,
    model_out: Annotated[
        Path | None, typer.Option("--model-out", help="also save the fitted detector here")
    ] = None,
    latency_samples: Annotated[
        int, typer.Option(help="single rows scored one at a time to measure latency")
    ] = 500,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no table")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Train a detector on --train, test it on --test and write metrics to --json."""
    setup_logging(verbose)
    show = not quiet
    with guarded():
        det = new_detector(detector, seed)
        skip_log = SkipLog()
        train_rows = load_rows(
            train, fmt, skip_bad=skip_bad, skip_log=skip_log, show=show, what="training data"
        )
        test_fmt = train_rows.format if fmt == "auto" else fmt
        test_rows = load_rows(
            test, test_fmt, skip_bad=skip_bad, skip_log=skip_log, show=show, what="test data"
        )
        with spinner(f"{detector} on {train_rows.format}", show) as stage:
            result = evaluate(
                det,
                train_rows,
                test_rows,
                latency_samples=latency_samples,
                seed=seed,
                on_stage=stage,
            )
        result["train_path"] = str(train)
        result["test_path"] = str(test)
        result["skipped"] = skip_log.summary()
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        if model_out is not None:
            det.save(model_out)
        if show:
            if skip_log.count:
                out.print(f"[yellow]{skip_log.summary()}[/yellow]")
            out.print(metrics_table(f"{detector} on {train_rows.format}", [("test", result)]))

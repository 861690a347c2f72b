"""``swarmguard split``: write an honest train/test split as files in the dataset's own format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from swarmguard.cli.console import guarded, out, setup_logging
from swarmguard.cli.evaluate import FORMAT_HELP, load_rows
from swarmguard.errors import SkipLog
from swarmguard.eval.split_files import write_split
from swarmguard.eval.splits import SplitBy, split_rows

__all__ = ["split_command"]


def split_command(
    data: Annotated[Path, typer.Argument(help="dataset file or directory of CSV files")],
    out_dir: Annotated[Path, typer.Option("--out", help="writes OUT/train/ and OUT/test/")],
    by: Annotated[str, typer.Option(help="family, type, day or random")] = "family",
    holdout: Annotated[
        str | None,
        typer.Option(help="comma-separated families/types/days to hold out (default: seeded)"),
    ] = None,
    test_fraction: Annotated[
        float, typer.Option(help="share of benign rows (or of all rows, random) in test")
    ] = 0.3,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    seed: Annotated[int, typer.Option(help="seeds the split")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Split DATA so that whole attack families (or types, or days) are unseen in training."""
    setup_logging(verbose)
    with guarded():
        if by not in ("family", "type", "day", "random"):
            raise ValueError(f"unknown --by {by}: use family, type, day or random")
        rows = load_rows(data, fmt, skip_bad=False, skip_log=SkipLog(), show=not quiet, what="data")
        by_value: SplitBy = by  # type: ignore[assignment]
        held = [h.strip() for h in holdout.split(",")] if holdout else None
        split = split_rows(rows, by=by_value, holdout=held, test_fraction=test_fraction, seed=seed)
        counts = write_split(data, rows, split.train, split.test, out_dir)
        summary = {
            "format": rows.format,
            "by": split.by,
            "held_out": list(split.held_out),
            "seed": seed,
            **counts,
        }
        (out_dir / "split.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if not quiet:
            held_text = ", ".join(split.held_out) or "-"
            out.print(
                f"{rows.format}: {counts['train']} train rows, {counts['test']} test rows; "
                f"held out ({split.by}): {held_text} -> {out_dir}"
            )

"""What every command shares: one-line errors on stderr, progress bars, logging setup."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from swarmguard.errors import SwarmguardError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "byte_progress",
    "err",
    "fail",
    "guarded",
    "input_size",
    "out",
    "setup_logging",
    "spinner",
]

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1

# Not a terminal (a pipe, CI log): wide enough that tables are not cut.
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)


def setup_logging(verbose: bool) -> None:
    """Log warnings (or everything with ``verbose``) to stderr through rich."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_time=False, show_path=False)],
        force=True,
    )


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line on stderr and exit with ``code``."""
    line = " ".join(message.split())
    sys.stderr.write(f"swarmguard: error: {line}\n")
    raise typer.Exit(code)


@contextmanager
def guarded() -> Iterator[None]:
    """Turn expected errors into one clear stderr line and a non-zero exit."""
    try:
        yield
    except typer.Exit:
        raise
    except SwarmguardError as exc:
        fail(str(exc))
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - last resort: still one line, never a traceback
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --verbose)", EXIT_INTERNAL)


def input_size(path: Path) -> int:
    """Bytes under ``path`` (a file, or every file in a directory)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


@contextmanager
def byte_progress(
    description: str, total: int, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A progress bar over bytes read; yields the callback readers call with bytes so far."""
    if not enabled or total < 1_000_000:
        yield lambda _done: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int) -> None:
            bar.update(task, completed=min(done, total))

        yield update


@contextmanager
def spinner(description: str, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A spinner with a changing stage name, for steps without a known length."""
    if not enabled:
        yield lambda _stage: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def stage(name: str) -> None:
            bar.update(task, description=f"{description}: {name}")

        yield stage

"""Errors every stage raises for bad input, and the count of rows a user chose to skip.

A reader never drops input silently: it raises ``InputError`` naming the file and the line (or
packet number), unless the user passed ``--skip-bad``; then it records the row in a ``SkipLog``
that the CLI reports.

Examples
--------
>>> err = InputError("flows.csv", "wrong number of columns: 3, expected 42", line=7)
>>> str(err)
'flows.csv:7: wrong number of columns: 3, expected 42'
>>> log = SkipLog()
>>> log.add("flows.csv", 7, "wrong number of columns")
>>> log.count, log.summary()
(1, 'skipped 1 bad row(s): flows.csv: 1 (first at line 7: wrong number of columns)')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["InputError", "MissingExtraError", "SkipLog", "SwarmguardError"]


class SwarmguardError(Exception):
    """Base of every error swarmguard raises on purpose (the CLI prints it as one line)."""


class InputError(SwarmguardError):
    """Bad input: names the file and, where known, the line or packet number."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        packet: int | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.packet = packet
        self.message = message
        if line is not None:
            where = f"{self.path}:{line}"
        elif packet is not None:
            where = f"{self.path}: packet {packet}"
        else:
            where = self.path
        super().__init__(f"{where}: {message}")


class MissingExtraError(SwarmguardError):
    """A plug-in needs an optional dependency that is not installed."""


@dataclass
class SkipLog:
    """Rows skipped on the user's request, per file, with the first reason for each file."""

    per_file: dict[str, int] = field(default_factory=dict)
    first: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(
        self, path: str | Path, line: int | None, reason: str, *, packet: int | None = None
    ) -> None:
        """Count one skipped row (give ``packet`` instead of ``line`` for captures)."""
        key = str(path)
        self.per_file[key] = self.per_file.get(key, 0) + 1
        if packet is not None:
            where = f"packet {packet}"
        else:
            where = f"line {line}" if line is not None else "unknown line"
        self.first.setdefault(key, (where, reason))

    @property
    def count(self) -> int:
        """Total rows skipped."""
        return sum(self.per_file.values())

    def merge(self, other: SkipLog) -> None:
        """Add another log's counts into this one."""
        for key, n in other.per_file.items():
            self.per_file[key] = self.per_file.get(key, 0) + n
            self.first.setdefault(key, other.first[key])

    def summary(self) -> str:
        """One line for the user: how many rows were skipped and where."""
        if not self.per_file:
            return "skipped 0 bad rows"
        parts = []
        for key, n in self.per_file.items():
            where, reason = self.first[key]
            parts.append(f"{key}: {n} (first at {where}: {reason})")
        return f"skipped {self.count} bad row(s): " + "; ".join(parts)

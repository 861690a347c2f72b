"""Resource limits of one detonation: cgroups (v2, else v1) plus rlimits through ``prlimit``.

A cgroup caps the memory and the number of tasks of everything the sample starts, and lets the
node kill all of it at once; rlimits (``prlimit``) add a CPU-time cap (per process, as every
rlimit: ``SIGXCPU`` at the cap, ``SIGKILL`` a second later; many processes together are bound
by the task cap and the wall-clock timeout), a file-size cap and no core dumps, and cap memory
and processes again where no cgroup can be made. Which cgroup flavour is used is chosen by
looking at ``/sys/fs/cgroup``: the unified v2 tree when it offers the ``memory`` and ``pids``
controllers, else the v1 ``memory`` and ``pids`` hierarchies, else none (rlimits only).
``Cgroup.events`` reads back whether a limit was hit.

Examples
--------
>>> lim = Limits(cpu_s=5, memory_mb=128, pids=32, fsize_mb=16)
>>> prlimit_args(lim, with_cgroup=True)[:3]
['prlimit', '--cpu=5:6', '--core=0']
>>> "--nproc=32" in prlimit_args(lim, with_cgroup=False)
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cgroup", "Limits", "cgroup_flavour", "cleanup_cgroups", "prlimit_args"]

_log = logging.getLogger(__name__)
ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Limits:
    """Caps on one detonation (CPU seconds, memory MiB, tasks, largest file MiB)."""

    cpu_s: int = 30
    memory_mb: int = 256
    pids: int = 64
    fsize_mb: int = 64


def cgroup_flavour(root: Path = ROOT) -> str:
    """``"v2"``, ``"v1"`` or ``"none"``: what this machine lets the node use."""
    controllers = root / "cgroup.controllers"
    if controllers.exists():
        have = set(controllers.read_text().split())
        if {"memory", "pids"} <= have and os.access(root, os.W_OK):
            return "v2"
    if all(os.access(root / c, os.W_OK) for c in ("memory", "pids")):
        return "v1"
    return "none"


def prlimit_args(limits: Limits, *, with_cgroup: bool) -> list[str]:
    """The ``prlimit`` command prefix that applies the rlimits (memory/tasks too if no cgroup)."""
    args = [
        "prlimit",
        f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}",  # SIGXCPU, then SIGKILL a second later
        "--core=0",
        f"--fsize={limits.fsize_mb << 20}",
        "--nofile=1024",
    ]
    if not with_cgroup:
        args += [f"--as={limits.memory_mb << 20}", f"--nproc={limits.pids}"]
    return [*args, "--"]


class Cgroup:
    """A cgroup for one detonation: ``create``, ``join_command`` to enter, ``remove`` at the end."""

    def __init__(self, name: str, limits: Limits, flavour: str | None = None) -> None:
        self.name = name
        self.limits = limits
        self.flavour = flavour if flavour is not None else cgroup_flavour()
        if self.flavour == "v2":
            self.dirs = [ROOT / name]
        elif self.flavour == "v1":
            self.dirs = [ROOT / "memory" / name, ROOT / "pids" / name]
        else:
            self.dirs = []

    @property
    def enabled(self) -> bool:
        """Whether a cgroup is in use (not rlimits only)."""
        return bool(self.dirs)

    def create(self) -> None:
        """Make the cgroup(s) and write the limits."""
        mem = str(self.limits.memory_mb << 20)
        pids = str(self.limits.pids)
        if self.flavour == "v2":
            d = self.dirs[0]
            d.mkdir(exist_ok=True)
            (d / "memory.max").write_text(mem)
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(pids)
        elif self.flavour == "v1":
            m, p = self.dirs
            m.mkdir(exist_ok=True)
            p.mkdir(exist_ok=True)
            (m / "memory.limit_in_bytes").write_text(mem)
            with contextlib.suppress(OSError):
                (m / "memory.memsw.limit_in_bytes").write_text(mem)
            (p / "pids.max").write_text(pids)

    def join_command(self) -> str:
        """Shell text that moves the current shell (``$$``) into the cgroup(s)."""
        return "".join(f"echo $$ > {d / 'cgroup.procs'}; " for d in self.dirs)

    def pids(self) -> set[int]:
        """Processes now in the cgroup(s)."""
        found: set[int] = set()
        for d in self.dirs:
            with contextlib.suppress(OSError):
                found.update(int(x) for x in (d / "cgroup.procs").read_text().split())
        return found

    def events(self) -> dict[str, int]:
        """How often the memory and task limits were hit (``oom_kills``, ``pids_max_hit``)."""
        out = {"oom_kills": 0, "memory_max_hit": 0, "pids_max_hit": 0}
        if self.flavour == "v2":
            d = self.dirs[0]
            out |= _keyed(d / "memory.events", {"oom_kill": "oom_kills", "max": "memory_max_hit"})
            out |= _keyed(d / "pids.events", {"max": "pids_max_hit"})
        elif self.flavour == "v1":
            m, p = self.dirs
            out |= _keyed(m / "memory.oom_control", {"oom_kill": "oom_kills"})
            with contextlib.suppress(OSError, ValueError):
                out["memory_max_hit"] = int((m / "memory.failcnt").read_text())
            out |= _keyed(p / "pids.events", {"max": "pids_max_hit"})
        return out

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup until it is empty (bounded)."""
        for _ in range(50):
            left = self.pids()
            if not left:
                return
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        _log.warning("cgroup %s still has processes: %s", self.name, sorted(self.pids()))

    def remove(self) -> None:
        """Kill what is left and delete the cgroup(s)."""
        if not self.dirs:
            return
        self.kill_all()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _keyed(path: Path, names: dict[str, str]) -> dict[str, int]:
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key in names and value.strip().isdigit():
                found[names[key]] = int(value)
    return found


def cleanup_cgroups(prefix: str, root: Path = ROOT) -> list[str]:
    """Kill and remove every cgroup (v2 or v1) whose name starts with ``prefix``."""
    removed: list[str] = []
    for parent in (root, root / "memory", root / "pids"):
        if not parent.is_dir():
            continue
        for d in sorted(parent.glob(f"{prefix}*")):
            if d.is_dir():
                cg = Cgroup(d.name, Limits(), "none")
                cg.dirs = [d]
                cg.remove()
                removed.append(str(d))
    return removed

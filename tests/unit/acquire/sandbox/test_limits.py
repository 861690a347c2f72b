"""Limits: which cgroup flavour is chosen, the rlimit prefix, reading back limit events."""

from __future__ import annotations

from pathlib import Path

from swarmguard.acquire.sandbox.limits import Cgroup, Limits, cgroup_flavour, prlimit_args


def test_flavour_from_the_tree(tmp_path: Path) -> None:
    assert cgroup_flavour(tmp_path) == "none"
    (tmp_path / "memory").mkdir()
    (tmp_path / "pids").mkdir()
    assert cgroup_flavour(tmp_path) == "v1"
    (tmp_path / "cgroup.controllers").write_text("cpu io memory pids\n")
    assert cgroup_flavour(tmp_path) == "v2"


def test_rlimits_cover_memory_and_tasks_only_without_cgroup() -> None:
    lim = Limits(cpu_s=7, memory_mb=100, pids=20, fsize_mb=1)
    with_cg = prlimit_args(lim, with_cgroup=True)
    assert "--cpu=7:8" in with_cg and "--fsize=1048576" in with_cg and with_cg[-1] == "--"
    assert not any(a.startswith(("--as", "--nproc")) for a in with_cg)
    without = prlimit_args(lim, with_cgroup=False)
    assert f"--as={100 << 20}" in without and "--nproc=20" in without


def test_v2_limits_and_events(tmp_path: Path) -> None:
    cg = Cgroup("sgs-test", Limits(memory_mb=64, pids=16), "v2")
    cg.dirs = [tmp_path / "sgs-test"]
    cg.create()
    d = cg.dirs[0]
    assert (d / "memory.max").read_text() == str(64 << 20)
    assert (d / "pids.max").read_text() == "16"
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (d / "pids.events").write_text("max 42\n")
    assert cg.events() == {"oom_kills": 1, "memory_max_hit": 3, "pids_max_hit": 42}
    assert cg.join_command() == f"echo $$ > {d / 'cgroup.procs'}; "

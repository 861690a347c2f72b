"""Run one phase of a scenario end to end and keep what it leaves: ``run_scenario``.

One call builds the range, starts the services, the coordinator and one agent per zone, a
capture on every zone's router interface, the benign users, then launches the schedule's
attacks at their times; at the end it stops everything, writes the ground truth (with each
attempt's first packet time read from the captures) and ``run.json``, and removes every
namespace and process, also on failure, SIGINT or SIGTERM.

>>> RunArtifacts.__dataclass_fields__.keys() >= {"ground_truth", "alerts", "t0", "t1"}
True
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import dpkt

from swarmguard.errors import SwarmguardError
from swarmguard.range import benign
from swarmguard.range.agents import Agents
from swarmguard.range.attacks import attack_command
from swarmguard.range.scenario import Scenario, load_scenario
from swarmguard.range.services import Services, check_tools
from swarmguard.range.topology import RangeNet, bridge

__all__ = ["RunArtifacts", "first_packets", "run_scenario"]


@dataclass
class RunArtifacts:
    """What one phase of a scenario left behind (also written as ``workdir/run.json``).

    Attributes
    ----------
    ground_truth
        JSON lines, one per attack attempt: ``attempt_id``, ``attack`` (the scenario's tool
        name, e.g. ``hydra-ssh``, ``sample:beacon``), ``tool`` (the program), ``category``
        (project taxonomy: probe, dos, brute_force, web_attack, botnet, infiltration),
        ``src_ip``, ``dst_ip``, ``dst_port`` (null for scans), ``zone`` (whose capture and
        agent see it: the target's zone, or the infected host's for samples), ``ts_start``,
        ``ts_end`` (epoch s, when the tool was started and ended), ``first_packet_ts`` (epoch
        s of its first packet src->dst in that zone's capture; null if none was seen),
        ``exit_status``, ``phase``, ``attempts`` (tries that reached the service: SSH/FTP
        logins from sshd's/vsftpd's log, HTTP requests from nginx's; null for other tools)
        and ``succeeded`` (a guessed login worked; null where it does not apply).
    benign_log
        JSON lines, one per benign request: ``ts``, ``user``, ``zone``, ``kind`` (browse, ssh,
        ftp, dns), ``target`` (host name), ``ok``, ``error``, ``src_ip``, ``dst_ip``,
        ``dst_port``, ``ms``.
    captures
        ``{zone: pcap}`` of each defended zone's router interface (Ethernet, kernel time).
    agent_dirs
        ``{zone: dir}`` of each agent: ``agent.toml``, ``agent.log`` (its output),
        ``events.jsonl``, ``queue/`` (outbox.sqlite, decisions.sqlite).
    alerts
        ``{zone: path}`` of the agent's event log (JSON lines with ``type`` alert, decision or
        feedback; ``type == "alert"`` lines are ``Alert.model_dump(mode="json")`` plus the
        type key; decision lines carry ``enforced_at``, ``detect_to_enforce_ms`` and
        ``applied``). Empty when ``agents=False``.
    coordinator_db
        The coordinator's SQLite store (alerts of every agent), or None without agents.
    fail2ban_logs
        ``{host: log}`` of each fail2ban-server (``NOTICE [sshd] Ban <ip>`` lines); empty
        when fail2ban did not run.
    t0, t1
        Epoch seconds at which the phase (benign users and schedule) started and ended.
    hosts
        ``{name: {"ip", "zone", "role"}}`` for every host, the attacker zone's included
        (``c2``; ``atk<i>`` runs schedule step i).
    phase, scenario, seed, workdir
        What was run, and where.
    run_id
        The run's id: its namespaces were ``sgx-<run_id>-<host>``.
    """

    ground_truth: Path
    benign_log: Path
    captures: dict[str, Path]
    agent_dirs: dict[str, Path]
    alerts: dict[str, Path]
    coordinator_db: Path | None
    fail2ban_logs: dict[str, Path]
    t0: float
    t1: float
    hosts: dict[str, dict[str, str]]
    phase: str = "measure"
    scenario: str = ""
    seed: int = 0
    workdir: Path = field(default_factory=Path)
    run_id: str = ""

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON-ready values (paths as strings)."""

        def conv(v: Any) -> Any:
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            return v

        return {k: conv(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunArtifacts:
        """Read back what ``to_json`` wrote (``run.json``)."""

        def opt(key: str) -> Path | None:
            return Path(data[key]) if data.get(key) else None

        def paths(key: str) -> dict[str, Path]:
            return {z: Path(v) for z, v in data[key].items()}

        return cls(
            ground_truth=Path(data["ground_truth"]),
            benign_log=Path(data["benign_log"]),
            captures=paths("captures"),
            agent_dirs=paths("agent_dirs"),
            alerts=paths("alerts"),
            coordinator_db=opt("coordinator_db"),
            fail2ban_logs=paths("fail2ban_logs"),
            t0=float(data["t0"]),
            t1=float(data["t1"]),
            hosts=dict(data["hosts"]),
            phase=str(data.get("phase", "measure")),
            scenario=str(data.get("scenario", "")),
            seed=int(data.get("seed", 0)),
            workdir=Path(data.get("workdir", ".")),
            run_id=str(data.get("run_id", "")),
        )


def first_packets(pcap: Path, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], list[float]]:
    """Kernel timestamps of the packets of each ``(src, dst)`` pair in a capture."""
    found: dict[tuple[str, str], list[float]] = {p: [] for p in pairs}
    if not pcap.exists() or pcap.stat().st_size == 0:
        return found
    with pcap.open("rb") as fh:
        try:
            reader = dpkt.pcap.Reader(fh)
        except ValueError:
            return found
        with contextlib.suppress(dpkt.NeedData, dpkt.UnpackError):
            for ts, buf in reader:
                eth = dpkt.ethernet.Ethernet(buf)
                ip = eth.data
                if isinstance(ip, dpkt.ip.IP):
                    key = (socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst))
                    if key in found:
                        found[key].append(float(ts))
    return found


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into ``KeyboardInterrupt`` while the range is up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_scenario(
    scenario: Scenario | str | Path,
    *,
    workdir: Path,
    seed: int,
    agent_overrides: dict[str, Any] | None,
    phase: Literal["warmup", "measure"],
    fail2ban: bool,
    agents: bool = True,
    progress: Callable[[str], None] = lambda _msg: None,
) -> RunArtifacts:
    """Run one phase of ``scenario`` in fresh namespaces and return what it left in ``workdir``.

    Parameters
    ----------
    scenario
        A ``Scenario`` or a shipped name / YAML path (apply ``with_quick()`` yourself).
    workdir
        Created if missing; receives captures, logs, ground truth and ``run.json``.
    seed
        Seeds the benign users' timing (the attack schedule is fixed by the scenario).
    agent_overrides
        Merged into every zone agent's configuration (e.g. ``{"detectors": {"learned": "svm",
        "model": "m.joblib"}, "policy": {"name": "rl:default"}}``); a ``zones`` key maps a
        zone name to overrides for that zone only.
    phase
        ``warmup`` lasts ``warmup_s`` (the schedule squeezed into it), ``measure``
        ``duration_s``; steps marked with the other phase are left out.
    fail2ban
        Also run fail2ban-server on the scenario's ``fail2ban_host`` (default: every host
        running sshd), each banning with nftables in its own host's namespace.
    agents
        Start the coordinator and the zone agents (False: capture only, e.g. warm-up).
    progress
        Called with one line per stage and per attack launched.

    Raises
    ------
    SwarmguardError
        Not root, a tool missing, or the range could not be built (everything is removed).
    """
    if os.geteuid() != 0:
        raise SwarmguardError("range: needs root (network namespaces, raw sockets, nftables)")
    missing = check_tools()
    if missing:
        raise SwarmguardError(f"range: missing programs: {', '.join(missing)}")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    net = RangeNet(sc, workdir)
    with _signals_raise():
        try:
            return _run(net, seed, agent_overrides, phase, fail2ban, agents, progress)
        finally:
            progress("removing the range")
            net.close()


def _run(
    net: RangeNet,
    seed: int,
    overrides: dict[str, Any] | None,
    phase: Literal["warmup", "measure"],
    fail2ban: bool,
    with_agents: bool,
    progress: Callable[[str], None],
) -> RunArtifacts:
    sc, workdir = net.scenario, net.workdir
    progress(f"building range {sc.name} (run {net.run}): {len(net.plan)} hosts")
    net.build()
    services = Services(net)
    services.start_all()
    f2b_logs: dict[str, Path] = {}
    f2b_hosts = sc.fail2ban_targets() if fail2ban else []
    if fail2ban and not f2b_hosts:
        raise SwarmguardError(f"range: fail2ban needs a host running sshd in {sc.name}")
    for host in f2b_hosts:
        f2b_logs[host] = services.start_fail2ban(host)
    if f2b_hosts:
        progress(f"fail2ban watching sshd on {', '.join(f2b_hosts)}")
    ag = Agents(net, overrides)
    if with_agents:
        progress("starting the coordinator and the zone agents")
        ag.start_coordinator()
        ag.start_agents()
    captures: dict[str, Path] = {}
    cdir = workdir / "captures"
    cdir.mkdir(exist_ok=True)
    for zone in sc.zones:
        captures[zone.name] = cdir / f"{zone.name}.pcap"
        net.start(f"tcpdump-{zone.name}", sc.router, "tcpdump", "-i", bridge(zone.name), "-n",
                  "-U", "-Z", "root", "-s", "0", "-w", str(captures[zone.name]))  # fmt: skip
    time.sleep(1.5)

    length = sc.warmup_s if phase == "warmup" else sc.duration_s
    scale = sc.warmup_s / sc.duration_s if phase == "warmup" else 1.0
    steps = [(i, s) for i, s in enumerate(sc.attacker.schedule) if s.phase in ("both", phase)]
    last = max((s.at_s * scale + s.duration_s for _, s in steps), default=0.0)
    length = max(length, last + sc.settle_s)
    benign_log = workdir / "benign.jsonl"
    benign_log.write_text("")
    t0 = time.time()
    _start_users(net, services, seed, t0 + length, benign_log)
    progress(f"{phase}: {length:.0f} s, {len(steps)} attacks, {len(sc.zones)} zones")

    truth: list[dict[str, Any]] = []
    running: list[tuple[dict[str, Any], Any]] = []
    for n, (i, step) in enumerate(sorted(steps, key=lambda x: x[1].at_s)):
        _sleep_until(t0 + step.at_s * scale, running)
        if step.tool.startswith("sample:"):
            src = step.source
            dst = net.plan["c2"].ip
            if step.tool == "sample:dns_tunnel":
                dst = net.plan[sc.dns_server()].ip
        else:
            src = f"atk{i}"
            dst = net.plan[step.target].ip
        addr = net.plan[src]
        cmd = attack_command(step, dst_ip=dst, src_ip=addr.ip, gateway=addr.gateway,
                             workdir=workdir, python=sys.executable)  # fmt: skip
        seen_in = addr.zone if step.tool.startswith("sample:") else net.plan[step.target].zone
        rec: dict[str, Any] = {
            "attempt_id": f"{phase}-{n:03d}-{step.tool.replace(':', '-')}",
            "attack": step.tool,
            "tool": cmd.exe,
            "category": step.category,
            "src_ip": addr.ip,
            "dst_ip": dst,
            "dst_port": cmd.dst_port,
            "zone": seen_in,
            "phase": phase,
            "ts_start": time.time(),
            "ts_end": None,
            "first_packet_ts": None,
            "exit_status": None,
        }
        name = f"attack-{n:03d}"
        proc = net.start(name, src, *cmd.args)
        progress(f"t+{time.time() - t0:5.1f}s {step.tool} {addr.ip} -> {dst} ({step.category})")
        running.append((rec, (name, proc)))
        truth.append(rec)
    _sleep_until(t0 + length, running)
    deadline = time.time() + 30
    while running and time.time() < deadline:
        _sleep_until(time.time() + 0.5, running)
    for rec, (name, _proc) in running:
        rec["exit_status"] = net.stop(name)
        rec["ts_end"] = time.time()
    t1 = time.time()
    progress(f"{phase} over after {t1 - t0:.0f} s; stopping")
    for host in list(net.procs):
        if host.startswith("users-"):
            net.stop(host, timeout=5)
    if with_agents:
        _drain(ag)
        ag.stop()
    for zone in sc.zones:
        net.stop(f"tcpdump-{zone.name}", timeout=5)
    for host in f2b_logs:
        net.stop(f"fail2ban-{host}", timeout=10)

    by_zone: dict[str, set[tuple[str, str]]] = {}
    for rec in truth:
        by_zone.setdefault(rec["zone"], set()).add((rec["src_ip"], rec["dst_ip"]))
    for zname, pairs in by_zone.items():
        seen = first_packets(captures[zname], pairs)
        for rec in truth:
            if rec["zone"] == zname:
                times = [t for t in seen[(rec["src_ip"], rec["dst_ip"])]
                         if rec["ts_start"] - 1.0 <= t <= rec["ts_end"] + 1.0]  # fmt: skip
                rec["first_packet_ts"] = min(times) if times else None
    for rec, (_i, step) in zip(truth, sorted(steps, key=lambda x: x[1].at_s), strict=True):
        rec["attempts"], rec["succeeded"] = services.attempts(step.tool, step.target, rec["src_ip"])
    gt = workdir / "ground_truth.jsonl"
    gt.write_text("".join(json.dumps(r) + "\n" for r in truth))
    arts = RunArtifacts(
        ground_truth=gt,
        benign_log=benign_log,
        captures=captures,
        agent_dirs=dict(ag.dirs),
        alerts=dict(ag.events),
        coordinator_db=ag.coordinator_db if with_agents else None,
        fail2ban_logs=f2b_logs,
        t0=t0,
        t1=t1,
        hosts={n: {"ip": h.ip, "zone": h.zone, "role": h.role} for n, h in net.plan.items()},
        phase=phase,
        scenario=sc.name,
        seed=seed,
        workdir=workdir,
        run_id=net.run,
    )
    (workdir / "run.json").write_text(json.dumps(arts.to_json(), indent=2) + "\n")
    return arts


def _sleep_until(when: float, running: list[tuple[dict[str, Any], Any]]) -> None:
    """Sleep until ``when``, noting the end time of attacks that finish meanwhile."""
    while True:
        for item in list(running):
            rec, (_name, proc) = item
            if proc.poll() is not None:
                rec["ts_end"] = time.time()
                rec["exit_status"] = proc.returncode
                running.remove(item)
        left = when - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


def _drain(ag: Agents, timeout: float = 10.0) -> None:
    """Wait (briefly) until every agent's outbox is empty."""
    end = time.time() + timeout
    while time.time() < end:
        queued = [ag.health(z).get("queued") or {} for z in ag.dirs]
        if all(not any(q.values()) for q in queued if isinstance(q, dict)):
            return
        time.sleep(0.5)


def _start_users(net: RangeNet, services: Services, seed: int, until: float, log: Path) -> None:
    """One benign process per host that has users, writing to the shared JSONL log."""
    udir = net.workdir / "users"
    udir.mkdir(exist_ok=True)
    script = Path(benign.__file__)
    for zi, zone in enumerate(net.scenario.zones):
        hosts: dict[str, list[dict[str, Any]]] = {}
        for u in zone.users:
            hosts.setdefault(u.host, []).append(
                {
                    "kind": u.kind,
                    "target": u.target,
                    "ip": net.plan[u.target].ip,
                    "per_min": u.per_min,
                    "name": f"{u.target}.campus",
                    "key": str(services.ssh_key),
                    "user": "alice",
                }
            )
        for k, (host, acts) in enumerate(sorted(hosts.items())):
            cfg = {
                "user": host,
                "zone": zone.name,
                "seed": seed * 1000 + zi * 100 + k,
                "until": until,
                "log": str(log),
                "src_ip": net.plan[host].ip,
                "activities": acts,
            }
            path = udir / f"{host}.json"
            path.write_text(json.dumps(cfg))
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(udir)}
            net.start(f"users-{host}", host, sys.executable, str(script), str(path), env=env)


def hold_range(
    scenario: Scenario | str | Path,
    *,
    workdir: Path,
    seed: int,
    agent_overrides: dict[str, Any] | None = None,
    agents: bool = True,
    users: bool = True,
    hold_s: float | None = None,
    ready: Callable[[RangeNet], None] = lambda _net: None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> None:
    """Bring the range up (services, agents, benign users; no attacks) and keep it up.

    ``ready(net)`` is called once everything answers; the range stays until ``hold_s``
    seconds pass or SIGINT/SIGTERM, then everything is removed. This is ``swarmguard range
    up``: attack it yourself with ``ip netns exec sgx-<run>-atk0 ...``.
    """
    if os.geteuid() != 0:
        raise SwarmguardError("range: needs root (network namespaces, raw sockets, nftables)")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    net = RangeNet(sc, workdir)
    with _signals_raise():
        try:
            progress(f"building range {sc.name} (run {net.run}): {len(net.plan)} hosts")
            net.build()
            services = Services(net)
            services.start_all()
            if agents:
                ag = Agents(net, agent_overrides)
                ag.start_coordinator()
                ag.start_agents()
            end = time.time() + (hold_s if hold_s is not None else 10 * 365 * 86400.0)
            if users:
                (workdir / "benign.jsonl").write_text("")
                _start_users(net, services, seed, end, workdir / "benign.jsonl")
            ready(net)
            with contextlib.suppress(KeyboardInterrupt):
                while time.time() < end:
                    time.sleep(0.5)
        finally:
            progress("removing the range")
            net.close()

"""Run Table 1: warm-up, training, one measured run per configuration, offline rows, report.

1. A warm-up run of the scenario (captures, no agents) gives each zone's training rows
   (``training``): the SVM is fitted on them, LSTM and GNN are trained by the Flower
   deployment with CKKS, one agent per zone on its own zone's rows.
2. The measure phase runs once per configuration with the same seed and schedule:
   ``rules`` (signature and packet rules, playbook), ``svm``, ``lstm-federated``,
   ``gnn-federated`` (learned detector only, playbook) and ``marl`` (the federated LSTM's
   alerts, the RL policy ``rl:default`` choosing responses), and ``fail2ban``: the same run
   with no swarmguard agent, fail2ban watching every SSH server, judged on the SSH guessing.
   (With the agents present fail2ban is never reached: they block the guesser at the router
   before its fifth failed password, so a fail2ban row from their run would measure nothing.)
3. Each run is measured from its ground truth, captures, agents' events and benign log
   (``measure``); the offline rows come from public data (``offline``).

Example
-------
>>> [c.name for c in configurations(Path("m"))]
['rules', 'fail2ban', 'svm', 'lstm-federated', 'gnn-federated', 'marl']
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmguard.range.experiment.artifacts import (
    read_benign_log,
    read_events,
    read_fail2ban_log,
    read_flows,
    read_ground_truth,
)
from swarmguard.range.experiment.measure import fail2ban_row, measure_row
from swarmguard.range.experiment.plots import Timeline, plot_all
from swarmguard.range.experiment.report import write_report
from swarmguard.range.experiment.training import (
    FederatedModel,
    ZoneData,
    label_zone_flows,
    train_federated,
    train_local,
    write_zone_dataset,
)

__all__ = ["Configuration", "configurations", "measure_run", "run_table1"]


@dataclass
class Configuration:
    """One row of the table: the agents' overrides and what its model was trained on."""

    name: str
    overrides: dict[str, Any]
    trained_on: str = ""
    model: str = ""
    fail2ban: bool = False
    agents: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


#: Flow detectors see a flow once it ends; on the range a flow ends after this much silence
#: (the agent's own default, two minutes, outlasts a whole quick run).
FLOW_IDLE_TIMEOUT_S = 2.0


def _flow_timeout() -> dict[str, Any]:
    """The agents' flow idle timeout for the range (a detectors override)."""
    return {"flow_idle_timeout_s": FLOW_IDLE_TIMEOUT_S}


def _learned(name: str, model: Path) -> dict[str, Any]:
    return {
        "detectors": {
            "rules": False,
            "packet_rules": False,
            "flow_rules": False,
            "learned": name,
            "model": str(model),
            **_flow_timeout(),
        }
    }


def configurations(models: Path) -> list[Configuration]:
    """The six live configurations, their models under ``models``."""
    lstm = models / "lstm-federated.model"
    marl = _learned("lstm", lstm)
    marl["policy"] = {"name": "rl:default"}
    return [
        Configuration(
            "rules",
            {
                "detectors": {
                    "rules": True,
                    "packet_rules": True,
                    "flow_rules": True,
                    **_flow_timeout(),
                }
            },
            trained_on="no training (shipped signature, packet and flow rules)",
        ),
        Configuration(
            "fail2ban",
            {},
            trained_on="no training (fail2ban's sshd jail on every SSH server, no agents)",
            fail2ban=True,
            agents=False,
        ),
        Configuration("svm", _learned("svm", models / "svm.joblib"), model="svm"),
        Configuration("lstm-federated", _learned("lstm", lstm), model="lstm"),
        Configuration(
            "gnn-federated", _learned("gnn", models / "gnn-federated.model"), model="gnn"
        ),
        Configuration("marl", marl, model="lstm"),
    ]


def measure_run(
    name: str,
    run: Any,
    *,
    trained_on: str = "",
    with_fail2ban: bool = False,
    with_agents: bool = True,
) -> list[dict[str, Any]]:
    """The agents' row of one run and, when fail2ban watched it, fail2ban's."""
    attempts = read_ground_truth(Path(run.ground_truth))
    benign = read_benign_log(Path(run.benign_log))
    flows = read_flows({z: Path(p) for z, p in run.captures.items()})
    window = (float(run.t0), float(run.t1))
    lo, hi = window[0] - 5.0, window[1] + 30.0
    rows = []
    if with_agents:
        alerts, enforcements = read_events([Path(p) for p in run.alerts.values()])
        row = measure_row(name, attempts, flows, alerts, enforcements, benign, window=window)
        row["run"] = str(run.workdir)
        row["trained_on"] = trained_on
        row["timeline"] = {
            "t0": window[0],
            "alerts": [a.ts for a in alerts if lo <= a.ts <= hi][:5000],
            "enforcements": [e.ts for e in enforcements if lo <= e.ts <= hi],
        }
        rows.append(row)
    if with_fail2ban:
        logs = {str(h): Path(p) for h, p in run.fail2ban_logs.items()}
        events = [e for p in logs.values() for e in read_fail2ban_log(p)]
        watched = {run.hosts[h]["ip"] for h in logs}
        f2b = fail2ban_row(
            name if not with_agents else "fail2ban",
            attempts,
            flows,
            events,
            benign,
            window=window,
            watched=watched,
        )
        f2b["run"] = str(run.workdir)
        f2b["trained_on"] = trained_on or "no training (fail2ban's sshd jail)"
        f2b["timeline"] = {
            "t0": window[0],
            "alerts": [e.ts for e in events if e.kind == "found" and lo <= e.ts <= hi],
            "enforcements": [e.ts for e in events if e.kind == "ban" and lo <= e.ts <= hi],
        }
        rows.append(f2b)
    return rows


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()} ({cpu}, {os.cpu_count()} CPUs, Linux {platform.release()})"


def _training_data(
    warm: Any, out: Path, progress: Callable[[str], None]
) -> tuple[list[ZoneData], int]:
    from swarmguard.acquire.pcap import read_pcap

    attempts = read_ground_truth(Path(warm.ground_truth))
    zones: list[ZoneData] = []
    for zone, pcap in warm.captures.items():
        path = Path(pcap)
        if not path.exists() or path.stat().st_size <= 24:
            progress(f"training data: zone {zone} captured nothing")
            continue
        flows = read_pcap(path, sensor_id=zone, skip_bad=True)
        data = write_zone_dataset(zone, flows, label_zone_flows(flows, attempts), out / zone)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(data.counts.items()))
        progress(f"training data: zone {zone}: {data.rows} flows ({counts})")
        zones.append(data)
    return zones, len(attempts)


def _describe(zones: list[ZoneData]) -> str:
    return "; ".join(
        f"zone {z.zone}: {z.rows} flows ("
        + ", ".join(f"{k} {v}" for k, v in sorted(z.counts.items()))
        + ")"
        for z in zones
    )


def run_table1(
    scenario: str | Path,
    *,
    out: Path,
    seed: int = 0,
    quick: bool = False,
    json_out: Path | None = None,
    datasets: Path | None = None,
    offline: bool = True,
    only: list[str] | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Run the whole experiment; write the report under ``out``; return the result object."""
    from swarmguard.range.runner import run_scenario
    from swarmguard.range.scenario import load_scenario

    start = time.monotonic()
    sc = load_scenario(scenario)
    if quick:
        sc = sc.with_quick()
    out = out.resolve()
    runs, models = out / "runs", out / "models"
    models.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    progress(f"warm-up: {sc.name}, {sc.warmup_s:.0f} s of traffic for training")
    warm = run_scenario(
        sc,
        workdir=runs / "warmup",
        seed=seed,
        agent_overrides=None,
        phase="warmup",
        fail2ban=False,
        agents=False,
        progress=progress,
    )
    zones, n_warm = _training_data(warm, out / "training", progress)
    if not zones:
        raise RuntimeError("the warm-up run captured no traffic to train on")
    notes.append(
        f"Training data: the warm-up run ({n_warm} attacks, same scenario and seed) captured "
        f"per zone, metered into flows, labelled from its ground truth and written as "
        f"CIC-IDS2017 rows under {out / 'training'}/<zone>/ (one CSV per class): "
        f"{_describe(zones)}."
    )
    configs = configurations(models)
    if only:
        configs = [c for c in configs if c.name in only]
    needed = {c.model for c in configs}
    trained: dict[str, str] = {}
    if "svm" in needed:
        progress("training svm on the warm-up rows of all zones")
        train_local("svm", zones, models / "svm.joblib", seed)
        trained["svm"] = f"warm-up capture, all {len(zones)} zones pooled, fitted centrally"
    fed: dict[str, FederatedModel] = {}
    errors: dict[str, BaseException] = {}
    rounds = 2 if quick else 5

    def federate(det: str) -> None:
        try:
            fed[det] = train_federated(
                det,
                zones,
                out / "federation" / det,
                seed=seed,
                rounds=rounds,
                progress=progress,
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors[det] = exc

    threads = []
    for det in ("lstm", "gnn"):
        if det in needed:
            progress(f"federated training: {det} over {len(zones)} zone agents (Flower, CKKS)")
            threads.append(threading.Thread(target=federate, args=(det,)))
            threads[-1].start()
    for t in threads:
        t.join()
    for det, exc in sorted(errors.items()):
        # two federations side by side may race for a port; one more try, alone
        progress(f"federated {det} failed ({exc}); trying once more on its own")
        del errors[det]
        federate(det)
    if errors:
        det, exc = next(iter(errors.items()))
        raise RuntimeError(f"federated {det} training failed: {exc}") from exc
    for det, m in sorted(fed.items()):
        target = models / f"{det}-federated.model"
        target.write_bytes(m.path.read_bytes())
        trained[det] = (
            f"warm-up capture, each of {len(m.zones)} zone agents on its own zone only; "
            f"Flower deployment, TLS + CKKS, {m.report['rounds']} rounds"
        )
        progress(f"federated {det}: done in {m.seconds:.0f} s")

    rows: list[dict[str, Any]] = []
    for i, c in enumerate(configs, 1):
        progress(f"run {i}/{len(configs)}: {c.name}")
        run = run_scenario(
            sc,
            workdir=runs / c.name,
            seed=seed,
            agent_overrides=c.overrides,
            phase="measure",
            fail2ban=c.fail2ban,
            agents=c.agents,
            progress=progress,
        )
        trained_on = c.trained_on or trained.get(c.model, "")
        if c.name == "marl":
            trained_on = "alerts of the federated LSTM; " + trained_on
        measured = measure_run(
            c.name, run, trained_on=trained_on, with_fail2ban=c.fail2ban, with_agents=c.agents
        )
        for r in measured:
            progress(
                f"{r['name']}: detection {r['detected']}/{r['attempts']}, "
                f"false alarms {r['benign_flows_alerted']}/{r['benign_flows']} benign flows, "
                f"blocked {r['enforced']}, benign requests failed {r['benign_requests_failed']}"
            )
        rows.extend(measured)
    if any(c.fail2ban for c in configs):
        notes.append(
            "fail2ban (Debian's, sshd jail in aggressive mode, maxretry 5, findtime 120 s, "
            "nftables ban) ran on every SSH server in a run of the same scenario and seed with "
            "no swarmguard agent, and is judged on the SSH guessing only; its false alarms count "
            "over every benign flow. In a run with the agents it would see nothing to ban: they "
            "block the guesser at the router before its fifth failed password."
        )
    notes.append(
        "Response time: first packet of the attempt in the zone captures to the enforcer's "
        "report that the block is live (agent events); detection to enforcement: first "
        "matching alert to the same moment. Attempts before block: the attempt's flows that "
        "began before enforcement. A false alarm: a benign flow (no attempt's) that an alert "
        "naming its endpoints covered."
    )
    off: list[dict[str, Any]] = []
    if offline:
        from swarmguard.range.experiment.offline import offline_rows

        off = offline_rows(quick=quick, seed=seed, datasets=datasets, progress=progress)
    timelines = {
        r["name"]: Timeline(
            r["timeline"]["t0"], r["timeline"]["alerts"], r["timeline"]["enforcements"]
        )
        for r in rows
    }
    progress("plotting")
    plots = plot_all(rows, off, timelines, out)
    result: dict[str, Any] = {
        "scenario": sc.name,
        "quick": quick,
        "seed": seed,
        "machine": _machine(),
        "rows": rows,
        "offline": off,
        "plots": [str(p) for p in plots],
        "federation": {
            d: {"report": m.report, "zones": m.zones, "seconds": m.seconds} for d, m in fed.items()
        },
        "notes": notes,
        "seconds": time.monotonic() - start,
    }
    for r in rows:
        r.pop("timeline", None)
    write_report(result, out, json_out)
    progress(f"wrote {out / 'table1.md'}")
    return result

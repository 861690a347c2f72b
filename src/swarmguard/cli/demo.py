"""``swarmguard demo``: the main job end to end on the samples shipped in ``data/demo``."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from swarmguard.acquire.datasets import load_dataset
from swarmguard.acquire.pcap import read_pcap
from swarmguard.acquire.rawpackets import iter_packets
from swarmguard.cli.console import guarded, out, setup_logging, spinner
from swarmguard.cli.detect import default_rules_path, run_rules
from swarmguard.cli.experiment import print_holdout
from swarmguard.detect.alerts import alerts_from_flows
from swarmguard.detect.default_model import default_detector, demo_data_dir
from swarmguard.detect.rules.engine import EngineConfig
from swarmguard.detect.svm import SvmDetector
from swarmguard.eval.holdout import holdout_experiment
from swarmguard.features.mapping import flows_to_dataset

__all__ = ["demo_command"]


def demo_command(
    out_dir: Annotated[Path, typer.Option("--out", help="write alerts here")] = Path("out/demo"),
    seed: Annotated[int, typer.Option(help="seeds splits and models")] = 0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Capture to alerts (rules and SVM), and detection measured honestly, on shipped samples."""
    setup_logging(verbose)
    started = time.perf_counter()
    with guarded():
        demo = demo_data_dir()
        out.rule("[bold]1. capture -> flows -> alerts")
        pcap = demo / "pcaps" / "synflood_first2000.pcap"
        flows = read_pcap(pcap)
        with spinner("training the default SVM on the CIC-IDS2017 sample"):
            det = default_detector(seed)
        scores = det.score(flows_to_dataset(flows, det.format))
        alerts = alerts_from_flows(flows, scores, det.threshold, detector=det.name)
        out_dir.mkdir(parents=True, exist_ok=True)
        eve = out_dir / "alerts.eve.jsonl"
        eve.write_text("".join(a.to_eve_line() + "\n" for a in alerts), encoding="utf-8")
        packets = int(flows.column("pkts_toserver").to_numpy().sum())
        packets += int(flows.column("pkts_toclient").to_numpy().sum())
        out.print(
            f"{pcap.name}: {packets} packets -> {flows.num_rows} flows -> SVM: "
            f"{len(alerts)} alerts ({100 * len(alerts) / max(flows.num_rows, 1):.1f} % of flows "
            f"flagged; the capture is a spoofed SYN flood) -> {eve}"
        )
        rules_eve = out_dir / "rules.eve.jsonl"
        _, n_rules, _, rule_alerts = run_rules(
            iter_packets(pcap),
            default_rules_path(),
            rules_eve,
            skip_unsupported=False,
            config=EngineConfig(),
            skip_bad=False,
        )
        kinds = Counter(f"{a.alert.signature} [{a.alert.category}]" for a in rule_alerts)
        summary = "; ".join(f"{k} x{n}" for k, n in kinds.most_common(3)) or "none"
        out.print(
            f"shipped rule set ({n_rules} rules): {len(rule_alerts)} alerts ({summary}) "
            f"-> {rules_eve}",
            markup=False,
        )
        for n, (name, sub) in enumerate(
            (("NSL-KDD", "nsl-kdd"), ("CIC-IDS2017", "cic-ids2017")), start=2
        ):
            out.rule(f"[bold]{n}. SVM on the {name} sample: random split vs unseen attack families")
            rows = load_dataset(demo / sub)
            with spinner(f"SVM on {name}") as stage:
                result = holdout_experiment(
                    rows,
                    lambda: SvmDetector(seed=seed),
                    seed=seed,
                    latency_samples=50,
                    on_stage=stage,
                )
            print_holdout(f"SVM on the {name} demo sample", result)
        out.print(f"demo finished in {time.perf_counter() - started:.0f} s")

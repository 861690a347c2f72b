"""``swarmguard detect``: inspect a capture and write one EVE alert per line.

With ``--rules FILE`` (or with neither ``--rules`` nor ``--detector`` / ``--model``: the shipped
rule set) the signature engine inspects every packet; with ``--detector`` / ``--model`` a
learned detector scores the capture's metered flows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from swarmguard.acquire.live import live_packets
from swarmguard.acquire.pcap import read_pcap
from swarmguard.acquire.rawpackets import Packet, iter_packets
from swarmguard.cli.console import byte_progress, guarded, input_size, out, setup_logging, spinner
from swarmguard.cli.detect_logs import detect_logs
from swarmguard.config import Settings
from swarmguard.detect.alerts import alerts_from_flows
from swarmguard.detect.base import DETECTORS, Detector
from swarmguard.detect.default_model import default_detector
from swarmguard.detect.persist import model_detector_name
from swarmguard.detect.rules.engine import EngineConfig, RuleEngine
from swarmguard.detect.rules.parser import RuleLoadReport, parse_rules
from swarmguard.errors import SkipLog
from swarmguard.features.mapping import flows_as_table, flows_to_dataset
from swarmguard.records.alert import Alert

__all__ = ["default_rules_path", "detect_command", "load_model", "run_rules"]


def default_rules_path() -> Path:
    """The shipped Suricata-syntax rule set."""
    return Path(str(resources.files("swarmguard.detect.rules") / "default" / "swarmguard.rules"))


def run_rules(
    packets: Iterable[Packet],
    rules_file: Path,
    eve: Path,
    *,
    skip_unsupported: bool,
    config: EngineConfig,
    skip_bad: bool,
) -> tuple[int, int, RuleLoadReport, list[Alert]]:
    """Run the rule engine over packets; write EVE lines as alerts come (flushed each time)."""
    report = RuleLoadReport()
    rules = parse_rules(rules_file, skip_unsupported=skip_unsupported, report=report)
    engine = RuleEngine(rules, config)
    alerts: list[Alert] = []
    eve.parent.mkdir(parents=True, exist_ok=True)
    with eve.open("w", encoding="utf-8") as fh:
        for alert in engine.run(packets):
            fh.write(alert.to_eve_line() + "\n")
            fh.flush()
            alerts.append(alert)
    return engine.stats.packets, len(rules), report, alerts


def load_model(detector: str | None, model: Path | None, seed: int) -> Detector:
    """The detector to use: ``--model`` (its kind read from the file), or the default."""
    if model is not None:
        saved = model_detector_name(model)
        if detector is not None and detector != saved:
            raise ValueError(f"{model} holds a '{saved}' model, not '{detector}'")
        return DETECTORS.get(saved).load(model)
    if detector not in (None, "svm"):
        raise ValueError(f"--detector {detector} needs --model PATH (train one with evaluate)")
    return default_detector(seed)


def detect_command(
    eve: Annotated[Path, typer.Option(help="write EVE JSON alerts here, one per line")],
    pcap: Annotated[
        Path | None, typer.Option(help="capture file (pcap or pcapng) to inspect")
    ] = None,
    logs: Annotated[
        Path | None, typer.Option(help="log file to run Sigma rules over (gzip allowed)")
    ] = None,
    live: Annotated[
        str | None,
        typer.Option(help="inspect live traffic on this interface with the rules (needs root)"),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="with --live: stop after this many seconds")
    ] = None,
    log_format: Annotated[
        str,
        typer.Option(help="with --logs: auto, evtx, evtx-json, auth, syslog, access or jsonl"),
    ] = "auto",
    rules: Annotated[
        Path | None,
        typer.Option(
            help="with --pcap: Suricata-syntax rules file (default: the shipped rule set); "
            "with --logs: folder of Sigma rules (required)"
        ),
    ] = None,
    skip_unsupported: Annotated[
        bool,
        typer.Option("--skip-unsupported", help="load the rules that parse; report the rest"),
    ] = False,
    midstream: Annotated[
        bool, typer.Option("--midstream", help="pick up TCP sessions already under way")
    ] = False,
    checksums: Annotated[
        bool, typer.Option("--checksums", help="ignore packets with bad checksums in streams")
    ] = False,
    eve_packet: Annotated[
        bool, typer.Option("--eve-packet", help="add the packet (base64) to each rule alert")
    ] = False,
    detector: Annotated[
        str | None, typer.Option(help="detector name (default: the one saved in --model)")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="fitted model from `evaluate --model-out`")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="override the threshold chosen at training")
    ] = None,
    sensor_id: Annotated[str, typer.Option(help="sensor name put in every alert")] = "local",
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="skip malformed packets (counted and reported)")
    ] = False,
    seed: Annotated[int, typer.Option(help="seed for the default model")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no summary")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Inspect a capture (rules or a learned detector) or a log file (Sigma); write EVE lines."""
    setup_logging(verbose)
    show = not quiet
    with guarded():
        if sum(x is not None for x in (pcap, logs, live)) != 1:
            raise ValueError("give exactly one of --pcap, --logs or --live")
        if logs is not None:
            if rules is None:
                raise ValueError("--logs needs --rules RULES_DIR (a folder of Sigma rules)")
            detect_logs(
                logs,
                log_format,
                rules,
                eve,
                skip_unsupported=skip_unsupported,
                skip_bad=skip_bad,
                sensor_id=sensor_id,
                show=show,
            )
            return
        if live is not None and (detector is not None or model is not None):
            raise ValueError("--live runs the rule engine; learned detectors need --pcap")
        if pcap is not None and not pcap.is_file():
            raise FileNotFoundError(f"{pcap}: no such file")
        if rules is not None or (detector is None and model is None):
            if rules is not None and (detector is not None or model is not None):
                raise ValueError("give either --rules or --detector/--model, not both")
            rules_file = rules if rules is not None else default_rules_path()
            if not rules_file.is_file():
                raise FileNotFoundError(f"{rules_file}: no such rules file")
            cfg = EngineConfig(
                midstream=midstream,
                checksum_validation=checksums,
                eve_packet=eve_packet,
                sensor_id=sensor_id,
            )
            packets: Iterable[Packet]
            if live is not None:
                packets = live_packets(live, duration_s=duration)
            else:
                assert pcap is not None
                packets = iter_packets(pcap, stop_at_bad=skip_bad)
            with spinner("inspecting packets" if live is None else f"watching {live}", show):
                n_packets, n_rules, report, alerts = run_rules(
                    packets,
                    rules_file,
                    eve,
                    skip_unsupported=skip_unsupported,
                    config=cfg,
                    skip_bad=skip_bad,
                )
            if show:
                if report.skipped:
                    out.print(f"[yellow]{report.summary()}[/yellow]")
                    for e in report.skipped[:10]:
                        out.print(f"  skipped: {e}", markup=False)
                top_sigs = Counter(a.alert.signature for a in alerts).most_common(3)
                sigs = ", ".join(f"{s} ({n})" for s, n in top_sigs) or "none"
                out.print(
                    f"{n_packets} packets, {n_rules} rules, {len(alerts)} alerts -> {eve}; "
                    f"top: {sigs}",
                    markup=False,
                )
            return
        assert pcap is not None
        with spinner("loading detector", show):
            det = load_model(detector, model, seed)
        skip_log = SkipLog()
        settings = Settings()
        with byte_progress("metering flows", input_size(pcap), show) as progress:
            flows = read_pcap(
                pcap,
                settings=settings.flow,
                sensor_id=sensor_id,
                skip_bad=skip_bad,
                skip_log=skip_log,
                progress=progress,
            )
        fmt = getattr(det, "format", "flow")
        rows = flows_as_table(flows) if fmt == "flow" else flows_to_dataset(flows, fmt)
        scores = det.score(rows)
        cut = det.threshold if threshold is None else threshold
        alerts = alerts_from_flows(flows, scores, cut, detector=det.name, sensor_id=sensor_id)
        eve.parent.mkdir(parents=True, exist_ok=True)
        with eve.open("w", encoding="utf-8") as fh:
            for alert in alerts:
                fh.write(alert.to_eve_line() + "\n")
        if show:
            if skip_log.count:
                out.print(f"[yellow]{skip_log.summary()}[/yellow]")
            sources = Counter(a.src_ip for a in alerts).most_common(3)
            top = ", ".join(f"{ip} ({n})" for ip, n in sources) or "none"
            out.print(
                f"{flows.num_rows} flows, {len(alerts)} alerts ({det.name}, threshold "
                f"{cut:.3f}) -> {eve}; top sources: {top}"
            )

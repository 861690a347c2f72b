"""``swarmguard detect``: score a capture and write one EVE alert per line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from swarmguard.acquire.pcap import read_pcap
from swarmguard.cli.console import byte_progress, guarded, input_size, out, setup_logging, spinner
from swarmguard.config import Settings
from swarmguard.detect.alerts import alerts_from_flows
from swarmguard.detect.base import DETECTORS, Detector
from swarmguard.detect.default_model import default_detector
from swarmguard.detect.persist import model_detector_name
from swarmguard.errors import SkipLog
from swarmguard.features.mapping import flows_as_table, flows_to_dataset

__all__ = ["detect_command", "load_model"]


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
    pcap: Annotated[Path, typer.Option(help="capture file (pcap or pcapng)")],
    eve: Annotated[Path, typer.Option(help="write EVE JSON alerts here, one per line")],
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
    """Meter flows from a capture, score them, and write alerts as EVE JSON lines."""
    setup_logging(verbose)
    show = not quiet
    with guarded():
        if not pcap.is_file():
            raise FileNotFoundError(f"{pcap}: no such file")
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

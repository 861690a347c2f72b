"""``swarmguard detect --logs``: run Sigma rules over a log file and write EVE alerts.

Besides the Sigma hits, authentication failure bursts found by ``ueba`` (10 failures from one
source in 60 s) are written as ``brute_force`` alerts with the source address, and the shipped
threshold rules for auth logs (``detect/rules/logrules.py``: failed passwords and invalid user
names per source per window) add theirs, so an SSH brute force in an auth log reaches the
response layer as one seen in traffic does.

``detect_logs`` is the body of the command; ``cli/detect.py`` wires the ``--logs``,
``--log-format``, ``--rules`` options to it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from swarmguard.acquire.logs import LOG_FORMATS, read_logs
from swarmguard.cli.console import byte_progress, input_size, out, spinner
from swarmguard.cli.sigma_test import load_engine
from swarmguard.detect.rules.logrules import log_rule_alerts
from swarmguard.detect.ueba import UebaDetector
from swarmguard.errors import InputError, SkipLog

__all__ = ["detect_logs"]


def detect_logs(
    logs: Path,
    log_format: str,
    rules_dir: Path,
    eve: Path,
    *,
    skip_unsupported: bool,
    skip_bad: bool,
    sensor_id: str,
    show: bool,
) -> int:
    """Read ``logs``, evaluate every Sigma rule under ``rules_dir``, write EVE alerts to ``eve``.

    Returns the number of alerts written. Errors are ``SwarmguardError``s for ``guarded()``.

    Raises
    ------
    InputError
        Missing log file or rules folder, or bad input without ``skip_bad``.
    UnsupportedRule
        A rule that cannot be evaluated, without ``skip_unsupported``.
    ValueError
        An unknown ``log_format``.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"--log-format must be one of {', '.join(LOG_FORMATS)}")
    if not logs.is_file():
        raise InputError(logs, "no such file")
    with spinner("loading Sigma rules", show):
        engine = load_engine(rules_dir, skip_unsupported=skip_unsupported)
    skip_log = SkipLog()
    with byte_progress("reading logs", input_size(logs), show) as progress:
        events = read_logs(
            logs,
            log_format,
            sensor_id=sensor_id,
            skip_bad=skip_bad,
            skip_log=skip_log,
            progress=progress,
        )
    from swarmguard.detect.sigma import alert_from_hit  # loaded with the engine above

    hits = engine.match(events)
    alerts = [alert_from_hit(h, sensor_id=sensor_id) for h in hits]
    alerts.extend(UebaDetector().burst_alerts(events, sensor_id=sensor_id))
    alerts.extend(log_rule_alerts(events, sensor_id=sensor_id))
    alerts.sort(key=lambda a: a.ts)
    eve.parent.mkdir(parents=True, exist_ok=True)
    with eve.open("w", encoding="utf-8") as fh:
        for alert in alerts:
            fh.write(alert.to_eve_line() + "\n")
    if show:
        if engine.report.skipped:
            out.print(f"[yellow]{engine.report.summary()}[/yellow]")
        if skip_log.count:
            out.print(f"[yellow]{skip_log.summary()}[/yellow]")
        top = Counter(a.alert.signature for a in alerts).most_common(3)
        names = "; ".join(f"{name} ({n})" for name, n in top) or "none"
        out.print(
            f"{len(events)} events, {engine.report.loaded} rules, {len(alerts)} alerts -> "
            f"{eve}; top rules: {names}",
            markup=False,
        )
    return len(alerts)

"""The threshold rules of ``flow-rules.yaml`` over authentication log events.

Log events become a table with the LogEvent fields the rules name (``ts``, ``src_ip``, ``user``,
``action``, ``outcome``, ``program``, ``auth_method``), so the same rule format and evaluator that
run over flow batches run over auth logs: failed logins per source per window, user enumeration.
One alert is written per rule, source and window, citing every event that counted.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> from swarmguard.records.log import LogEvent
>>> t0 = datetime(2024, 12, 10, 6, 55, tzinfo=UTC)
>>> events = [LogEvent(ts=t0 + timedelta(seconds=i), program="sshd", action="auth_failure",
...                    outcome="failure", auth_method="password", src_ip="203.0.113.9",
...                    user="root", message="Failed password") for i in range(12)]
>>> alerts = log_rule_alerts(events)
>>> [(a.src_ip, a.alert.signature_id, len(a.evidence)) for a in alerts]
[('203.0.113.9', 9300401, 12)]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from swarmguard.detect.rules.classification import CLASSIFICATIONS
from swarmguard.detect.rules.flowrules import FlowRule, evaluate_flow_rules, load_flow_rules
from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.records.log import LogEvent

__all__ = ["log_events_table", "log_rule_alerts"]

_FIELDS = ("user", "action", "outcome", "program", "auth_method", "host")


def log_events_table(events: Sequence[LogEvent]) -> pa.Table:
    """The rule-relevant fields of ``events`` as an Arrow table (one row per event)."""
    columns: dict[str, pa.Array] = {
        "ts": pa.array([e.ts for e in events], type=pa.timestamp("us", tz="UTC")),
        "src_ip": pa.array([e.src_ip for e in events], type=pa.string()),
    }
    for name in _FIELDS:
        columns[name] = pa.array([getattr(e, name) for e in events], type=pa.string())
    return pa.table(columns)


def _reference(event: LogEvent) -> str:
    if event.source_file is not None and event.source_line is not None:
        return f"{event.source_file}:{event.source_line}"
    return f"event:{event.uid}"


def log_rule_alerts(
    events: Sequence[LogEvent],
    rules: list[FlowRule] | None = None,
    *,
    rules_path: Path | None = None,
    sensor_id: str = "local",
) -> list[Alert]:
    """Alerts of the threshold rules (default: the shipped set) over log ``events``."""
    if not events:
        return []
    rules = rules if rules is not None else load_flow_rules(rules_path)
    by_sid = {r.sid: r for r in rules}
    hits = evaluate_flow_rules(rules, log_events_table(events))
    alerts: list[Alert] = []
    for sid, mask in sorted(hits.items()):
        rule = by_sid[sid]
        window_s = rule.window_s
        groups: dict[tuple[str | None, int], list[LogEvent]] = {}
        for i in mask.nonzero()[0].tolist():
            event = events[i]
            window = int(event.ts.timestamp() // window_s) if window_s else 0
            groups.setdefault((event.src_ip, window), []).append(event)
        category, severity = CLASSIFICATIONS[rule.classtype]
        for (src, _), fired in groups.items():
            first = fired[0]
            alerts.append(
                Alert(
                    ts=first.ts,
                    sensor_id=sensor_id,
                    src_ip=src,
                    dest_ip=None,
                    app_proto=first.program,
                    alert=AlertInfo(
                        signature_id=sid,
                        signature=rule.msg,
                        category=category,
                        severity=min(max(int(severity), 1), 4),
                        metadata={"family": [rule.family]} if rule.family else None,
                    ),
                    detector="rules",
                    score=1.0,
                    evidence=[_reference(e) for e in fired],
                )
            )
    return alerts

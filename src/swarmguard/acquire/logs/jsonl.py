"""Generic JSON lines (one object per line) as ``LogEvent``s.

A line holding a Windows ``Event`` (or an export wrapper around one) is read as a Windows
event. Any other object is kept whole in ``raw`` (``raw_format="jsonl"``) and the usual keys
fill the normalised fields (first present wins; dotted names are ECS paths):

==============  ============================================================
field           keys
==============  ============================================================
ts              ``@timestamp``, ``timestamp``, ``ts``, ``time``, ``date``
host            ``host.name``, ``hostname``, ``host``, ``Computer``
user            ``user.name``, ``user``, ``username``, ``User``
src_ip          ``source.ip``, ``src_ip``, ``client_ip``, ``ip``
event_id        ``event.code``, ``event_id``, ``EventID``
event_type      ``event.action``, ``event_type``, ``type``
process         ``process.executable``, ``process``, ``Image``
command_line    ``process.command_line``, ``command_line``, ``CommandLine``
message         ``message``, ``msg`` (else the line)
==============  ============================================================

Examples
--------
>>> e = event_from_json({"ts": "2024-01-02T03:04:05Z", "user": "ann", "src_ip": "1.2.3.4",
...                      "event_type": "login", "msg": "ok"}, source_file="a", source_line=3)
>>> (e.user, e.src_ip, e.event_type, e.message, e.raw_format)
('ann', '1.2.3.4', 'login', 'ok', 'jsonl')
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swarmguard.acquire.jsonlines import BadLine, parse_json_object
from swarmguard.acquire.logs.opener import iter_lines
from swarmguard.acquire.logs.windows import event_from_windows
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.log import LogEvent

__all__ = ["event_from_json", "read_json_lines"]

_TS = ("@timestamp", "timestamp", "ts", "time", "date")


def _get(obj: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value: Any = obj
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None and "." in key:
            value = obj.get(key)
        if value is not None and not isinstance(value, dict | list):
            return value
    return None


def _str(obj: Mapping[str, Any], *keys: str) -> str | None:
    value = _get(obj, *keys)
    return None if value is None else str(value)


def _int(obj: Mapping[str, Any], *keys: str) -> int | None:
    value = _get(obj, *keys)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 18:
        return int(value)
    return None


def _time(obj: Mapping[str, Any]) -> datetime:
    value = _get(obj, *_TS)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise BadLine(f"timestamp out of range: {value!r:.40}") from None
    if not isinstance(value, str):
        raise BadLine("no timestamp (@timestamp, timestamp, ts, time or date)")
    text = value.strip().removesuffix(" UTC").replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadLine(f"not an ISO 8601 timestamp: {value!r:.40}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def event_from_json(
    obj: Mapping[str, Any], *, source_file: str, source_line: int, sensor_id: str = "local"
) -> LogEvent:
    """Turn one JSON object into a ``LogEvent`` (a Windows event when it holds one).

    Raises
    ------
    BadLine
        If the object has no usable timestamp.
    """
    if "Event" in obj or isinstance(obj.get("event"), dict) and "Event" in obj["event"]:
        return event_from_windows(
            obj, source_file=source_file, source_line=source_line, sensor_id=sensor_id
        )
    ts = _time(obj)
    message = _str(obj, "message", "msg")
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return LogEvent(
        ts=ts,
        sensor_id=sensor_id,
        host=_str(obj, "host.name", "hostname", "host", "Computer"),
        user=_str(obj, "user.name", "user", "username", "User"),
        src_ip=_str(obj, "source.ip", "src_ip", "client_ip", "ip"),
        src_port=_int(obj, "source.port", "src_port"),
        dest_ip=_str(obj, "destination.ip", "dest_ip"),
        dest_port=_int(obj, "destination.port", "dest_port"),
        message=message if message is not None else raw[:2000],
        source_file=source_file,
        source_line=source_line,
        product=_str(obj, "product"),
        event_id=_int(obj, "event.code", "event_id", "EventID"),
        event_type=_str(obj, "event.action", "event_type", "type"),
        process=_str(obj, "process.executable", "process", "Image"),
        command_line=_str(obj, "process.command_line", "command_line", "CommandLine"),
        raw=raw,
        raw_format="jsonl",
    )


def read_json_lines(
    path: Path,
    *,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[LogEvent]:
    """Read a JSON-lines log (gzip accepted) into one ``LogEvent`` per line.

    Raises
    ------
    InputError
        Empty file, or (without ``skip_bad``) a line that is not a JSON object or has no
        timestamp.
    """

    def bad(line: int, reason: str) -> None:
        if not skip_bad:
            raise InputError(path, reason, line=line)
        if skip_log is not None:
            skip_log.add(path, line, reason)

    events: list[LogEvent] = []
    name = str(path)
    for number, text in iter_lines(path, bad, progress):
        try:
            obj = parse_json_object(text)
            events.append(
                event_from_json(obj, source_file=name, source_line=number, sensor_id=sensor_id)
            )
        except BadLine as exc:
            bad(number, str(exc))
    return events

r"""Windows events (the ``Event`` object with ``System`` and ``EventData``) as ``LogEvent``.

The shape is the one the ``evtx`` parser writes (and the SigmaHQ regression ``.json`` files
hold): XML attributes under ``#attributes``, text under ``#text``. The whole ``Event`` object is
kept in ``LogEvent.raw`` as JSON text; the normalised fields come from it:

=================  ==============================================================
LogEvent field     Event fields
=================  ==============================================================
ts                 ``System.TimeCreated.#attributes.SystemTime``
host               ``System.Computer``
event_id           ``System.EventID`` (or its ``#text``)
channel, provider  ``System.Channel``, ``System.Provider.#attributes.Name``
record_id          ``System.EventRecordID``
user               ``User``, ``TargetUserName`` (logons), ``SubjectUserName``
src_ip, src_port   ``IpAddress``/``IpPort`` (logons), ``SourceIp``/``SourcePort`` (Sysmon 3)
dest_ip, dest_port ``DestinationIp``, ``DestinationPort``
process            ``Image`` (Sysmon), ``NewProcessName`` (4688), ``ProcessName``
parent_process     ``ParentImage``, ``ParentProcessName``
command_line       ``CommandLine``; ``parent_command_line``: ``ParentCommandLine``
action, outcome    4624 auth_success, 4625 auth_failure (others: ``other``)
=================  ==============================================================

Examples
--------
>>> ev = {"Event": {"System": {"EventID": 4625, "Channel": "Security", "Computer": "dc1",
...       "TimeCreated": {"#attributes": {"SystemTime": "2019-03-19T23:34:25.123Z"}}},
...       "EventData": {"TargetUserName": "bob", "IpAddress": "10.0.0.5", "IpPort": "5050"}}}
>>> e = event_from_windows(ev, source_file="x.json", source_line=1)
>>> (e.event_id, e.channel, e.user, e.src_ip, e.src_port, e.action, e.product)
(4625, 'Security', 'bob', '10.0.0.5', 5050, 'auth_failure', 'windows')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from swarmguard.acquire.jsonlines import BadLine
from swarmguard.records.log import LogAction, LogEvent, LogOutcome

__all__ = ["event_from_windows", "unwrap_event"]

_LOGON: dict[int, tuple[LogAction, LogOutcome]] = {
    4624: ("auth_success", "success"),
    4625: ("auth_failure", "failure"),
    4771: ("auth_failure", "failure"),
    4776: ("other", "unknown"),
}
_EMPTY_ADDR = {"", "-", "::1", "127.0.0.1"}


def unwrap_event(obj: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, int | None]:
    """Return ``({"Event": ...}, origin_file, record_id)`` from an ``Event`` object or a wrapper.

    Wrappers are the one-object-per-line exports (``{"source_file", "record_id", "event":
    {"Event": ...}}``) and the ``evtx`` parser's records (``{"event_record_id", "data"}``).

    Raises
    ------
    BadLine
        If no ``Event`` object with a ``System`` part is found.
    """
    origin: str | None = None
    record: int | None = None
    inner: Any = obj
    for key in ("event", "data"):
        if "Event" not in inner and key in inner:
            origin_value = inner.get("source_file")
            origin = origin_value if isinstance(origin_value, str) else origin
            rec = inner.get("record_id", inner.get("event_record_id"))
            record = rec if isinstance(rec, int) and not isinstance(rec, bool) else record
            inner = inner[key]
            if isinstance(inner, str):
                try:
                    inner = json.loads(inner)
                except ValueError:
                    raise BadLine(f"field {key!r} is not JSON") from None
            if not isinstance(inner, dict):
                raise BadLine(f"field {key!r} is not an object")
    event = inner.get("Event") if isinstance(inner, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("System"), dict):
        raise BadLine("not a Windows event: no Event.System object")
    return {"Event": event}, origin, record


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("#text")
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _int(value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    text = text.strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _port(value: Any) -> int | None:
    port = _int(value)
    return port if port is not None and 0 < port <= 65535 else None


def _addr(value: Any) -> str | None:
    text = _text(value)
    if text is None or text.strip() in _EMPTY_ADDR:
        return None
    return text.strip().removeprefix("::ffff:")


def _time(system: Mapping[str, Any]) -> datetime:
    created = system.get("TimeCreated")
    stamp = None
    if isinstance(created, dict):
        attrs = created.get("#attributes")
        if isinstance(attrs, dict):
            stamp = attrs.get("SystemTime")
    if not isinstance(stamp, str):
        raise BadLine("Windows event without System.TimeCreated.SystemTime")
    text = stamp.strip().removesuffix(" UTC")
    if "." in text:  # Windows writes 7 fractional digits; Python reads up to 6
        head, _, frac = text.partition(".")
        digits = "".join(ch for ch in frac if ch.isdigit())
        zone = frac[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadLine(f"bad SystemTime {stamp!r:.40}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _first(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = _text(data.get(key))
        if value not in (None, "", "-"):
            return value
    return None


def event_from_windows(
    obj: Mapping[str, Any],
    *,
    source_file: str,
    source_line: int | None,
    sensor_id: str = "local",
) -> LogEvent:
    """Turn one Windows ``Event`` object (or an export wrapper around it) into a ``LogEvent``.

    Raises
    ------
    BadLine
        If the object is not a Windows event or has no usable time.
    """
    wrapped, origin, record = unwrap_event(obj)
    event = wrapped["Event"]
    system: dict[str, Any] = event["System"]
    data_obj = event.get("EventData")
    data: dict[str, Any] = data_obj if isinstance(data_obj, dict) else {}
    user_data = event.get("UserData")
    if isinstance(user_data, dict):
        for value in user_data.values():
            if isinstance(value, dict):
                data = {**value, **data}
    provider = system.get("Provider")
    provider_name = None
    if isinstance(provider, dict) and isinstance(provider.get("#attributes"), dict):
        provider_name = _text(provider["#attributes"].get("Name"))
    event_id = _int(system.get("EventID"))
    action, outcome = _LOGON.get(event_id or -1, ("other", "unknown"))
    record_id = _int(system.get("EventRecordID"))
    user = _first(data, "User", "TargetUserName", "SubjectUserName", "AccountName")
    message_parts = [f"EventID {event_id}" if event_id is not None else "Event"]
    if provider_name:
        message_parts.append(provider_name)
    return LogEvent(
        ts=_time(system),
        sensor_id=sensor_id,
        host=_text(system.get("Computer")),
        pid=_int(data.get("ProcessId")) if "ProcessId" in data else None,
        program=provider_name,
        action=action,
        outcome=outcome,
        user=user,
        src_ip=_addr(data.get("IpAddress")) or _addr(data.get("SourceIp")),
        src_port=_port(data.get("IpPort")) or _port(data.get("SourcePort")),
        message=" ".join(message_parts),
        source_file=source_file,
        source_line=source_line,
        product="windows",
        event_id=event_id,
        channel=_text(system.get("Channel")),
        provider=provider_name,
        record_id=record if record_id is None else record_id,
        origin_file=origin,
        process=_first(data, "Image", "NewProcessName", "ProcessName"),
        parent_process=_first(data, "ParentImage", "ParentProcessName"),
        command_line=_first(data, "CommandLine"),
        parent_command_line=_first(data, "ParentCommandLine"),
        dest_ip=_addr(data.get("DestinationIp")),
        dest_port=_port(data.get("DestinationPort")),
        raw=json.dumps(wrapped, separators=(",", ":"), ensure_ascii=False),
        raw_format="evtx",
    )

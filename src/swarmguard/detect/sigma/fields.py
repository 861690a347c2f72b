r"""The field view of a ``LogEvent`` that Sigma detections read, and its index keys.

Windows events expose ``System`` fields by their Sigma names (``EventID``, ``Channel``,
``Computer``, ``Provider_Name``, ``Level``, ``Task``, ``Keywords``, ``EventRecordID``), every
``EventData`` and ``UserData`` value by its name, and classic unnamed data as ``Data``.
Security 4688 events also get the Sysmon names the process_creation rules use
(``Image`` <- ``NewProcessName``, ``ParentImage`` <- ``ParentProcessName``, ``ProcessId`` <-
``NewProcessId``, ``ParentProcessId`` <- ``ProcessId``, ``IntegrityLevel`` <-
``MandatoryLabel``, ``LogonId`` <- ``SubjectLogonId``, ``User`` <-
``SubjectDomainName\SubjectUserName``). Field names match
case-insensitively, and names with spaces (Defender's ``Source Name``) also without them.
Keyword detections (values without a field) search every data value of a
Windows event, the parsed fields of an access line, and the message of a syslog line.

Examples
--------
>>> from datetime import datetime, UTC
>>> from swarmguard.records.log import LogEvent
>>> e = LogEvent(ts=datetime(2024, 1, 1, tzinfo=UTC), message="m", raw_format="evtx",
...     raw='{"Event": {"System": {"EventID": 4688, "Channel": "Security"}, '
...         '"EventData": {"NewProcessName": "C:\\\\w\\\\cmd.exe"}}}')
>>> view = event_view(e)
>>> view.fields["image"].text, sorted(view.keys)[-1]
('C:\\w\\cmd.exe', ('windows', 'service', 'security'))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from swarmguard.detect.sigma.logsource import IndexKey, linux_keys, web_keys, windows_keys
from swarmguard.detect.sigma.values import FieldValue
from swarmguard.records.log import LogEvent

__all__ = ["EventView", "event_view"]

_SYSTEM_FIELDS = (
    "EventID",
    "Channel",
    "Computer",
    "Level",
    "Task",
    "Opcode",
    "Keywords",
    "EventRecordID",
    "Version",
)
_ALIASES_4688 = {"newprocessname": "image", "parentprocessname": "parentimage"}


@dataclass(frozen=True, slots=True)
class EventView:
    """What the matcher reads: fields by lower-cased name, keyword values, index keys."""

    fields: dict[str, FieldValue]
    keywords: tuple[FieldValue, ...]
    keys: frozenset[IndexKey]


def _scalar(value: Any) -> Any:
    if isinstance(value, dict):
        if "#text" in value:
            return _scalar(value["#text"])
        return None
    if isinstance(value, list):
        items = [_scalar(v) for v in value]
        return "\n".join("" if i is None else str(i) for i in items)
    return value


def _put(fields: dict[str, FieldValue], name: str, value: Any) -> None:
    scalar = _scalar(value)
    if scalar is None:
        return
    fields.setdefault(name.lower(), FieldValue.of(scalar))


def _flatten_into(fields: dict[str, FieldValue], data: Any, keywords: list[FieldValue]) -> None:
    if not isinstance(data, dict):
        return
    for name, value in data.items():
        if name == "#attributes":
            if isinstance(value, dict):
                _flatten_into(fields, value, keywords)
            continue
        if isinstance(value, dict) and "#text" not in value:
            _flatten_into(fields, value, keywords)
            continue
        scalar = _scalar(value)
        if scalar is None:
            continue
        fv = FieldValue.of(scalar)
        fields.setdefault(name.lower(), fv)
        if " " in name:  # Defender writes "Source Name"; Sigma rules say SourceName
            fields.setdefault(name.replace(" ", "").lower(), fv)
        keywords.append(fv)


def _alias_4688(fields: dict[str, FieldValue]) -> None:
    """Give a Security 4688 event the Sysmon process_creation field names Sigma rules use."""
    parent_pid = fields.get("processid")  # in 4688, ProcessId is the creator's id
    for source, target in _ALIASES_4688.items():
        if source in fields:
            fields.setdefault(target, fields[source])
    if "newprocessid" in fields:
        fields["processid"] = fields["newprocessid"]
        if parent_pid is not None:
            fields.setdefault("parentprocessid", parent_pid)
    if "mandatorylabel" in fields:
        fields.setdefault("integritylevel", fields["mandatorylabel"])
    if "subjectlogonid" in fields:
        fields.setdefault("logonid", fields["subjectlogonid"])
    user = fields.get("subjectusername")
    if user is not None and "user" not in fields:
        domain = fields.get("subjectdomainname")
        text = f"{domain.text}\\{user.text}" if domain is not None else user.text
        fields["user"] = FieldValue.of(text)


def _windows(event: Any) -> tuple[dict[str, FieldValue], list[FieldValue], int | None, str | None]:
    fields: dict[str, FieldValue] = {}
    keywords: list[FieldValue] = []
    body = event.get("Event", {}) if isinstance(event, dict) else {}
    system = body.get("System", {}) if isinstance(body, dict) else {}
    if not isinstance(system, dict):
        system = {}
    for name in _SYSTEM_FIELDS:
        if name in system:
            _put(fields, name, system[name])
    provider = system.get("Provider")
    if isinstance(provider, dict) and isinstance(provider.get("#attributes"), dict):
        attrs = provider["#attributes"]
        _put(fields, "Provider_Name", attrs.get("Name"))
        _put(fields, "Provider_Guid", attrs.get("Guid"))
    security = system.get("Security")
    if isinstance(security, dict) and isinstance(security.get("#attributes"), dict):
        _put(fields, "Security_UserID", security["#attributes"].get("UserID"))
    for part in ("EventData", "UserData"):
        _flatten_into(fields, body.get(part), keywords)
    event_id_value = fields.get("eventid")
    event_id = None
    if event_id_value is not None and event_id_value.text.isdigit():
        event_id = int(event_id_value.text)
    channel_value = fields.get("channel")
    channel = channel_value.text if channel_value is not None else None
    if event_id == 4688 and (channel or "").lower() == "security":
        _alias_4688(fields)
    return fields, keywords, event_id, channel


def event_view(event: LogEvent) -> EventView:
    """Build the field view and index keys of one event (parses ``raw`` once)."""
    raw: Any = None
    if event.raw is not None:
        try:
            raw = json.loads(event.raw)
        except ValueError:
            raw = None
    if event.raw_format == "evtx" and isinstance(raw, dict):
        fields, keywords, event_id, channel = _windows(raw)
        keys = windows_keys(channel or event.channel, event_id or event.event_id)
        return EventView(fields, tuple(keywords), frozenset(keys))
    fields = {}
    keywords = []
    if isinstance(raw, dict):
        _flatten_into(fields, raw, keywords)
    for name, value in (
        ("message", event.message),
        ("host", event.host),
        ("user", event.user),
        ("src_ip", event.src_ip),
        ("program", event.program),
    ):
        if value is not None:
            fields.setdefault(name, FieldValue.of(value))
    if event.raw_format == "access":
        return EventView(fields, tuple(keywords), frozenset(web_keys()))
    keyword_values = tuple(keywords) if keywords else (FieldValue.of(event.message),)
    if event.raw_format == "jsonl" and isinstance(raw, dict):
        product = str(raw.get("product") or event.product or "*").lower()
        json_keys: set[IndexKey] = {(product, "any")}
        for kind in ("category", "service"):
            if isinstance(raw.get(kind), str):
                json_keys.add((product, kind, raw[kind].lower()))
        return EventView(fields, keyword_values, frozenset(json_keys))
    keys = linux_keys(event.program, event.action != "other")
    return EventView(fields, (FieldValue.of(event.message),), frozenset(keys))

"""LogEvent: one parsed line of a host, authentication or web log.

Every reader fills the normalised fields it knows (time, host, user, source address, event id,
process, command line) and keeps the original event in ``raw`` as JSON text (the Windows
``Event`` object, a JSON-lines object, the parsed fields of a web access line), so a rule
engine can match on any original field without a ``dict[str, Any]`` crossing stages.
Schema version 2 added ``product`` ... ``raw``.

Examples
--------
>>> from datetime import datetime, UTC
>>> e = LogEvent(ts=datetime(2024, 12, 10, 6, 55, 46, tzinfo=UTC), host="LabSZ",
...              program="sshd", action="invalid_user", outcome="failure",
...              user="webmaster", src_ip="173.234.31.186", message="Invalid user ...")
>>> e.outcome
'failure'
>>> w = LogEvent(ts=datetime(2019, 3, 25, tzinfo=UTC), product="windows", event_id=1,
...              channel="Microsoft-Windows-Sysmon/Operational", process="C:/x.exe",
...              message="Process Create", raw='{"Event": {}}', raw_format="evtx")
>>> w.schema_version, w.event_id
(2, 1)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from swarmguard.records.base import RecordModel

__all__ = ["LOG_EVENT_SCHEMA_VERSION", "LogAction", "LogEvent", "LogOutcome", "RawFormat"]

LogAction = Literal[
    "auth_failure",
    "auth_success",
    "invalid_user",
    "break_in_attempt",
    "session_open",
    "session_close",
    "disconnect",
    "too_many_failures",
    "other",
]
LogOutcome = Literal["success", "failure", "unknown"]
#: How ``LogEvent.raw`` is to be read: the Windows ``Event`` object (evtx / evtx-json), a
#: JSON-lines object, or the named fields of a web access line (W3C names: ``c-ip``,
#: ``cs-method``, ``cs-uri-stem``, ``cs-uri-query``, ``sc-status``, ``c-useragent`` ...).
RawFormat = Literal["evtx", "jsonl", "access"]

#: Version of the LogEvent fields (1: auth-log fields; 2: normalised host/web fields, raw).
LOG_EVENT_SCHEMA_VERSION = 2


class LogEvent(RecordModel):
    """A log line turned into a record (ECS-like: event.action, event.outcome)."""

    host: str | None = Field(default=None, description="host name in the log line")
    program: str | None = Field(default=None, description="process name, e.g. sshd")
    pid: int | None = Field(default=None, description="process id")
    action: LogAction = Field(default="other", description="what happened")
    outcome: LogOutcome = Field(default="unknown", description="success or failure")
    user: str | None = Field(default=None, description="user name the event is about")
    src_ip: str | None = Field(default=None, description="remote address (IP or host name)")
    src_port: int | None = Field(default=None, description="remote port")
    auth_method: str | None = Field(default=None, description="password, publickey, ...")
    message: str = Field(description="the message part of the line, unparsed")
    source_file: str | None = Field(default=None, description="file the line came from")
    source_line: int | None = Field(default=None, description="1-based line number")
    schema_version: int = Field(
        default=LOG_EVENT_SCHEMA_VERSION, description="bumped on any field change"
    )
    product: str | None = Field(
        default=None, description="log product (Sigma logsource): windows, linux, web, ..."
    )
    event_id: int | None = Field(default=None, description="Windows EventID or numeric type")
    event_type: str | None = Field(
        default=None, description="event name or type when not numeric (JSON lines)"
    )
    channel: str | None = Field(
        default=None, description="Windows channel (Security, Microsoft-Windows-Sysmon/...)"
    )
    provider: str | None = Field(default=None, description="Windows event provider name")
    record_id: int | None = Field(default=None, description="record number in its log file")
    origin_file: str | None = Field(
        default=None, description="file the event was exported from (e.g. the .evtx name)"
    )
    process: str | None = Field(default=None, description="process image path (Image)")
    parent_process: str | None = Field(
        default=None, description="parent process image path (ParentImage)"
    )
    command_line: str | None = Field(default=None, description="process command line")
    parent_command_line: str | None = Field(default=None, description="parent process command line")
    dest_ip: str | None = Field(default=None, description="destination address")
    dest_port: int | None = Field(default=None, description="destination port")
    http_method: str | None = Field(default=None, description="HTTP request method")
    url: str | None = Field(default=None, description="requested URL path and query")
    http_status: int | None = Field(default=None, description="HTTP response status")
    user_agent: str | None = Field(default=None, description="HTTP User-Agent")
    bytes_out: int | None = Field(default=None, description="response bytes sent")
    raw: str | None = Field(
        default=None, description="the original event as JSON text (see raw_format)"
    )
    raw_format: RawFormat | None = Field(default=None, description="how to read raw")

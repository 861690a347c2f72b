"""LogEvent: one parsed line of a host, authentication or web log.

Examples
--------
>>> from datetime import datetime, UTC
>>> e = LogEvent(ts=datetime(2024, 12, 10, 6, 55, 46, tzinfo=UTC), host="LabSZ",
...              program="sshd", action="invalid_user", outcome="failure",
...              user="webmaster", src_ip="173.234.31.186", message="Invalid user ...")
>>> e.outcome
'failure'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from swarmguard.records.base import RecordModel

__all__ = ["LogAction", "LogEvent", "LogOutcome"]

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

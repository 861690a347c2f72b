r"""Web server access logs (Apache and nginx ``combined`` and ``common`` formats).

``host ident authuser [dd/Mon/yyyy:hh:mm:ss zone] "request" status bytes ["referer" "agent"]``.
``LogEvent.raw`` keeps the parsed fields under the W3C names Sigma's ``webserver`` rules use
(``c-ip``, ``cs-username``, ``cs-method``, ``cs-uri-stem``, ``cs-uri-query``, ``cs-uri``,
``cs-version``, ``sc-status``, ``sc-bytes``, ``cs-referer``, ``c-useragent``, ``date``).

Examples
--------
>>> line = ('203.0.113.9 - bob [10/Oct/2024:13:55:36 -0700] "GET /a.php?id=1%27 HTTP/1.1" '
...         '200 2326 "-" "sqlmap/1.8"')
>>> e = parse_access_line(line, source_file="access.log", source_line=1)
>>> (e.src_ip, e.user, e.http_method, e.url, e.http_status, e.user_agent, e.ts.hour)
('203.0.113.9', 'bob', 'GET', '/a.php?id=1%27', 200, 'sqlmap/1.8', 20)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from swarmguard.acquire.jsonlines import BadLine
from swarmguard.acquire.logs.opener import iter_lines
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.log import LogEvent

__all__ = ["ACCESS_LINE", "parse_access_line", "read_access_log"]

#: One combined/common log line.
ACCESS_LINE = re.compile(
    r"(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?.*'
)


def _dash(value: str | None) -> str | None:
    return None if value in (None, "-", "") else value


def parse_access_line(
    text: str, *, source_file: str, source_line: int, sensor_id: str = "local"
) -> LogEvent:
    """Parse one access-log line into a ``LogEvent``.

    Raises
    ------
    BadLine
        If the line is not in combined or common log format or its time is invalid.
    """
    match = ACCESS_LINE.fullmatch(text)
    if match is None:
        raise BadLine("not an access log line (Apache/nginx combined or common format)")
    try:
        ts = datetime.strptime(match.group("time"), "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        raise BadLine(f"bad time {match.group('time')!r:.40}") from None
    request = match.group("request")
    parts = request.split(" ")
    method = parts[0] if len(parts) >= 2 else None
    target = parts[1] if len(parts) >= 2 else request
    version = parts[2] if len(parts) >= 3 else None
    stem, sep, query = target.partition("?")
    status_text = match.group("status")
    status = int(status_text) if status_text != "-" else None
    size_text = match.group("bytes")
    size = int(size_text) if size_text != "-" and len(size_text) <= 18 else None
    user = _dash(match.group("user"))
    agent = _dash(match.group("agent"))
    fields = {
        "c-ip": match.group("host"),
        "cs-username": user,
        "cs-method": method,
        "cs-uri-stem": stem,
        "cs-uri-query": query if sep else None,
        "cs-uri": target,
        "cs-version": version,
        "sc-status": status,
        "sc-bytes": size,
        "cs-referer": _dash(match.group("referer")),
        "c-useragent": agent,
        "date": ts.isoformat(),
    }
    return LogEvent(
        ts=ts,
        sensor_id=sensor_id,
        action="other",
        user=user,
        src_ip=match.group("host"),
        message=request,
        source_file=source_file,
        source_line=source_line,
        product="web",
        event_type="http_request",
        http_method=method,
        url=target,
        http_status=status,
        user_agent=agent,
        bytes_out=size,
        raw=json.dumps({k: v for k, v in fields.items() if v is not None}),
        raw_format="access",
    )


def read_access_log(
    path: Path,
    *,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[LogEvent]:
    """Read an Apache/nginx access log (gzip accepted) into one ``LogEvent`` per line.

    Raises
    ------
    InputError
        Empty file, or (without ``skip_bad``) a line that is not UTF-8 or not an access line.
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
            events.append(
                parse_access_line(text, source_file=name, source_line=number, sensor_id=sensor_id)
            )
        except BadLine as exc:
            bad(number, str(exc))
    return events

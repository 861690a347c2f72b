r"""Syslog / auth logs (OpenSSH, PAM, login daemons) as ``LogEvent`` records.

Every line with a syslog header becomes one ``LogEvent``; lines about something other than
authentication keep ``action="other"`` (they are valid log lines). Three header forms are
read:

RFC 3164 (``/var/log/auth.log``, ``/var/log/secure``, ``/var/log/messages``)
    ``Mon dd hh:mm:ss host tag[pid]: message``, optionally with a ``<PRI>`` prefix and
    fractional seconds. There is no year and no zone: times are taken as UTC, and the year is
    ``year`` (the year of the first line) or, when not given, chosen so that the last line
    falls in the year of the file's modification time and not after it. A month that goes
    back by six or more (Dec -> Jan) starts the next year; one that jumps forward by six or
    more is a late line from the previous year.
ISO timestamps (rsyslog ``RSYSLOG_FileFormat``, ``journalctl -o short-iso[-precise]``)
    ``2024-01-15T10:20:30.123456+01:00 host tag[pid]: message``; the offset is honoured.
RFC 5424 (``<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID SD MSG``)
    ``-`` fields are null; ``PROCID`` becomes ``pid`` when numeric.

The tag is everything before the first ``": "`` (or ``"[pid]: "``), up to 64 characters, so
``sshd(pam_unix)``, ``syslogd 1.4.1`` and ``-- root`` are kept as written. A line without a
timestamp is bad input.

Message rules (``AUTH_RULES`` lists them in order; the first that matches wins):

=====================  ==============================================================
action                 messages
=====================  ==============================================================
auth_success           ``Accepted <method> for <user> from <ip> port <port>``;
                       ``ANONYMOUS FTP LOGIN FROM <ip>``; ``ROOT LOGIN ON <tty>``
auth_failure           ``Failed <method> for [invalid user] <user> from <ip> port <port>``;
                       PAM ``authentication failure; ... rhost=<ip> user=<user>``;
                       ``FAILED LOGIN``; klogind/Kerberos ``Authentication failed from``,
                       ``Kerberos authentication failed``, ``Couldn't authenticate user``
invalid_user           ``Invalid user <user> from <ip> [port <port>]``;
                       ``input_userauth_request: invalid user <user>``
break_in_attempt       ``... POSSIBLE BREAK-IN ATTEMPT!`` (reverse mapping checks)
too_many_failures      ``maximum authentication attempts exceeded``,
                       ``Too many authentication failures``,
                       ``PAM <n> more authentication failure(s)``
disconnect             ``Received disconnect from``, ``Connection closed by``,
                       ``Disconnected from``, ``Connection reset by <ip>``
session_open / _close  ``session opened for user <user>`` / ``session closed for user``
other                  everything else
=====================  ==============================================================

``message repeated N times: [ ... ]`` (rsyslog's repeat reduction) is classified by the
message inside the brackets; the event stands for one line, so count ``N`` more from the
message where exact attempt counts matter. Outcome: ``failure`` for auth_failure,
invalid_user and too_many_failures; ``success`` for auth_success and sessions; otherwise
``unknown``. Note that OpenSSH with PAM logs one failed password twice (a ``pam_unix``
``authentication failure`` line and a ``Failed password`` line); ``auth_method`` is set only on
the sshd line, so count ``auth_method == "password"`` for attempts.

Examples
--------
>>> import tempfile, pathlib
>>> text = ("Dec 31 23:59:59 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n"
...         "Jan  1 00:00:01 LabSZ sshd[24201]: Failed password for root from 5.36.59.76 "
...         "port 42393 ssh2\n")
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = pathlib.Path(tmp, "auth.log")
...     _ = path.write_text(text)
...     events = read_auth_log(path, year=2024)
>>> [(e.ts.year, e.action, e.user) for e in events]
[(2024, 'invalid_user', 'webmaster'), (2025, 'auth_failure', 'root')]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from swarmguard.acquire.jsonlines import BadLine, LineSource
from swarmguard.errors import SkipLog
from swarmguard.records.log import LogAction, LogEvent, LogOutcome

__all__ = ["AUTH_RULES", "classify_message", "read_auth_log"]

logger = logging.getLogger(__name__)

_MONTHS = {
    name: i
    for i, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_BSD = re.compile(
    r"(?:<\d{1,3}>)?(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}"
    r"(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d{1,6}))? "
    r"(?P<host>\S+) +(?P<rest>.*)",
    re.DOTALL,
)
_ISO = re.compile(
    r"(?:<\d{1,3}>)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?) "
    r"(?P<host>\S+) +(?P<rest>.*)",
    re.DOTALL,
)
_RFC5424 = re.compile(
    r"(?:<\d{1,3}>)?1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r'(?P<sd>-|(?:\[(?:[^\]\\"]|\\.|"(?:[^"\\]|\\.)*")*\])+)(?: (?P<msg>.*))?',
    re.DOTALL,
)
_TAG = re.compile(
    r"(?P<prog>[^:\[\]]{1,64}?)(?:\[(?P<pid>\d{1,10})\])?:(?: |$)(?P<msg>.*)", re.DOTALL
)
_KV = re.compile(r"(\w+)=(\S*)")

_IP = r"(?P<ip>\S+)"
_PORT = r"(?P<port>\d{1,5})"


def _rule(pattern: str, action: LogAction) -> tuple[re.Pattern[str], LogAction]:
    return re.compile(pattern), action


#: The message rules in order: ``(regex, action)``, searched in the message. Named groups
#: ``user``, ``ip``, ``port``, ``method`` fill the event; ``kv`` is parsed as PAM
#: ``key=value`` pairs (``rhost``, ``user``); ``inner`` is classified again (repeated
#: messages).
AUTH_RULES: tuple[tuple[re.Pattern[str], LogAction], ...] = (
    _rule(r"^message repeated \d+ times: \[ ?(?P<inner>.*?) ?\]$", "other"),
    _rule(r"POSSIBLE BREAK-IN ATTEMPT", "break_in_attempt"),
    _rule(
        rf"^Accepted (?P<method>\S+) for (?P<user>.*?) from {_IP} port {_PORT}",
        "auth_success",
    ),
    _rule(
        rf"^Failed (?P<method>\S+) for (?:invalid user )?(?P<user>.*?) from {_IP} port {_PORT}",
        "auth_failure",
    ),
    _rule(rf"^Invalid user (?P<user>.*?) from {_IP}(?: port {_PORT})?\s*$", "invalid_user"),
    _rule(
        r"^input_userauth_request: invalid user (?P<user>.*?)(?: \[preauth\])?$",
        "invalid_user",
    ),
    _rule(
        rf"maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?) "
        rf"from {_IP} port {_PORT}",
        "too_many_failures",
    ),
    _rule(
        r"^Disconnecting(?: (?:authenticating|invalid) user (?P<user>\S+) "
        rf"{_IP} port {_PORT})?: "
        r"Too many authentication failures(?: for (?:invalid user )?(?P<user2>[^\s\[]+))?",
        "too_many_failures",
    ),
    _rule(r"Too many authentication failures", "too_many_failures"),
    _rule(r"^PAM \d+ more authentication failures?; (?P<kv>.*)$", "too_many_failures"),
    _rule(r"^(?:pam_\w+\([^)]*\): )?authentication failure; (?P<kv>.*)$", "auth_failure"),
    _rule(
        r"^FAILED LOGIN (?:\(?\d+\)? )?(?:FROM (?P<ip>\S+) )?FOR (?P<user>[^\s,]+)",
        "auth_failure",
    ),
    _rule(rf"^Authentication failed from {_IP} \(", "auth_failure"),
    _rule(r"^Kerberos authentication failed", "auth_failure"),
    _rule(r"^Couldn't authenticate user", "auth_failure"),
    _rule(r"^ANONYMOUS FTP LOGIN FROM (?P<ip>[^\s,]+)", "auth_success"),
    _rule(r"^ROOT LOGIN ON \S+", "auth_success"),
    _rule(
        rf"^(?:error: )?Received disconnect from (?:{_IP} port {_PORT}:|(?P<ip2>\S+): \d+:)",
        "disconnect",
    ),
    _rule(
        rf"^Connection closed by (?:(?:authenticating|invalid) user (?P<user>.*?) )?"
        rf"{_IP}(?: port {_PORT})?(?: \[preauth\])?$",
        "disconnect",
    ),
    _rule(
        rf"^Disconnected from (?:(?:authenticating |invalid )?user (?P<user>.*?) )?"
        rf"{_IP} port {_PORT}",
        "disconnect",
    ),
    _rule(
        rf"^Connection reset by (?:(?:authenticating|invalid) user (?P<user>.*?) )?"
        rf"(?!peer\b){_IP}(?: port {_PORT})?",
        "disconnect",
    ),
    _rule(r"session opened for user (?P<user>[^\s(]+)", "session_open"),
    _rule(r"session closed for user (?P<user>\S+)", "session_close"),
)
_BREAK_IN_IP = (
    re.compile(r"getaddrinfo for \S+ \[(?P<ip>[^\]]+)\] failed"),
    re.compile(r"^Address (?P<ip>\S+) maps to \S+, but this does not map back"),
)
_OUTCOME: dict[str, LogOutcome] = {
    "auth_failure": "failure",
    "invalid_user": "failure",
    "too_many_failures": "failure",
    "auth_success": "success",
    "session_open": "success",
    "session_close": "success",
}
_FIXED_USER = {"ANONYMOUS FTP LOGIN": "anonymous", "ROOT LOGIN ON": "root"}


@dataclass(frozen=True)
class _Auth:
    """What a message says about authentication."""

    action: LogAction = "other"
    user: str | None = None
    src_ip: str | None = None
    src_port: int | None = None
    auth_method: str | None = None

    @property
    def outcome(self) -> LogOutcome:
        return _OUTCOME.get(self.action, "unknown")


def classify_message(
    message: str,
) -> tuple[LogAction, str | None, str | None, int | None, str | None]:
    """Classify one syslog message: ``(action, user, src_ip, src_port, auth_method)``.

    Examples
    --------
    >>> classify_message("Failed password for invalid user admin from 1.2.3.4 port 22 ssh2")
    ('auth_failure', 'admin', '1.2.3.4', 22, 'password')
    >>> classify_message("pam_unix(sshd:auth): authentication failure; logname= uid=0 "
    ...                  "euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root")
    ('auth_failure', 'root', '1.2.3.4', None, None)
    >>> classify_message("Starting pcmcia:  succeeded")
    ('other', None, None, None, None)
    """
    auth = _classify(message)
    return auth.action, auth.user, auth.src_ip, auth.src_port, auth.auth_method


def _classify(message: str, depth: int = 0) -> _Auth:
    for pattern, action in AUTH_RULES:
        match = pattern.search(message)
        if match is None:
            continue
        groups = {k: v for k, v in match.groupdict().items() if v}
        if "inner" in groups:
            return _classify(groups["inner"], depth + 1) if depth < 3 else _Auth()
        if action == "other":
            continue  # an empty repeated message
        user = groups.get("user") or groups.get("user2")
        ip = groups.get("ip") or groups.get("ip2")
        if "kv" in groups:
            pairs = dict(_KV.findall(groups["kv"]))
            user = pairs.get("user") or None
            ip = pairs.get("rhost") or None
        if action == "break_in_attempt":
            for extra in _BREAK_IN_IP:
                found = extra.search(message)
                if found is not None:
                    ip = found.group("ip")
                    break
        if action == "auth_success":
            for prefix, fixed in _FIXED_USER.items():
                if message.startswith(prefix):
                    user = fixed
        port = int(groups["port"]) if "port" in groups else None
        return _Auth(
            action=action,
            user=user or None,
            src_ip=ip,
            src_port=port if port is not None and port <= 65535 else None,
            auth_method=groups.get("method"),
        )
    return _Auth()


@dataclass
class _Line:
    """A parsed line waiting for its year."""

    number: int
    ts: datetime | None
    month_day_time: tuple[int, int, int, int, int, int] | None
    year_offset: int
    host: str | None
    program: str | None
    pid: int | None
    message: str


def _split_tag(rest: str) -> tuple[str | None, int | None, str]:
    match = _TAG.fullmatch(rest)
    if match is None:
        return None, None, rest
    pid = match.group("pid")
    return match.group("prog"), int(pid) if pid else None, match.group("msg")


def _parse_header(number: int, text: str) -> _Line:
    bsd = _BSD.fullmatch(text)
    if bsd is not None:
        host: str | None = bsd.group("host")
        rest = bsd.group("rest")
        if host is not None and host.endswith(":"):  # no host name: "Jun 14 ... sshd[1]: msg"
            host, rest = None, f"{host} {rest}"
        program, pid, message = _split_tag(rest)
        frac = bsd.group("frac") or "0"
        parts = (
            _MONTHS[bsd.group("mon")],
            int(bsd.group("day")),
            int(bsd.group("h")),
            int(bsd.group("m")),
            int(bsd.group("s")),
            int(frac.ljust(6, "0")),
        )
        return _Line(number, None, parts, 0, host, program, pid, message)
    rfc5424 = _RFC5424.fullmatch(text)
    if rfc5424 is not None:
        ts = _iso(rfc5424.group("ts"))
        procid = rfc5424.group("procid")
        return _Line(
            number,
            ts,
            None,
            0,
            _nil(rfc5424.group("host")),
            _nil(rfc5424.group("app")),
            int(procid) if procid.isdigit() and len(procid) <= 10 else None,
            (rfc5424.group("msg") or "").removeprefix("\ufeff"),
        )
    iso = _ISO.fullmatch(text)
    if iso is not None:
        program, pid, message = _split_tag(iso.group("rest"))
        return _Line(
            number, _iso(iso.group("ts")), None, 0, iso.group("host"), program, pid, message
        )
    raise BadLine("not a syslog line: no RFC 3164, RFC 5424 or ISO 8601 timestamp at the start")


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _iso(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadLine(f"not an ISO 8601 timestamp: {value!r:.40}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise BadLine(f"timestamp out of range: {value!r:.40}") from None


def _base_year(path: Path, lines: list[_Line], year: int | None) -> int:
    """The year of ``year_offset`` 0: given, or from the file's mtime (see module docs)."""
    if year is not None:
        return year
    dated = [line for line in lines if line.month_day_time is not None]
    try:
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except (OSError, OverflowError, ValueError):
        mtime = datetime.now(UTC)  # not reached for a file we just read; a safe fallback
    if not dated:
        return mtime.year
    last = dated[-1]
    base = mtime.year - last.year_offset
    assert last.month_day_time is not None
    month, day, *_ = last.month_day_time
    try:
        last_ts = datetime(base + last.year_offset, month, day, tzinfo=UTC)
    except ValueError:
        last_ts = None
    if last_ts is not None and last_ts > mtime + timedelta(days=1):
        base -= 1
    logger.info("%s: syslog lines carry no year; using %d (file modification time)", path, base)
    return base


def read_auth_log(
    path: Path,
    *,
    year: int | None = None,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[LogEvent]:
    """Read a syslog / auth log into one ``LogEvent`` per line.

    Parameters
    ----------
    path
        The log file (``auth.log``, ``secure``, ``messages``, journald text export).
    year
        Year of the first RFC 3164 line (those lines carry none). Default: derived from the
        file's modification time so that the last line is not in the future.
    sensor_id
        Written into every event.
    skip_bad
        Count bad lines in ``skip_log`` instead of raising.
    skip_log
        Where skipped lines are counted.
    progress
        Called with the number of bytes read so far.

    Returns
    -------
    list of LogEvent
        In file order; ``source_file`` and ``source_line`` point back at the line.

    Raises
    ------
    InputError
        On an empty file, or (without ``skip_bad``) a line that is not UTF-8, has no syslog
        timestamp, or has an impossible date.
    ValueError
        If ``year`` is not in 1..9999.
    """
    if year is not None and not 1 <= year <= 9999:
        raise ValueError(f"year must be in 1..9999, not {year}")
    source = LineSource(Path(path), skip_bad=skip_bad, skip_log=skip_log, progress=progress)
    lines: list[_Line] = []
    offset = 0
    previous_month: int | None = None
    for number, text in source.lines():
        try:
            line = _parse_header(number, text)
        except BadLine as exc:
            source.bad(number, str(exc))
            continue
        if line.month_day_time is not None:
            month = line.month_day_time[0]
            if previous_month is not None and previous_month - month >= 6:
                offset += 1
                previous_month = month
            elif previous_month is not None and month - previous_month >= 6:
                line.year_offset = offset - 1
                lines.append(line)
                continue
            else:
                previous_month = month
            line.year_offset = offset
        lines.append(line)
    base = _base_year(source.path, lines, year)
    events: list[LogEvent] = []
    file_name = str(source.path)
    for line in lines:
        ts = line.ts
        if ts is None:
            assert line.month_day_time is not None
            month, day, hour, minute, second, micro = line.month_day_time
            try:
                ts = datetime(
                    base + line.year_offset, month, day, hour, minute, second, micro, tzinfo=UTC
                )
            except ValueError:
                source.bad(line.number, f"impossible date in year {base + line.year_offset}")
                continue
        auth = _classify(line.message)
        events.append(
            LogEvent(
                ts=ts,
                sensor_id=sensor_id,
                host=line.host,
                program=line.program,
                pid=line.pid,
                action=auth.action,
                outcome=auth.outcome,
                user=auth.user,
                src_ip=auth.src_ip,
                src_port=auth.src_port,
                auth_method=auth.auth_method,
                message=line.message,
                source_file=file_name,
                source_line=line.number,
            )
        )
    source.finish()
    return events

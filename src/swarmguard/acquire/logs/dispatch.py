r"""``read_logs``: one entry point for every log format, with format detection.

``auto`` looks at the content, not the name: the EVTX magic (``ElfFile``) is ``evtx``; a first
value that is a JSON object holding a Windows ``Event`` is ``evtx-json``, any other JSON object
``jsonl``; a first line in combined/common log format is ``access``; anything else is read as
syslog (``auth`` and ``syslog`` are the same reader, ``acquire.authlog``). gzip is accepted for
every format.

Examples
--------
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = pathlib.Path(tmp, "auth.log")
...     _ = path.write_text("Jan  1 00:00:01 h sshd[1]: Failed password for root from "
...                         "5.6.7.8 port 2 ssh2\n")
...     fmt = detect_format(path)
...     events = read_logs(path)
>>> fmt, events[0].action, events[0].product
('auth', 'auth_failure', 'linux')
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Literal, get_args

from swarmguard.acquire.authlog import read_auth_log
from swarmguard.acquire.logs.access import ACCESS_LINE, read_access_log
from swarmguard.acquire.logs.evtxfile import EVTX_MAGIC, read_evtx
from swarmguard.acquire.logs.evtxjson import read_evtx_json
from swarmguard.acquire.logs.jsonl import read_json_lines
from swarmguard.acquire.logs.opener import is_gzip
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.log import LogEvent

__all__ = ["LOG_FORMATS", "LogFormat", "detect_format", "read_logs"]

logger = logging.getLogger(__name__)

LogFormat = Literal["auto", "evtx", "evtx-json", "auth", "syslog", "access", "jsonl"]
#: The values ``--log-format`` accepts.
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)
_SNIFF_BYTES = 1 << 16


def _head(path: Path) -> bytes:
    try:
        if is_gzip(path):
            with gzip.open(path, "rb") as fh:
                return fh.read(_SNIFF_BYTES)
        with path.open("rb") as fh:
            return fh.read(_SNIFF_BYTES)
    except InputError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(path, f"cannot read (corrupt or truncated gzip?): {exc}") from exc


def detect_format(path: Path) -> str:
    """Guess the log format of ``path`` from its first bytes (see the module docs).

    Raises
    ------
    InputError
        If the file cannot be read or is empty.
    """
    head = _head(path)
    if head.startswith(EVTX_MAGIC):
        return "evtx"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text:
        raise InputError(path, "empty file")
    if text[0] in "{[":
        if '"Event"' in text[:4096] and '"System"' in text:
            return "evtx-json"
        return "jsonl"
    first = text.splitlines()[0]
    if ACCESS_LINE.fullmatch(first):
        return "access"
    return "auth"


def _read_syslog(
    path: Path,
    sensor_id: str,
    skip_bad: bool,
    skip_log: SkipLog | None,
    progress: Callable[[int], None] | None,
) -> list[LogEvent]:
    if not is_gzip(path):
        events = read_auth_log(
            path, sensor_id=sensor_id, skip_bad=skip_bad, skip_log=skip_log, progress=progress
        )
    else:  # the syslog reader reads plain files: decompress next to a temp name
        with tempfile.TemporaryDirectory(prefix="swarmguard-log-") as tmp:
            plain = Path(tmp, path.name.removesuffix(".gz") or "log")
            try:
                with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(path, f"corrupt or truncated gzip stream: {exc}") from exc
            stat = path.stat()
            os.utime(plain, (stat.st_atime, stat.st_mtime))  # the year comes from mtime
            inner = SkipLog()
            try:
                events = read_auth_log(
                    plain, sensor_id=sensor_id, skip_bad=skip_bad, skip_log=inner, progress=progress
                )
            except InputError as exc:
                raise InputError(path, exc.message, line=exc.line) from None
            if skip_log is not None and inner.count:
                where, reason = next(iter(inner.first.values()))
                for _ in range(inner.count):
                    skip_log.add(path, None, f"{where}: {reason}")
        events = [e.model_copy(update={"source_file": str(path)}) for e in events]
    return [e.model_copy(update={"product": "linux", "channel": e.program}) for e in events]


def read_logs(
    path: Path,
    fmt: str = "auto",
    *,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[LogEvent]:
    """Read one log file of any supported format into ``LogEvent``s.

    Parameters
    ----------
    path
        The log file (gzip accepted).
    fmt
        One of ``LOG_FORMATS``; ``auto`` detects it (``detect_format``).
    sensor_id
        Written into every event.
    skip_bad
        Count bad lines or records in ``skip_log`` instead of raising.
    skip_log
        Where skipped input is counted.
    progress
        Called with the number of bytes read so far.

    Raises
    ------
    InputError
        Missing or unreadable file, or bad input (without ``skip_bad``).
    ValueError
        If ``fmt`` is not a known format.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; choose one of {', '.join(LOG_FORMATS)}")
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    chosen = detect_format(path) if fmt == "auto" else fmt
    logger.info("%s: reading as %s", path, chosen)
    readers = {
        "evtx": read_evtx,
        "evtx-json": read_evtx_json,
        "access": read_access_log,
        "jsonl": read_json_lines,
    }
    reader = readers.get(chosen)
    if reader is not None:
        return reader(
            path, sensor_id=sensor_id, skip_bad=skip_bad, skip_log=skip_log, progress=progress
        )
    return _read_syslog(path, sensor_id, skip_bad, skip_log, progress)

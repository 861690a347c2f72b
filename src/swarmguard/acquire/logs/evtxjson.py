r"""Windows events as JSON: the ``evtx`` parser's ``Event`` objects, one or many per file.

Accepted: one object per line (the ``datasets/logs/evtx`` exports, which wrap the event as
``{"source_file", "tactic_folder", "record_id", "timestamp", "event": {"Event": ...}}``),
pretty-printed objects one after another (the SigmaHQ regression ``.json`` files), or one
JSON array of them; gzip accepted. The line of an event is the line its object starts on.

Examples
--------
>>> import tempfile, pathlib
>>> text = ('{"Event": {"System": {"EventID": 1, "Channel": "C", "TimeCreated": '
...         '{"#attributes": {"SystemTime": "2020-01-01T00:00:00Z"}}}, "EventData": '
...         '{"Image": "C:/a.exe"}}}\n')
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = pathlib.Path(tmp, "e.json")
...     _ = path.write_text(text + text)
...     events = read_evtx_json(path)
>>> [(e.source_line, e.event_id, e.process) for e in events]
[(1, 1, 'C:/a.exe'), (2, 1, 'C:/a.exe')]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from swarmguard.acquire.jsonlines import BadLine
from swarmguard.acquire.logs.opener import read_bytes
from swarmguard.acquire.logs.windows import event_from_windows
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.log import LogEvent

__all__ = ["iter_json_values", "read_evtx_json"]

_DECODER = json.JSONDecoder()


def iter_json_values(
    path: Path,
    text: str,
    bad: Callable[[int, str], None],
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, value)`` for each JSON value in ``text`` (concatenated or one per line).

    A value that does not parse is reported through ``bad(line, reason)`` (which raises or
    counts) and reading resumes at the next line. A top-level array yields its items.
    """
    pos = 0
    end = len(text)
    line = 1
    while True:
        while pos < end and text[pos] in " \t\r\n":
            if text[pos] == "\n":
                line += 1
            pos += 1
        if pos >= end:
            return
        try:
            value, stop = _DECODER.raw_decode(text, pos)
        except ValueError as exc:
            bad(line, f"invalid JSON: {exc}")
            nxt = text.find("\n", pos)
            if nxt < 0:
                return
            pos = nxt
            continue
        except RecursionError:
            bad(line, "invalid JSON: nested too deeply")
            nxt = text.find("\n", pos)
            if nxt < 0:
                return
            pos = nxt
            continue
        if isinstance(value, list):
            for item in value:
                yield line, item
        else:
            yield line, value
        line += text.count("\n", pos, stop)
        pos = stop


def read_evtx_json(
    path: Path,
    *,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[LogEvent]:
    """Read Windows events written as JSON (see the module docs) into ``LogEvent``s.

    Raises
    ------
    InputError
        Empty file, not UTF-8, or (without ``skip_bad``) a value that is not JSON or not a
        Windows event; the message names the file and line.
    """
    data = read_bytes(path)
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        if not skip_bad:
            raise InputError(path, "not valid UTF-8", line=line) from None
        if skip_log is not None:
            skip_log.add(path, line, "not valid UTF-8 (undecodable bytes replaced)")
        text = data.decode("utf-8", errors="replace")
    if not text.strip():
        raise InputError(path, "empty file")

    def bad(line: int, reason: str) -> None:
        if not skip_bad:
            raise InputError(path, reason, line=line)
        if skip_log is not None:
            skip_log.add(path, line, reason)

    events: list[LogEvent] = []
    name = str(path)
    for line, value in iter_json_values(path, text, bad):
        if not isinstance(value, dict):
            bad(line, "JSON value is not an object")
            continue
        try:
            events.append(
                event_from_windows(value, source_file=name, source_line=line, sensor_id=sensor_id)
            )
        except BadLine as exc:
            bad(line, str(exc))
    if progress is not None:
        progress(len(data))
    return events

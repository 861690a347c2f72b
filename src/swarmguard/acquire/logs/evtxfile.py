"""Binary Windows event logs (``.evtx``, gzip accepted) through the ``evtx`` parser.

``evtx`` (the Rust ``evtx`` crate's Python binding) writes each record as the JSON ``Event``
object that ``windows.event_from_windows`` normalises. A file that is not an EVTX file (bad
header) is an ``InputError``; a record the parser cannot decode (a corrupt chunk, a truncated
file) is a bad record: an error naming the file and record, or skipped and counted.

Examples
--------
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = pathlib.Path(tmp, "x.evtx")
...     _ = path.write_bytes(b"not an evtx file")
...     try:
...         read_evtx(path)
...     except InputError as exc:
...         print(exc.message)
not an EVTX file (no 'ElfFile' header)
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

from swarmguard.acquire.jsonlines import BadLine, parse_json_object
from swarmguard.acquire.logs.opener import read_bytes
from swarmguard.acquire.logs.windows import event_from_windows
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.log import LogEvent

__all__ = ["EVTX_MAGIC", "read_evtx"]

logger = logging.getLogger(__name__)

#: The first bytes of an EVTX file header.
EVTX_MAGIC = b"ElfFile\x00"
_MAX_ERRORS_IN_A_ROW = 1000


def read_evtx(
    path: Path,
    *,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[LogEvent]:
    """Read every record of an ``.evtx`` file as a ``LogEvent`` (in file order).

    Parameters
    ----------
    path
        The ``.evtx`` file (gzip-compressed accepted).
    sensor_id
        Written into every event.
    skip_bad
        Count undecodable records in ``skip_log`` instead of raising.
    skip_log
        Where skipped records are counted (``line`` is the record's position, 1-based).
    progress
        Called with the number of bytes read once the file is parsed.

    Raises
    ------
    InputError
        Not an EVTX file, or (without ``skip_bad``) an undecodable record.
    """
    from evtx import PyEvtxParser  # the Rust binding; imported only when reading .evtx

    data = read_bytes(path)
    if not data.startswith(EVTX_MAGIC):
        raise InputError(path, "not an EVTX file (no 'ElfFile' header)")
    try:
        parser = PyEvtxParser(io.BytesIO(data), number_of_threads=1)
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(path, f"cannot parse EVTX: {exc}") from exc
    events: list[LogEvent] = []
    name = str(path)
    position = 0
    errors_in_a_row = 0
    records = parser.records_json()
    while True:
        position += 1
        try:
            record = next(records)
        except StopIteration:
            break
        except (OSError, RuntimeError, ValueError) as exc:
            reason = f"undecodable record: {exc}"
            if not skip_bad:
                raise InputError(path, reason, line=position) from exc
            if skip_log is not None:
                skip_log.add(path, position, reason)
            errors_in_a_row += 1
            if errors_in_a_row > _MAX_ERRORS_IN_A_ROW:  # a parser that stopped advancing
                raise InputError(path, "too many undecodable records in a row") from exc
            continue
        errors_in_a_row = 0
        try:
            if not isinstance(record, dict):
                raise BadLine("parser returned no record")
            obj = parse_json_object(str(record.get("data")))
            number = record.get("event_record_id")
            obj["event_record_id"] = number if isinstance(number, int) else None
            events.append(
                event_from_windows(
                    {"data": obj, "event_record_id": obj["event_record_id"]},
                    source_file=name,
                    source_line=None,
                    sensor_id=sensor_id,
                )
            )
        except BadLine as exc:
            if not skip_bad:
                raise InputError(path, str(exc), line=position) from None
            if skip_log is not None:
                skip_log.add(path, position, str(exc))
    if progress is not None:
        progress(len(data))
    if not events and (skip_log is None or not skip_log.count):
        logger.warning("%s: no event records", path)
    return events

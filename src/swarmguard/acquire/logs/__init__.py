"""Log sources: Windows event logs, auth/syslog, web access logs, JSON lines -> ``LogEvent``.

Stage contract: every reader takes a path (gzip accepted) and returns ``list[LogEvent]`` in file
order, each event pointing back at its file and line (or record); bad input raises
``InputError`` naming the file and line unless ``skip_bad`` is set, in which case it is counted
in a ``SkipLog``. ``read_logs`` picks the reader (``fmt="auto"`` detects the format).
"""

from swarmguard.acquire.logs.access import read_access_log
from swarmguard.acquire.logs.dispatch import LOG_FORMATS, detect_format, read_logs
from swarmguard.acquire.logs.evtxfile import read_evtx
from swarmguard.acquire.logs.evtxjson import read_evtx_json
from swarmguard.acquire.logs.jsonl import read_json_lines

__all__ = [
    "LOG_FORMATS",
    "detect_format",
    "read_access_log",
    "read_evtx",
    "read_evtx_json",
    "read_json_lines",
    "read_logs",
]

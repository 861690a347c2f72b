"""The agent's inputs as stoppable loops: packets (live, pcap replay), flows, logs and EVE files.

Each loop runs on its own thread, checks a ``threading.Event`` at least every 0.2 s, and hands
what it reads to a callback: decoded packets (``on_packet``), finished flow tables
(``on_flows``) or alerts already made by another sensor or by the log rules (``on_alerts``).
Log and EVE files are polled: when a file grows, it is read again and only the records past
the ones already seen are passed on (meant for files of moderate size; rotate them).

Examples
--------
>>> import threading
>>> seen = []
>>> stop = threading.Event()
>>> live_loop("no-such-if0", seen.append, stop)
Traceback (most recent call last):
...
swarmguard.errors.SwarmguardError: no network interface named 'no-such-if0' ...
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from swarmguard.acquire.eve import read_eve
from swarmguard.acquire.live import capture_live, open_raw_socket
from swarmguard.acquire.logs.dispatch import read_logs
from swarmguard.acquire.pcap import read_pcap
from swarmguard.acquire.rawpackets import Packet, decode_packet, iter_packets
from swarmguard.config import FlowMeterSettings
from swarmguard.detect.rules.logrules import log_rule_alerts
from swarmguard.records.alert import Alert

__all__ = ["eve_loop", "flow_loop", "live_loop", "log_loop", "pcap_flows", "pcap_loop"]

logger = logging.getLogger(__name__)

_ARPHRD_LOOPBACK = 772
_ARPHRD_NONE = 0xFFFE
_PACKET_OUTGOING = 4
_SNAPLEN = 65535
_RCVBUF = 8 * 1024 * 1024
_SO_TIMESTAMPNS = 35  # linux/asm-generic/socket.h


def live_loop(
    interface: str,
    on_packet: Callable[[Packet], None],
    stop: threading.Event,
    *,
    clock: Callable[[], int] = time.time_ns,
) -> Callable[[], None]:
    """Open the capture socket now (errors are raised here); return the loop to run on a thread.

    Frames are decoded one by one and passed to ``on_packet`` as they arrive. A packet's
    ``ts_ns`` is the kernel's receive time (``SO_TIMESTAMPNS``), so time spent queued before
    the agent read it counts in latencies measured from it; ``clock`` is the fallback.
    """
    sock = open_raw_socket(interface)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
    except OSError:  # pragma: no cover - the kernel caps it; the default still works
        logger.debug("could not raise the capture buffer on %s", interface)
    kernel_ts = True
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:  # pragma: no cover - very old kernels
        kernel_ts = False

    def run() -> None:
        seen = 0
        sock.settimeout(0.2)
        space = socket.CMSG_SPACE(16) if kernel_ts else 0
        try:
            while not stop.is_set():
                try:
                    data, ancdata, _flags, addr = sock.recvmsg(_SNAPLEN, space)
                except TimeoutError:
                    continue
                except OSError as exc:
                    if stop.is_set():
                        break
                    raise exc
                if addr[3] == _ARPHRD_LOOPBACK and addr[2] == _PACKET_OUTGOING:
                    continue
                seen += 1
                ts_ns = 0
                for level, kind, raw in ancdata:
                    if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(raw) >= 16:
                        sec, nsec = struct.unpack("qq", raw[:16])
                        ts_ns = sec * 1_000_000_000 + nsec
                linktype = 101 if addr[3] == _ARPHRD_NONE else 1
                on_packet(
                    decode_packet(data, linktype=linktype, ts_ns=ts_ns or clock(), number=seen)
                )
        finally:
            sock.close()

    return run


def pcap_loop(
    path: Path,
    on_packet: Callable[[Packet], None],
    stop: threading.Event,
    *,
    realtime: bool = False,
) -> None:
    """Replay a capture's packets (at its own pace with ``realtime``) until done or stopped."""
    first_ts: int | None = None
    started = time.monotonic()
    for p in iter_packets(path, stop_at_bad=True):
        if stop.is_set():
            return
        if realtime:
            if first_ts is None:
                first_ts = p.ts_ns
            due = started + (p.ts_ns - first_ts) / 1e9
            while (wait := due - time.monotonic()) > 0:
                if stop.wait(min(wait, 0.2)):
                    return
        on_packet(p)


def flow_loop(
    interface: str,
    on_flows: Callable[[pa.Table], None],
    stop: threading.Event,
    *,
    batch_s: float,
    sensor_id: str,
    settings: FlowMeterSettings | None = None,
) -> Callable[[], None]:
    """Meter flows on ``interface`` (a second socket); return the loop to run on a thread.

    Finished flows are handed over every ``batch_s`` seconds. The capture ends with the
    process: its thread should be a daemon (the meter checks ``stop`` only between batches).
    """
    batches = capture_live(interface, batch_s=batch_s, sensor_id=sensor_id, settings=settings)

    def run() -> None:
        for table in batches:
            if stop.is_set():
                return
            on_flows(table)

    return run


def pcap_flows(path: Path, on_flows: Callable[[pa.Table], None], *, sensor_id: str) -> None:
    """Meter a whole capture and hand its flows over once."""
    on_flows(read_pcap(path, sensor_id=sensor_id, skip_bad=True))


def _poll(
    path: Path,
    stop: threading.Event,
    *,
    poll_s: float,
    follow: bool,
    read: Callable[[], None],
) -> None:
    last = (-1, -1.0)
    while True:
        try:
            st = path.stat()
            now = (st.st_size, st.st_mtime)
        except FileNotFoundError:
            now = (-1, -1.0)
        if now != last and now[0] >= 0:
            last = now
            read()
        if not follow or stop.wait(poll_s):
            return


def eve_loop(
    path: Path,
    on_alerts: Callable[[list[Alert]], None],
    stop: threading.Event,
    *,
    sensor_id: str,
    poll_s: float = 1.0,
    follow: bool = True,
) -> None:
    """Pass on the alerts of a Suricata EVE file (another sensor's detections)."""
    done = 0

    def read() -> None:
        nonlocal done
        alerts = read_eve(path, sensor_id=sensor_id, skip_bad=True).alerts
        if len(alerts) < done:  # rotated or truncated: start over
            done = 0
        if len(alerts) > done:
            on_alerts(list(alerts[done:]))
            done = len(alerts)

    _poll(path, stop, poll_s=poll_s, follow=follow, read=read)


def log_loop(
    path: Path,
    on_alerts: Callable[[list[Alert]], None],
    stop: threading.Event,
    *,
    fmt: str,
    sensor_id: str,
    poll_s: float = 1.0,
    follow: bool = True,
) -> None:
    """Run the log threshold rules over a log file; pass on each new alert once."""
    reported: set[tuple[int, str | None, str]] = set()

    def read() -> None:
        events = read_logs(path, fmt, sensor_id=sensor_id, skip_bad=True)
        new: list[Alert] = []
        for alert in log_rule_alerts(events, sensor_id=sensor_id):
            key = (alert.alert.signature_id, alert.src_ip, ",".join(alert.evidence[:1]))
            if key not in reported:
                reported.add(key)
                new.append(alert)
        if new:
            on_alerts(new)

    _poll(path, stop, poll_s=poll_s, follow=follow, read=read)

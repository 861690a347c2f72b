"""Capture from a live interface into flow tables, through the same decoder and flow meter.

Frames come from a Linux ``AF_PACKET`` raw socket (no libpcap needed); it needs root or the
``CAP_NET_RAW`` capability. Frames are gathered for ``batch_s`` seconds, decoded on whole
arrays by ``acquire.packets`` and fed to ``acquire.flowmeter.FlowMeter``; each batch of
finished flows is yielded, and the flows still open when the capture stops come last (``eof``).
Timestamps are taken on receipt from ``clock`` (nanoseconds since the epoch).

Example
-------
>>> next(capture_live("no-such-if0", duration_s=0.1))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
swarmguard.errors.SwarmguardError: no network interface named 'no-such-if0' ...
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from swarmguard.acquire.flowmeter import FlowMeter
from swarmguard.acquire.packets import FragmentTracker, decode_frames
from swarmguard.acquire.rawpackets import Packet, decode_packet
from swarmguard.config import FlowMeterSettings
from swarmguard.errors import SwarmguardError

__all__ = ["capture_live", "live_packets", "open_raw_socket"]

logger = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
_ARPHRD_LOOPBACK = 772
_ARPHRD_NONE = 0xFFFE
_PACKET_OUTGOING = 4
_SNAPLEN = 65535


def open_raw_socket(interface: str) -> socket.socket:
    """Open an ``AF_PACKET`` raw socket bound to ``interface``.

    Raises
    ------
    SwarmguardError
        One line, when the interface does not exist or the process lacks the privilege.
    """
    try:
        socket.if_nametoindex(interface)
    except OSError:
        raise SwarmguardError(
            f"no network interface named {interface!r} (list them with `ip link`)"
        ) from None
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError:
        raise SwarmguardError(
            f"live capture on {interface!r} needs privilege (CAP_NET_RAW): "
            "run as root or grant it: sudo setcap cap_net_raw+ep $(readlink -f $(which python3))"
        ) from None
    try:
        sock.bind((interface, 0))
    except OSError as exc:
        sock.close()
        raise SwarmguardError(f"cannot capture on {interface!r}: {exc.strerror}") from None
    return sock


def capture_live(
    interface: str,
    *,
    duration_s: float | None = None,
    max_packets: int | None = None,
    settings: FlowMeterSettings | None = None,
    sensor_id: str = "local",
    batch_s: float = 1.0,
    clock: Callable[[], int] = time.time_ns,
) -> Iterator[pa.Table]:
    """Capture on ``interface`` and yield tables of finished flows.

    Parameters
    ----------
    interface
        Network interface name, e.g. ``eth0``.
    duration_s
        Stop after this many seconds; None for no limit.
    max_packets
        Stop after this many frames; None for no limit.
    settings
        Flow timeouts; defaults to ``FlowMeterSettings()``.
    sensor_id
        Written into each flow.
    batch_s
        How often frames are decoded and expired flows yielded.
    clock
        Source of packet timestamps in nanoseconds since the epoch.

    Yields
    ------
    pyarrow.Table
        Finished flows (``records.flow.FLOW_SCHEMA``); at the end, the flows still open.

    Raises
    ------
    SwarmguardError
        If the interface does not exist or capture is not permitted (one line saying how);
        raised by this call, before iteration: the socket is open when it returns.
    """
    sock = open_raw_socket(interface)
    return _capture(sock, interface, duration_s, max_packets, settings, sensor_id, batch_s, clock)


def _capture(
    sock: socket.socket,
    interface: str,
    duration_s: float | None,
    max_packets: int | None,
    settings: FlowMeterSettings | None,
    sensor_id: str,
    batch_s: float,
    clock: Callable[[], int],
) -> Iterator[pa.Table]:
    meter = FlowMeter(settings, sensor_id)
    frags = FragmentTracker()
    seen = 0
    bad = 0
    deadline = None if duration_s is None else time.monotonic() + duration_s
    try:
        while True:
            frames: list[bytes] = []
            stamps: list[int] = []
            types: list[int] = []
            batch_end = time.monotonic() + batch_s
            stop = False
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    stop = True
                    break
                if max_packets is not None and seen >= max_packets:
                    stop = True
                    break
                if now >= batch_end:
                    break
                wait = batch_end - now
                if deadline is not None:
                    wait = min(wait, deadline - now)
                sock.settimeout(max(wait, 0.001))
                try:
                    data, addr = sock.recvfrom(_SNAPLEN)
                except TimeoutError:
                    continue
                if addr[3] == _ARPHRD_LOOPBACK and addr[2] == _PACKET_OUTGOING:
                    continue  # loopback shows each frame twice, as libpcap knows
                frames.append(data)
                stamps.append(clock())
                types.append(101 if addr[3] == _ARPHRD_NONE else 1)
                seen += 1
            if frames:
                bad += _decode_into(meter, frags, frames, stamps, types, seen)
            table = meter.flush(now_ts=clock() / 1e9)
            if table.num_rows:
                yield table
            if stop:
                break
        if bad:
            logger.warning("%s: %d captured frames could not be decoded", interface, bad)
        last = meter.close()
        if last.num_rows:
            yield last
    finally:
        sock.close()


def _decode_into(
    meter: FlowMeter,
    frags: FragmentTracker,
    frames: list[bytes],
    stamps: list[int],
    types: list[int],
    seen: int,
) -> int:
    lengths = np.array([len(f) for f in frames], dtype=np.int64)
    offsets = np.zeros(len(frames), dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)[:-1]
    res = decode_frames(
        np.frombuffer(b"".join(frames), dtype=np.uint8),
        offsets=offsets,
        caplen=lengths,
        wirelen=lengths,
        ts_ns=np.array(stamps, dtype=np.int64),
        linktype=np.array(types, dtype=np.int64),
        packet_no=np.arange(seen - len(frames) + 1, seen + 1, dtype=np.int64),
    )
    frags.apply(res.packets)
    meter.add(res.packets)
    return int(res.bad_packet_no.size)


def live_packets(
    interface: str,
    *,
    duration_s: float | None = None,
    max_packets: int | None = None,
    clock: Callable[[], int] = time.time_ns,
) -> Iterator[Packet]:
    """Capture on ``interface`` and yield decoded packets one by one (for the rule engine).

    The socket is opened by this call (privilege and interface errors are raised at once, one
    line each); iteration stops after ``duration_s`` seconds or ``max_packets`` frames.
    """
    sock = open_raw_socket(interface)
    return _packets(sock, duration_s, max_packets, clock)


def _packets(
    sock: socket.socket,
    duration_s: float | None,
    max_packets: int | None,
    clock: Callable[[], int],
) -> Iterator[Packet]:
    deadline = None if duration_s is None else time.monotonic() + duration_s
    seen = 0
    try:
        while max_packets is None or seen < max_packets:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(max(min(left, 0.5), 0.001))
            else:
                sock.settimeout(0.5)
            try:
                data, addr = sock.recvfrom(_SNAPLEN)
            except TimeoutError:
                continue
            if addr[3] == _ARPHRD_LOOPBACK and addr[2] == _PACKET_OUTGOING:
                continue  # loopback shows each frame twice
            seen += 1
            linktype = 101 if addr[3] == _ARPHRD_NONE else 1
            yield decode_packet(data, linktype=linktype, ts_ns=clock(), number=seen)
    finally:
        sock.close()

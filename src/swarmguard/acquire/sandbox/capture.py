r"""Capture every frame of one interface to a pcap file, with a plain ``AF_PACKET`` socket.

``tcpdump`` on this kernel's ``TPACKET_V3`` ring dropped most packets of short bursts (a
60-port scan: 90 of 128 frames "dropped by kernel", with or without ``--immediate-mode``), so
the node captures with a plain ``AF_PACKET`` socket and a large receive buffer, as
``acquire.live`` does, and writes classic pcap (microseconds, Ethernet). Standard library only.

Run as ``python -m swarmguard.acquire.sandbox.capture --iface eth0 --out FILE`` inside the
sample namespace; it prints ``listening on`` once the socket is bound and stops on SIGTERM or
SIGINT, flushing what it has (and printing ``N packets captured``).

Examples
--------
>>> import io
>>> buf = io.BytesIO()
>>> write_header(buf)
>>> write_record(buf, 1_700_000_000.25, b"\x00" * 60)
>>> len(buf.getvalue()), buf.getvalue()[:4].hex()
(100, 'd4c3b2a1')
"""

from __future__ import annotations

import argparse
import signal
import socket
import struct
import sys
import time
from types import FrameType
from typing import BinaryIO

__all__ = ["capture", "main", "write_header", "write_record"]

ETH_P_ALL = 0x0003
SNAPLEN = 262144
_RCVBUF = 16 << 20


def write_header(fh: BinaryIO) -> None:
    """Classic pcap file header: microsecond timestamps, Ethernet link type."""
    fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1))


def write_record(fh: BinaryIO, ts: float, frame: bytes) -> None:
    """One pcap record for ``frame`` received at ``ts`` (seconds since the epoch)."""
    sec = int(ts)
    usec = int(round((ts - sec) * 1e6))
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)


class _Stop(Exception):
    pass


def capture(iface: str, out: BinaryIO) -> int:
    """Write frames of ``iface`` to ``out`` until SIGTERM/SIGINT; return the frame count."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
    with __import__("contextlib").suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, 33, _RCVBUF)  # SO_RCVBUFFORCE (root)
    sock.bind((iface, 0))
    sock.settimeout(0.2)
    stopping = False

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_header(out)
    out.flush()
    sys.stdout.write(f"listening on {iface}\n")
    sys.stdout.flush()
    count = 0
    while True:
        try:
            frame = sock.recv(SNAPLEN)
        except TimeoutError:
            out.flush()  # quiet moment: what is captured so far survives even a SIGKILL
            if stopping:
                break
            continue
        except InterruptedError:
            continue
        write_record(out, time.time(), frame)
        count += 1
        if stopping:
            sock.setblocking(False)
            try:  # drain what the kernel still holds, then stop
                while True:
                    write_record(out, time.time(), sock.recv(SNAPLEN))
                    count += 1
            except (BlockingIOError, InterruptedError):
                break
    out.flush()
    sock.close()
    return count


def main(argv: list[str] | None = None) -> None:
    """Capture until told to stop."""
    parser = argparse.ArgumentParser(description="capture an interface to a pcap file")
    parser.add_argument("--iface", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with open(args.out, "wb") as fh:
        n = capture(args.iface, fh)
    sys.stdout.write(f"{n} packets captured\n")


if __name__ == "__main__":
    main()

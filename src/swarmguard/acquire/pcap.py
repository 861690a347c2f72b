r"""Read pcap and pcapng capture files into flow tables.

The format is detected from the magic bytes, never the file name (some ``.pcapng`` files are
classic pcap). Classic pcap in either byte order with microsecond or nanosecond timestamps, and
pcapng (several sections, interfaces with their own link types and ``if_tsresol``, enhanced,
simple and obsolete packet blocks) are read in chunks of ``chunk_bytes``: the record headers
are walked in Python, the frames decoded by ``acquire.packets`` on whole arrays, and the flows
metered by ``acquire.flowmeter.FlowMeter``. Memory is bounded by the chunk size plus the packets
of flows that are still open.

Bad input raises ``InputError`` naming the file and packet: an empty file, a file that is not
a capture, a record cut short at the end of the file, a corrupt record header, a frame whose
headers cannot be decoded. With ``skip_bad=True`` a broken frame, or a cut or corrupt tail (after
which the file cannot be followed), is counted in the ``SkipLog`` instead and reading goes on
(or stops, for the tail) with the flows read so far.

Example
-------
>>> import tempfile, struct
>>> from pathlib import Path
>>> frame = bytes(12) + b"\x08\x00" + bytes.fromhex(
...     "4500001c0001000040110000c0a80001c0a80002303900350008 0000")
>>> hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
>>> rec = struct.pack("<IIII", 1_700_000_000, 0, len(frame), len(frame)) + frame
>>> with tempfile.TemporaryDirectory() as d:
...     path = Path(d) / "one.pcap"
...     _ = path.write_bytes(hdr + rec)
...     table = read_pcap(path)
>>> table.num_rows, table["dest_port"][0].as_py(), table["bytes_toserver"][0].as_py()
(1, 53, 42)
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from swarmguard.acquire.flowmeter import FlowMeter
from swarmguard.acquire.packets import FragmentTracker, decode_frames
from swarmguard.config import FlowMeterSettings
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.flow import empty_flow_table, validate_flow_table

__all__ = ["PcapSource", "RecordBatch", "iter_flow_batches", "iter_records", "read_pcap"]

logger = logging.getLogger(__name__)

CHUNK_BYTES = 8 << 20
MAX_RECORD = 16 << 20
_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


@dataclass
class RecordBatch:
    """Frames of one chunk: a byte buffer and per-frame offsets and metadata."""

    buf: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]
    caplen: npt.NDArray[np.int64]
    wirelen: npt.NDArray[np.int64]
    ts_ns: npt.NDArray[np.int64]
    linktype: npt.NDArray[np.int64]
    packet_no: npt.NDArray[np.int64]
    consumed: int  # bytes of the file consumed after this batch


class _Bad(Exception):
    """A corrupt or cut record: the rest of the file cannot be followed."""

    def __init__(self, packet: int, message: str) -> None:
        super().__init__(message)
        self.packet = packet
        self.message = message


class _Batcher:
    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.caplen: list[int] = []
        self.wirelen: list[int] = []
        self.ts: list[int] = []
        self.lt: list[int] = []

    def add(self, off: int, cap: int, wire: int, ts: int, lt: int) -> None:
        self.offsets.append(off)
        self.caplen.append(cap)
        self.wirelen.append(wire)
        self.ts.append(ts)
        self.lt.append(lt)

    def batch(self, data: bytes, first_no: int, consumed: int) -> RecordBatch:
        n = len(self.offsets)
        return RecordBatch(
            buf=np.frombuffer(data, dtype=np.uint8),
            offsets=np.array(self.offsets, dtype=np.int64),
            caplen=np.array(self.caplen, dtype=np.int64),
            wirelen=np.array(self.wirelen, dtype=np.int64),
            ts_ns=np.array(self.ts, dtype=np.int64),
            linktype=np.array(self.lt, dtype=np.int64),
            packet_no=np.arange(first_no, first_no + n, dtype=np.int64),
            consumed=consumed,
        )


def _chunks(fh: BinaryIO, chunk_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """Yield (new data, at end of file); the last item is empty data at end of file."""
    while True:
        more = fh.read(chunk_bytes)
        if not more:
            yield b"", True
            return
        yield more, False


def _iter_pcap(fh: BinaryIO, head: bytes, chunk_bytes: int) -> Iterator[RecordBatch]:
    if len(head) < 24:
        raise _Bad(1, "pcap file header cut short")
    endian, frac_ns = _PCAP_MAGIC[head[:4]]
    _, _, _, _, snaplen, network = struct.unpack_from(endian + "HHiIII", head, 4)
    linktype = network & 0x0FFFFFFF
    limit = max(snaplen, 262144, MAX_RECORD)
    rec = struct.Struct(endian + "IIII")
    pending = head[24:]
    no = 1
    consumed = 24
    for more, eof in _chunks(fh, chunk_bytes):
        data = pending + more
        pos = 0
        b = _Batcher()
        first_no = no
        end = len(data)
        while pos + 16 <= end:
            sec, frac, incl, orig = rec.unpack_from(data, pos)
            if incl > limit:
                yield b.batch(data, first_no, consumed + pos)  # keep the records before it
                raise _Bad(no, f"corrupt record header (captured length {incl})")
            if pos + 16 + incl > end:
                break
            b.add(pos + 16, incl, max(orig, incl), sec * 1_000_000_000 + frac * frac_ns, linktype)
            pos += 16 + incl
            no += 1
        consumed += pos
        yield b.batch(data, first_no, consumed)
        pending = data[pos:]
        if eof and pending:
            raise _Bad(no, f"capture cut inside packet {no} ({len(pending)} trailing bytes)")


def _tsresol(options: bytes, endian: str) -> int:
    """Return ticks per second from the options of an interface description block."""
    i = 0
    while i + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, i)
        if code == 0:
            break
        if code == 9 and length >= 1 and i + 5 <= len(options):
            v = options[i + 4]
            return int(2 ** (v & 0x7F) if v & 0x80 else 10 ** min(v, 18))
        i += 4 + ((length + 3) & ~3)
    return 1_000_000


def _iter_pcapng(fh: BinaryIO, head: bytes, chunk_bytes: int) -> Iterator[RecordBatch]:
    endian = "<"
    ifaces: list[tuple[int, int, int]] = []  # (linktype, snaplen, ticks per second)
    pending = head
    no = 1
    consumed = 0
    for more, eof in _chunks(fh, chunk_bytes):
        data = pending + more
        pos = 0
        end = len(data)
        b = _Batcher()
        first_no = no
        try:
            pos, endian, no = _walk_pcapng_blocks(data, pos, end, endian, ifaces, b, no)
        except _Bad:
            yield b.batch(data, first_no, consumed + pos)  # keep the records before it
            raise
        consumed += pos
        yield b.batch(data, first_no, consumed)
        pending = data[pos:]
        if eof and pending:
            raise _Bad(no, f"capture cut inside block of packet {no} ({len(pending)} bytes)")


def _walk_pcapng_blocks(
    data: bytes,
    pos: int,
    end: int,
    endian: str,
    ifaces: list[tuple[int, int, int]],
    b: _Batcher,
    no: int,
) -> tuple[int, str, int]:
    """Add the packet blocks of ``data[pos:end]`` to ``b``; return (pos, endian, next number).

    Stops before an incomplete block. ``ifaces`` is updated in place.
    """
    while pos + 12 <= end:
        btype_raw = data[pos : pos + 4]
        if btype_raw == _PCAPNG_MAGIC:
            if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif data[pos + 8 : pos + 12] == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                raise _Bad(no, "corrupt pcapng section header (byte-order magic)")
            ifaces.clear()
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12 or blen % 4 or blen > MAX_RECORD:
            raise _Bad(no, f"corrupt pcapng block header (block length {blen})")
        if pos + blen > end:
            break
        body = pos + 8
        if btype == 1:
            if blen < 20:
                raise _Bad(no, "corrupt pcapng interface block")
            lt, _, snap = struct.unpack_from(endian + "HHI", data, body)
            ifaces.append((lt, snap, _tsresol(data[body + 8 : pos + blen - 4], endian)))
        elif btype in (6, 2, 3):
            if btype == 3:
                if blen < 16 or not ifaces:
                    raise _Bad(no, "corrupt pcapng simple packet block")
                (wire,) = struct.unpack_from(endian + "I", data, body)
                iface, ticks, data_at = 0, -1, body + 4
                cap = min(wire, blen - 16, ifaces[0][1] or wire)
            else:
                if blen < 32:
                    raise _Bad(no, "corrupt pcapng packet block")
                if btype == 6:
                    iface, hi, lo, cap, wire = struct.unpack_from(endian + "IIIII", data, body)
                else:
                    iface, _, hi, lo, cap, wire = struct.unpack_from(endian + "HHIIII", data, body)
                ticks = (hi << 32) | lo
                data_at = body + 20
                if iface >= len(ifaces):
                    raise _Bad(no, f"packet names undeclared interface {iface}")
                if cap > blen - 32:
                    raise _Bad(no, f"corrupt packet block (captured length {cap})")
            lt, _, per_s = ifaces[iface]
            ts = 0 if ticks < 0 else ticks * 1_000_000_000 // per_s
            b.add(data_at, cap, max(wire, cap), ts, lt)
            no += 1
        pos += blen
    return pos, endian, no


def iter_records(
    path: Path, *, chunk_bytes: int = CHUNK_BYTES, fh: BinaryIO | None = None
) -> Iterator[RecordBatch]:
    """Yield the frames of a pcap or pcapng file in batches of about ``chunk_bytes``.

    Raises
    ------
    InputError
        If the file is empty, not a capture, or cut short or corrupt (the packet is named).
    """
    own = fh is None
    f = path.open("rb") if fh is None else fh
    try:
        head = f.read(24)
        if not head:
            raise InputError(path, "empty file, not a pcap or pcapng capture")
        if head[:4] in _PCAP_MAGIC:
            it = _iter_pcap(f, head, chunk_bytes)
        elif head[:4] == _PCAPNG_MAGIC:
            it = _iter_pcapng(f, head, chunk_bytes)
        elif head[:2] == b"\x1f\x8b":
            raise InputError(path, "gzip-compressed file; decompress it first")
        else:
            raise InputError(path, f"not a pcap or pcapng capture (magic bytes {head[:4].hex()})")
        try:
            yield from it
        except _Bad as exc:
            raise InputError(path, exc.message, packet=exc.packet) from None
    finally:
        if own:
            f.close()


def iter_flow_batches(
    path: Path,
    *,
    settings: FlowMeterSettings | None = None,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[pa.Table]:
    """Yield flow tables from a capture as flows finish, with bounded memory.

    Parameters are those of ``read_pcap``; ``chunk_bytes`` sets how much of the file is read
    and decoded at a time. The last table holds the flows still open at the end (``eof``).
    """
    path = Path(path)
    log = skip_log if skip_log is not None else SkipLog()
    meter = FlowMeter(settings, sensor_id)
    frags = FragmentTracker()
    non_ip = 0
    records = iter_records(path, chunk_bytes=chunk_bytes)
    while True:
        try:
            rb = next(records)
        except StopIteration:
            break
        except InputError as exc:
            if not skip_bad or exc.packet is None:
                raise
            log.add(path, None, exc.message, packet=exc.packet)
            logger.warning("%s; keeping the flows read so far", exc)
            break
        res = decode_frames(
            rb.buf,
            offsets=rb.offsets,
            caplen=rb.caplen,
            wirelen=rb.wirelen,
            ts_ns=rb.ts_ns,
            linktype=rb.linktype,
            packet_no=rb.packet_no,
        )
        if res.bad_packet_no.size:
            if not skip_bad:
                raise InputError(path, res.bad_reason[0], packet=int(res.bad_packet_no[0]))
            for no, why in zip(res.bad_packet_no.tolist(), res.bad_reason, strict=True):
                log.add(path, None, why, packet=no)
        non_ip += res.non_ip
        frags.apply(res.packets)
        meter.add(res.packets)
        if len(res.packets):
            done = meter.flush(now_ts=float(res.packets.ts_ns.max()) / 1e9)
            if done.num_rows:
                yield done
        if progress is not None:
            progress(rb.consumed)
    if non_ip:
        logger.debug("%s: %d frames were not IP and make no flows", path, non_ip)
    yield meter.close()


def read_pcap(
    path: Path,
    *,
    settings: FlowMeterSettings | None = None,
    sensor_id: str = "local",
    skip_bad: bool = False,
    skip_log: SkipLog | None = None,
    progress: Callable[[int], None] | None = None,
) -> pa.Table:
    """Read a pcap or pcapng file and return its bidirectional flows.

    Parameters
    ----------
    path
        The capture; its format is detected from the magic bytes.
    settings
        Flow timeouts; defaults to ``FlowMeterSettings()``.
    sensor_id
        Written into each flow and mixed into its ``uid``.
    skip_bad
        Count broken packets (and a cut or corrupt tail) in ``skip_log`` instead of raising.
    skip_log
        Where skipped packets are counted (the packet number goes in the ``line`` slot).
    progress
        Called after each chunk with the number of bytes of the file consumed so far.

    Returns
    -------
    pyarrow.Table
        Flows with ``records.flow.FLOW_SCHEMA``, in order of their first packet.

    Raises
    ------
    InputError
        On bad input, naming the file and packet, unless ``skip_bad`` allows skipping it.
    """
    tables = list(
        iter_flow_batches(
            Path(path),
            settings=settings,
            sensor_id=sensor_id,
            skip_bad=skip_bad,
            skip_log=skip_log,
            progress=progress,
        )
    )
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return empty_flow_table()
    table = pa.concat_tables(tables)
    return validate_flow_table(table.sort_by([("ts", "ascending")]))


@dataclass
class PcapSource:
    """A capture file as a flow source: ``iter(PcapSource(path))`` yields flow tables.

    Examples
    --------
    >>> src = PcapSource(Path("capture.pcap"), sensor_id="edge-1")
    >>> src.sensor_id
    'edge-1'
    """

    path: Path
    settings: FlowMeterSettings | None = None
    sensor_id: str = "local"
    skip_bad: bool = False
    skip_log: SkipLog | None = None

    def __iter__(self) -> Iterator[pa.Table]:
        """Yield flow tables as flows finish (see ``iter_flow_batches``)."""
        return iter_flow_batches(
            self.path,
            settings=self.settings,
            sensor_id=self.sensor_id,
            skip_bad=self.skip_bad,
            skip_log=self.skip_log,
        )

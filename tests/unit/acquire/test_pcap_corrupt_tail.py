"""A corrupt record keeps every record before it (none dropped silently), in both readers."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from swarmguard.acquire.pcap import read_pcap
from swarmguard.acquire.rawpackets import iter_frames
from swarmguard.errors import InputError, SkipLog

DEMO = Path(__file__).resolve().parents[3] / "data" / "demo" / "pcaps" / "synflood_first2000.pcap"


@pytest.fixture
def corrupt(tmp_path: Path) -> Path:
    bad = tmp_path / "corrupt.pcap"
    # A record header claiming a 1 GiB packet: nothing after it can be followed.
    bad.write_bytes(DEMO.read_bytes() + struct.pack("<IIII", 0, 0, 1 << 30, 1 << 30))
    return bad


def test_flow_reader_keeps_the_records_before_a_corrupt_one(corrupt: Path) -> None:
    with pytest.raises(InputError, match="packet 2001"):
        read_pcap(corrupt)
    log = SkipLog()
    flows = read_pcap(corrupt, skip_bad=True, skip_log=log)
    packets = flows.column("pkts_toserver").to_numpy().sum()
    packets += flows.column("pkts_toclient").to_numpy().sum()
    assert packets == 2000
    assert log.count == 1 and "packet 2001" in log.summary()


def test_packet_reader_keeps_the_records_before_a_corrupt_one(corrupt: Path) -> None:
    frames = list(iter_frames(corrupt, stop_at_bad=True))
    assert [f.number for f in frames] == list(range(1, 2001))
    with pytest.raises(InputError, match="packet 2001"):
        list(iter_frames(corrupt))

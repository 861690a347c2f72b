"""Damaged captures give a flow table or an InputError: no other exception, no hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmguard.acquire.pcap import read_pcap
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.flow import validate_flow_table

CAPTURE = Path("pcaps") / "esnet" / "nmap" / "nmap_80_all.pcap"
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check(path: Path, data: bytes, skip_bad: bool) -> None:
    path.write_bytes(data)
    log = SkipLog()
    try:
        table = read_pcap(path, skip_bad=skip_bad, skip_log=log)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    validate_flow_table(table)


@pytest.fixture(scope="module")
def capture(datasets_dir: Path) -> bytes:
    return (datasets_dir / CAPTURE).read_bytes()


@pytest.mark.timeout(120)
@FUZZ
@given(cut=st.integers(min_value=0, max_value=117415), skip_bad=st.booleans())
def test_truncated(capture: bytes, tmp_path: Path, cut: int, skip_bad: bool) -> None:
    _check(tmp_path / "cut.pcap", capture[: min(cut, len(capture))], skip_bad)


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.binary(max_size=4096), skip_bad=st.booleans())
def test_garbage(tmp_path: Path, data: bytes, skip_bad: bool) -> None:
    _check(tmp_path / "garbage.pcap", data, skip_bad)


@pytest.mark.timeout(120)
@FUZZ
@given(
    data=st.binary(max_size=2048), magic=st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a"])
)
def test_garbage_behind_a_valid_magic(tmp_path: Path, data: bytes, magic: bytes) -> None:
    _check(tmp_path / "magic.pcap", magic + data, True)


@pytest.mark.timeout(120)
@FUZZ
@given(
    flips=st.lists(st.tuples(st.integers(0, 117414), st.integers(1, 255)), min_size=1, max_size=20),
    skip_bad=st.booleans(),
)
def test_flipped_bytes(
    capture: bytes, tmp_path: Path, flips: list[tuple[int, int]], skip_bad: bool
) -> None:
    data = bytearray(capture)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    _check(tmp_path / "flipped.pcap", bytes(data), skip_bad)


def test_empty(tmp_path: Path) -> None:
    (tmp_path / "e.pcap").write_bytes(b"")
    with pytest.raises(InputError):
        read_pcap(tmp_path / "e.pcap")

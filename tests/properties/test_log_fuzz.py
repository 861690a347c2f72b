"""Damaged sensor logs give records or an InputError: never another exception, never a hang.

Inputs: random bytes, random text lines, real files (loghub, the golden EVE and Zeek inputs)
cut short and with bytes flipped, random JSON values, and valid EVE / Zeek records with one
field replaced by random JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmguard.acquire.authlog import read_auth_log
from swarmguard.acquire.eve import read_eve
from swarmguard.acquire.zeek import read_conn_log
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.flow import validate_flow_table

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FUZZ = settings(
    max_examples=80,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _eve(path: Path, skip_bad: bool, log: SkipLog) -> None:
    contents = read_eve(path, skip_bad=skip_bad, skip_log=log)
    validate_flow_table(contents.flows)
    for alert in contents.alerts:
        assert alert.evidence and 0.0 <= alert.score <= 1.0


def _zeek(path: Path, skip_bad: bool, log: SkipLog) -> None:
    validate_flow_table(read_conn_log(path, skip_bad=skip_bad, skip_log=log))


def _auth(path: Path, skip_bad: bool, log: SkipLog) -> None:
    for event in read_auth_log(path, year=2024, skip_bad=skip_bad, skip_log=log):
        assert event.source_line is not None and event.source_line >= 1


READERS: dict[str, Callable[[Path, bool, SkipLog], None]] = {
    "eve": _eve,
    "zeek": _zeek,
    "auth": _auth,
}


def check(path: Path, data: bytes, reader: str, skip_bad: bool) -> None:
    path.write_bytes(data)
    log = SkipLog()
    try:
        READERS[reader](path, skip_bad, log)
    except InputError as exc:
        assert "\n" not in str(exc)
        if skip_bad:
            assert "empty file" in str(exc) or "lacks required" in str(exc) or "cannot" in str(exc)
        return
    if not skip_bad:
        assert log.count == 0


def damage(data: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data[: min(cut, len(data))])
    for pos, value in flips:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


class Inputs(dict[str, bytes]):
    """The real files, with a short repr for hypothesis' failure reports."""

    def __repr__(self) -> str:
        return f"<real inputs: {', '.join(self)}>"


@pytest.fixture(scope="module")
def real_inputs(datasets_dir: Path) -> Inputs:
    loghub = datasets_dir / "logs" / "loghub"
    return Inputs(
        {
            "auth-openssh": (loghub / "OpenSSH" / "OpenSSH_2k.log").read_bytes()[:40_000],
            "auth-linux": (loghub / "Linux" / "Linux_2k.log").read_bytes()[:40_000],
            "eve": (GOLDEN / "eve" / "basic" / "input.eve.json").read_bytes(),
            "zeek-tsv": (GOLDEN / "zeek" / "conn_tsv" / "input.log").read_bytes(),
            "zeek-json": (GOLDEN / "zeek" / "conn_json" / "input.log").read_bytes(),
        }
    )


@pytest.mark.timeout(120)
@FUZZ
@given(
    data=st.binary(max_size=2048),
    reader=st.sampled_from(sorted(READERS)),
    skip_bad=st.booleans(),
)
def test_random_bytes(tmp_path: Path, data: bytes, reader: str, skip_bad: bool) -> None:
    check(tmp_path / "random.log", data, reader, skip_bad)


_TEXT_PIECES = st.sampled_from(
    [
        "Dec 10 06:55:46 LabSZ sshd[24200]: ",
        "Feb 29 00:00:00 h x: ",
        "<38>1 2024-07-09T14:03:11.512Z gw01 sshd 9172 - - ",
        "2024-05-04T08:15:02.118374+02:00 db1 sshd[2211]: ",
        "Failed password for invalid user ",
        "Invalid user  from ",
        "message repeated 5 times: [ ",
        "]",
        "authentication failure; rhost= user=",
        " port 99999 ",
        "#separator \\x09\n",
        "#fields\tts\tuid\n",
        "\t",
        "-",
        '{"event_type":"flow","flow":{',
        "{",
        "}",
        "\n",
        "\r\n",
        "\x00",
        "\\x0",
    ]
)


@pytest.mark.timeout(120)
@FUZZ
@given(
    pieces=st.lists(st.one_of(_TEXT_PIECES, st.text(max_size=20)), max_size=40),
    reader=st.sampled_from(sorted(READERS)),
    skip_bad=st.booleans(),
)
def test_random_text(tmp_path: Path, pieces: list[str], reader: str, skip_bad: bool) -> None:
    check(tmp_path / "text.log", "".join(pieces).encode("utf-8", "surrogatepass"), reader, skip_bad)


@pytest.mark.timeout(120)
@FUZZ
@given(
    name=st.sampled_from(["auth-openssh", "auth-linux", "eve", "zeek-tsv", "zeek-json"]),
    cut=st.integers(min_value=0, max_value=40_000),
    flips=st.lists(st.tuples(st.integers(0, 40_000), st.integers(0, 255)), max_size=4),
    skip_bad=st.booleans(),
)
def test_damaged_real_files(
    real_inputs: dict[str, bytes],
    tmp_path: Path,
    name: str,
    cut: int,
    flips: list[tuple[int, int]],
    skip_bad: bool,
) -> None:
    reader = name.split("-")[0]
    check(tmp_path / "cut.log", damage(real_inputs[name], cut, flips), reader, skip_bad)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.timeout(120)
@FUZZ
@given(
    values=st.lists(JSON_VALUES, min_size=1, max_size=5),
    reader=st.sampled_from(["eve", "zeek"]),
    skip_bad=st.booleans(),
)
def test_random_json(tmp_path: Path, values: list[Any], reader: str, skip_bad: bool) -> None:
    text = "".join(json.dumps(v) + "\n" for v in values)
    check(tmp_path / "random.json", text.encode(), reader, skip_bad)


def _records(real: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in real.decode().splitlines() if line.strip()]


def _replace(obj: Any, path: list[int], value: Any) -> Any:
    """Replace the value at a pseudo-random key path (indices into sorted keys)."""
    if not path or not isinstance(obj, dict) or not obj:
        return value
    keys = sorted(obj)
    key = keys[path[0] % len(keys)]
    out = dict(obj)
    out[key] = _replace(obj[key], path[1:], value)
    return out


@pytest.mark.timeout(120)
@FUZZ
@given(
    name=st.sampled_from(["eve", "zeek-json"]),
    index=st.integers(min_value=0, max_value=100),
    path=st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=3),
    value=JSON_VALUES,
    skip_bad=st.booleans(),
)
def test_valid_records_with_one_random_field(
    real_inputs: dict[str, bytes],
    tmp_path: Path,
    name: str,
    index: int,
    path: list[int],
    value: Any,
    skip_bad: bool,
) -> None:
    records = _records(real_inputs[name])
    i = index % len(records)
    records[i] = _replace(records[i], path, value)
    text = "".join(json.dumps(r) + "\n" for r in records)
    check(tmp_path / "mutated.json", text.encode(), name.split("-")[0], skip_bad)

"""Any bytes in: a LabeledTable or an InputError out, nothing else, in bounded time."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmguard.acquire.datasets import DATASET_FORMATS, load_dataset
from swarmguard.errors import InputError
from swarmguard.records.dataset import LabeledTable

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
SAMPLES = {
    "nsl-kdd": SHARED / "nsl-kdd" / "KDDTrain+_20Percent.txt",
    "unsw-nb15": SHARED / "unsw-nb15" / "UNSW_NB15_sample.csv",
    "cic-ids2017": SHARED / "cic-ids2017" / "Web_Attack_-_XSS_18.csv",
}
FUZZ = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def _load(data: bytes, fmt: str, skip_bad: bool) -> LabeledTable | InputError:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.csv"
        path.write_bytes(data)
        try:
            lt = load_dataset(path, fmt, skip_bad=skip_bad)
        except InputError as exc:
            assert exc.path == str(path)
            assert exc.line is None or exc.line >= 1
            return exc
    assert isinstance(lt, LabeledTable)
    assert lt.table.column("uid").null_count == 0
    return lt


@pytest.fixture(scope="module")
def heads(datasets_dir: Path) -> dict[str, bytes]:
    return {fmt: path.read_bytes()[:20_000] for fmt, path in SAMPLES.items()}


@FUZZ
@given(data=st.binary(max_size=4000), fmt=st.sampled_from(["auto", *DATASET_FORMATS]))
def test_random_bytes(data: bytes, fmt: str) -> None:
    _load(data, fmt, skip_bad=False)
    _load(data, fmt, skip_bad=True)


@FUZZ
@given(fmt=st.sampled_from(DATASET_FORMATS), cut=st.integers(0, 20_000), skip=st.booleans())
def test_truncated_real_files(heads: dict[str, bytes], fmt: str, cut: int, skip: bool) -> None:
    _load(heads[fmt][:cut], fmt, skip_bad=skip)


@FUZZ
@given(
    fmt=st.sampled_from(DATASET_FORMATS),
    rows=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 100)), max_size=8),
    junk=st.lists(
        st.sampled_from([b"x", b"", b"\xff", b"\x96", b'"', b"\r", b" ", b"1e9"]),
        min_size=1,
        max_size=12,
    ),
    skip=st.booleans(),
)
def test_rows_with_random_column_counts(
    heads: dict[str, bytes],
    fmt: str,
    rows: list[tuple[int, int]],
    junk: list[bytes],
    skip: bool,
) -> None:
    lines = heads[fmt].split(b"\n")[:12]
    for where, count in rows:
        cells = lines[where % len(lines)].split(b",")
        cut = count % (len(cells) + 3)
        new = (cells + junk)[:cut] if cut > len(cells) else cells[:cut]
        if junk and count % 2:
            new = [*new[:-1], junk[count % len(junk)]] if new else [junk[0]]
        lines[where % len(lines)] = b",".join(new)
    result = _load(b"\n".join(lines), fmt, skip_bad=skip)
    if skip and isinstance(result, LabeledTable):
        assert result.num_rows <= 12

"""Per-host time windows: order, padding, horizon, hosts missing, and real CIC-IDS2017 rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmguard.acquire.datasets import load_dataset
from swarmguard.features.windows import has_host_context, host_windows, timestamps_us
from swarmguard.records.dataset import LabeledTable

T0 = datetime(2017, 7, 7, 12, 0, tzinfo=UTC)


def _rows(seconds: list[float | None], hosts: list[str | None]) -> LabeledTable:
    n = len(seconds)
    ts = [None if s is None else T0 + timedelta(seconds=s) for s in seconds]
    table = pa.table(
        {
            "uid": [f"f:{i + 1}" for i in range(n)],
            "x": np.arange(n, dtype=np.float64),
            "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
            "src_ip": pa.array(hosts, type=pa.string()),
            "label": ["benign"] * n,
            "label_original": ["normal"] * n,
        }
    )
    return LabeledTable(table, "demo", ("x",), ())


def test_windows_follow_time_per_host_and_pad_on_the_left() -> None:
    rows = _rows([5, 1, 3, 2, 4], ["a", "a", "b", "a", "b"])
    w = host_windows(rows, 3)
    # host a in time order: rows 1 (t=1), 3 (t=2), 0 (t=5); host b: 2 (t=3), 4 (t=4)
    assert w.tolist() == [[1, 3, 0], [-1, -1, 1], [-1, -1, 2], [-1, 1, 3], [-1, 2, 4]]


def test_equal_timestamps_keep_file_order() -> None:
    w = host_windows(_rows([1, 1, 1], ["a", "a", "a"]), 3)
    assert w[2].tolist() == [0, 1, 2]


def test_horizon_drops_old_flows() -> None:
    rows = _rows([0, 100, 101], ["a", "a", "a"])
    assert host_windows(rows, 3)[2].tolist() == [0, 1, 2]
    assert host_windows(rows, 3, horizon_s=10)[2].tolist() == [-1, 1, 2]


def test_rows_without_host_or_time_stand_alone() -> None:
    rows = _rows([1, None, 2, 3], ["a", "a", None, "a"])
    w = host_windows(rows, 3)
    assert w[1].tolist() == [-1, -1, 1]
    assert w[2].tolist() == [-1, -1, 2]
    assert w[3].tolist() == [-1, 0, 3]


def test_tables_without_hosts_give_windows_of_one() -> None:
    table = pa.table(
        {"uid": ["a", "b"], "x": [1.0, 2.0], "label": ["benign"] * 2, "label_original": ["n"] * 2}
    )
    rows = LabeledTable(table, "nsl-kdd", ("x",), ())
    assert not has_host_context(rows)
    assert host_windows(rows, 4).tolist() == [[-1, -1, -1, 0], [-1, -1, -1, 1]]
    with pytest.raises(ValueError, match="at least 1"):
        host_windows(rows, 0)


def test_numeric_timestamps_are_seconds() -> None:
    table = pa.table({"uid": ["a"], "ts": [1.5], "label": ["benign"], "label_original": ["n"]})
    us, ok = timestamps_us(LabeledTable(table, "demo", (), ()))
    assert us.tolist() == [1_500_000] and ok.tolist() == [True]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.sampled_from(["a", "b", "c", None])),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 6),
)
def test_window_invariants(flows: list[tuple[int, str | None]], length: int) -> None:
    rows = _rows([float(s) for s, _ in flows], [h for _, h in flows])
    w = host_windows(rows, length)
    assert w.shape == (len(flows), length)
    assert w[:, -1].tolist() == list(range(len(flows)))
    for i, window in enumerate(w):
        real = window[window >= 0]
        # padding only on the left; every step is the same host, in time order, before the row
        assert (window[: length - real.size] == -1).all()
        times = [flows[j][0] for j in real]
        assert times == sorted(times)
        if flows[i][1] is None:
            assert real.tolist() == [i]
        assert all(flows[j][1] == flows[i][1] for j in real)
        assert len(set(real.tolist())) == real.size


def test_real_cic_ids2017_rows_have_host_sequences(datasets_dir: Path) -> None:
    rows = load_dataset(datasets_dir / "cic-ids2017" / "Botnet_736.csv")
    assert has_host_context(rows)
    w = host_windows(rows, 8)
    full = (w >= 0).all(axis=1)
    assert full.mean() > 0.5  # botnet hosts send many flows
    src = np.asarray(rows.table.column("src_ip").to_pylist(), dtype=object)
    ts, _ = timestamps_us(rows)
    for window in w[full][:50]:
        assert len(set(src[window])) == 1
        assert (np.diff(ts[window]) >= 0).all()

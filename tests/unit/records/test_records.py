import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmguard.records import Alert, AlertInfo, LabeledTable, LogEvent
from swarmguard.records.flow import FLOW_SCHEMA, empty_flow_table, validate_flow_table
from swarmguard.records.schema import SCHEMA_DIR, generate


def test_committed_json_schemas_match_the_models() -> None:
    for name, schema in generate().items():
        committed = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        assert committed == json.loads(json.dumps(schema)), f"regenerate {name}: make schemas"


def test_flow_schema_uses_eve_vocabulary() -> None:
    for name in ("ts", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "community_id"):
        assert name in FLOW_SCHEMA.names
    assert all(f.metadata and f.metadata[b"doc"] for f in FLOW_SCHEMA)


def test_validate_flow_table_rejects_missing_columns() -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        validate_flow_table(pa.table({"ts": [1]}))
    assert validate_flow_table(empty_flow_table()).schema.equals(FLOW_SCHEMA)


def test_alert_is_suricata_eve_shaped() -> None:
    alert = Alert(
        ts=datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        src_ip="10.0.0.1",
        src_port=1,
        dest_ip="10.0.0.2",
        dest_port=80,
        proto="TCP",
        community_id="1:abc",
        alert=AlertInfo(signature_id=7, signature="s", category="c", severity=1),
        detector="svm",
        score=0.5,
        evidence=["f.pcap:1"],
    )
    eve = json.loads(alert.to_eve_line())
    assert eve["event_type"] == "alert"
    assert eve["timestamp"].startswith("2024-01-02T03:04:05.678901")
    assert set(eve["alert"]) >= {"signature_id", "signature", "category", "severity"}
    assert {"detector", "score", "sensor_id", "evidence", "uid", "schema_version"} <= set(eve)


def test_naive_timestamps_become_utc() -> None:
    e = LogEvent(ts=datetime(2024, 1, 1), message="m")
    assert e.ts.tzinfo is not None


@given(
    user=st.one_of(st.none(), st.text(max_size=20)),
    port=st.one_of(st.none(), st.integers(0, 65535)),
    message=st.text(max_size=200),
    seconds=st.integers(0, 2_000_000_000),
)
def test_log_event_json_round_trip(
    user: str | None, port: int | None, message: str, seconds: int
) -> None:
    e = LogEvent(
        ts=datetime.fromtimestamp(seconds, tz=UTC), user=user, src_port=port, message=message
    )
    assert LogEvent.model_validate_json(e.model_dump_json()) == e


def test_labeled_table_requires_its_columns() -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        LabeledTable(pa.table({"uid": ["a"]}), "x", ("f",), ())

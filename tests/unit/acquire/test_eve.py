"""Suricata EVE reader: alerts, flows, other event types, bad input, golden files."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from swarmguard.acquire.eve import EveContents, read_eve
from swarmguard.acquire.jsonlines import community_id
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.flow import FLOW_SCHEMA

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "eve"
REGEN = os.environ.get("SWARMGUARD_REGEN_GOLDEN") == "1"


def first_skipped_line(log: SkipLog, path: Path) -> int:
    """The line of the first skipped row (SkipLog keeps it as an int or as "line N")."""
    where = str(log.first[str(path)][0])
    return int(where.removeprefix("line "))


ALERT: dict[str, Any] = {
    "timestamp": "2017-07-07T12:59:00.123456+0000",
    "flow_id": 42,
    "event_type": "alert",
    "src_ip": "10.0.0.1",
    "src_port": 1234,
    "dest_ip": "10.0.0.2",
    "dest_port": 80,
    "proto": "TCP",
    "alert": {
        "action": "allowed",
        "gid": 1,
        "signature_id": 2100498,
        "rev": 7,
        "signature": "GPL ATTACK_RESPONSE id check returned root",
        "category": "Potentially Bad Traffic",
        "severity": 2,
    },
    "app_proto": "http",
}
FLOW: dict[str, Any] = {
    "timestamp": "2017-07-07T13:00:04.684381+0000",
    "flow_id": 7,
    "event_type": "flow",
    "src_ip": "10.0.0.1",
    "src_port": 1234,
    "dest_ip": "10.0.0.2",
    "dest_port": 80,
    "proto": "TCP",
    "flow": {
        "pkts_toserver": 6,
        "pkts_toclient": 4,
        "bytes_toserver": 481,
        "bytes_toclient": 567,
        "start": "2017-07-07T12:59:01.430166+0000",
        "end": "2017-07-07T12:59:01.684346+0000",
        "age": 0,
        "state": "closed",
        "reason": "timeout",
        "alerted": False,
    },
    "tcp": {"tcp_flags": "1b", "tcp_flags_ts": "1b", "tcp_flags_tc": "1b", "state": "closed"},
}


def write_lines(tmp_path: Path, *objs: Any, name: str = "eve.json") -> Path:
    path = tmp_path / name
    lines = [o if isinstance(o, str) else json.dumps(o) for o in objs]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    for key, value in changes.items():
        target = out
        *parents, last = key.split("__")
        for parent in parents:
            target = target[parent]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return out


def test_alert_fields(tmp_path: Path) -> None:
    path = write_lines(tmp_path, ALERT)
    contents = read_eve(path, sensor_id="s1")
    (alert,) = contents.alerts
    assert alert.ts == datetime(2017, 7, 7, 12, 59, 0, 123456, tzinfo=UTC)
    assert (alert.src_ip, alert.src_port, alert.dest_ip, alert.dest_port) == (
        "10.0.0.1",
        1234,
        "10.0.0.2",
        80,
    )
    assert (alert.proto, alert.flow_id, alert.app_proto) == ("TCP", 42, "http")
    assert alert.community_id == community_id(6, "10.0.0.1", "10.0.0.2", 1234, 80)
    assert alert.alert.signature_id == 2100498 and alert.alert.severity == 2
    assert (alert.detector, alert.score, alert.sensor_id) == ("suricata", 0.75, "s1")
    assert alert.evidence == [f"{path}:1"]
    assert alert.to_eve()["alert"]["signature"] == ALERT["alert"]["signature"]


@pytest.mark.parametrize(
    ("severity", "score"), [(1, 1.0), (2, 0.75), (3, 0.5), (4, 0.25), (9, 0.25)]
)
def test_severity_score(tmp_path: Path, severity: int, score: float) -> None:
    contents = read_eve(write_lines(tmp_path, with_(ALERT, alert__severity=severity)))
    assert contents.alerts[0].score == score
    assert contents.alerts[0].alert.severity == min(severity, 4)


def test_flow_row(tmp_path: Path) -> None:
    contents = read_eve(write_lines(tmp_path, FLOW), sensor_id="s1")
    assert contents.flows.schema.equals(FLOW_SCHEMA, check_metadata=False)
    (row,) = contents.flows.to_pylist()
    assert row["ts"] == datetime(2017, 7, 7, 12, 59, 1, 430166, tzinfo=UTC)
    assert row["uid"] == "7" and row["sensor_id"] == "s1"
    assert row["duration_s"] == pytest.approx(0.25418)
    assert (row["pkts_toserver"], row["bytes_toclient"]) == (6, 567)
    assert (row["tcp_flags_toserver"], row["tcp_flags_toclient"]) == (0x1B, 0x1B)
    assert (row["ip_proto"], row["icmp_type"], row["end_reason"]) == (6, -1, "fin")
    assert row["community_id"] == community_id(6, "10.0.0.1", "10.0.0.2", 1234, 80)
    assert row["syn_count"] is None and row["flow_iat_mean_s"] is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tcp__tcp_flags": "16", "tcp__state": "closed"}, "rst"),
        ({"tcp__tcp_flags": "1a", "tcp__state": "established"}, "idle"),
        ({"tcp__tcp_flags": "1a", "tcp__state": "established", "flow__reason": "shutdown"}, "eof"),
        ({"tcp__tcp_flags": "1a", "tcp__state": "established", "flow__reason": "forced"}, "active"),
        ({"tcp": ..., "flow__reason": "shutdown"}, "eof"),
    ],
)
def test_end_reason(tmp_path: Path, changes: dict[str, Any], reason: str) -> None:
    contents = read_eve(write_lines(tmp_path, with_(FLOW, **changes)))
    assert contents.flows.column("end_reason").to_pylist() == [reason]


def test_other_events_are_counted(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        {"timestamp": "2017-07-07T12:59:00+0000", "event_type": "stats", "stats": {}},
        {"event_type": "dns", "dns": {}},
        {"event_type": "dns", "dns": {}},
        FLOW,
    )
    contents = read_eve(path)
    assert contents.other == {"stats": 1, "dns": 2}
    assert contents.flows.num_rows == 1 and contents.alerts == []
    assert isinstance(contents, EveContents)


def test_ipv6_full_form_is_compressed(tmp_path: Path) -> None:
    line = with_(ALERT, src_ip="2001:0db8:0000:0000:0000:0000:0000:0014", dest_ip="2001:db8::5")
    alert = read_eve(write_lines(tmp_path, line)).alerts[0]
    assert alert.src_ip == "2001:db8::14"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2, 3]", "not an object but an array"),
        ('"text"', "not an object but a string"),
        (json.dumps(with_(ALERT, event_type=...)), "missing field 'event_type'"),
        (json.dumps(with_(ALERT, timestamp=...)), "'timestamp'"),
        (json.dumps(with_(ALERT, timestamp="yesterday")), "not an ISO 8601 time"),
        (json.dumps(with_(ALERT, src_ip="10.0.0.300")), "not an IP address"),
        (json.dumps(with_(ALERT, src_port=70000)), "out of range"),
        (json.dumps(with_(ALERT, src_port="80")), "not an integer"),
        (json.dumps(with_(ALERT, proto="XTP")), "unknown proto"),
        (json.dumps(with_(ALERT, alert=...)), "missing field 'alert'"),
        (json.dumps(with_(ALERT, alert__signature_id=...)), "'signature_id'"),
        (json.dumps(with_(ALERT, alert__action="drop")), "neither 'allowed' nor 'blocked'"),
        (json.dumps(with_(ALERT, alert__severity=0)), "out of range"),
        (json.dumps(with_(ALERT, dest_ip="2001:db8::1")), "different IP versions"),
        (json.dumps(with_(FLOW, flow__pkts_toserver=...)), "'pkts_toserver'"),
        (json.dumps(with_(FLOW, flow__pkts_toserver=-1)), "out of range"),
        (json.dumps(with_(FLOW, flow__end="2017-07-07T12:59:00+0000")), "before flow.start"),
        (json.dumps(with_(FLOW, flow_id=...)), "'flow_id'"),
        (json.dumps(with_(FLOW, tcp__tcp_flags_ts="zz")), "hex byte"),
        (json.dumps(with_(FLOW, vlan="10")), "vlan"),
    ],
)
def test_bad_lines(tmp_path: Path, line: str, message: str) -> None:
    path = write_lines(tmp_path, FLOW, line)
    with pytest.raises(InputError, match=message) as info:
        read_eve(path)
    assert info.value.line == 2
    assert "\n" not in str(info.value)
    log = SkipLog()
    contents = read_eve(path, skip_bad=True, skip_log=log)
    assert contents.flows.num_rows == 1
    assert log.count == 1 and first_skipped_line(log, path) == 2


def test_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(FLOW).encode() + b"\n")
    assert read_eve(path).flows.num_rows == 1


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    path.write_bytes(json.dumps(FLOW).encode() + b"\n" + b'{"event_type": "dns\xff"}\n')
    with pytest.raises(InputError, match="UTF-8") as info:
        read_eve(path)
    assert info.value.line == 2


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_eve(path)


def test_skip_without_a_log_still_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_lines(tmp_path, FLOW, "{oops")
    with caplog.at_level("WARNING"):
        read_eve(path, skip_bad=True)
    assert "skipped 1 bad line" in caplog.text


def test_columnwise_table_has_schema_nullability(tmp_path: Path) -> None:
    table = read_eve(write_lines(tmp_path, FLOW, with_(FLOW, flow_id=8))).flows
    for field in FLOW_SCHEMA:
        if not field.nullable:
            assert table.column(field.name).null_count == 0, field.name
    assert isinstance(table, pa.Table)


# --- golden files -------------------------------------------------------------------------


def golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "input.eve.json").is_file())


def dump(contents: EveContents, path: Path) -> dict[str, Any]:
    alerts = []
    for alert in contents.alerts:
        data = alert.model_dump(mode="json", exclude={"uid"}, exclude_none=True)
        data["evidence"] = [e.replace(str(path), "input.eve.json") for e in data["evidence"]]
        alerts.append(data)
    flows = [
        {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in row.items()
            if v is not None
        }
        for row in contents.flows.to_pylist()
    ]
    return {"alerts": alerts, "flows": flows, "other": contents.other}


@pytest.mark.parametrize("case", golden_cases())
def test_golden(case: str) -> None:
    folder = GOLDEN / case
    path = folder / "input.eve.json"
    got = dump(read_eve(path, sensor_id="golden"), path)
    expected_path = folder / "expected.json"
    if REGEN:
        expected_path.write_text(json.dumps(got, indent=1) + "\n", encoding="utf-8")
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))

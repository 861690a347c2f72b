"""Zeek conn.log reader: TSV and JSON forms, mapping, bad input, golden files."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from swarmguard.acquire.jsonlines import community_id
from swarmguard.acquire.zeek import read_conn_log
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.flow import FLOW_SCHEMA

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "zeek"
REGEN = os.environ.get("SWARMGUARD_REGEN_GOLDEN") == "1"


def first_skipped_line(log: SkipLog, path: Path) -> int:
    """The line of the first skipped row (SkipLog keeps it as an int or as "line N")."""
    where = str(log.first[str(path)][0])
    return int(where.removeprefix("line "))


FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
]
TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "bool",
    "bool",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
    "set[string]",
]
ROW = [
    "1591367999.430166",
    "CLqEx41jYPOdfHF586",
    "192.168.4.76",
    "46378",
    "31.3.245.133",
    "80",
    "tcp",
    "http",
    "0.254115",
    "77",
    "295",
    "SF",
    "-",
    "-",
    "0",
    "ShADadFf",
    "6",
    "397",
    "4",
    "511",
    "-",
]


def tsv(*rows: list[str], fields: list[str] | None = None, path: str = "conn") -> str:
    names = fields or FIELDS
    head = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        f"#path\t{path}",
        "#open\t2020-06-05-14-48-32",
        "#fields\t" + "\t".join(names),
        "#types\t" + "\t".join(TYPES[: len(names)]),
    ]
    return "\n".join(head + ["\t".join(r) for r in rows] + ["#close\t2020-06-05-14-48-32"]) + "\n"


def row(**changes: str) -> list[str]:
    values = dict(zip(FIELDS, ROW, strict=True))
    values.update({k.replace("__", "."): v for k, v in changes.items()})
    return [values[f] for f in FIELDS]


def write(tmp_path: Path, text: str | bytes, name: str = "conn.log") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


JSON_ROW: dict[str, Any] = {
    "ts": 1591367999.430166,
    "uid": "C5bLoe2Mvxqhawzqqd",
    "id.orig_h": "192.168.4.76",
    "id.orig_p": 46378,
    "id.resp_h": "31.3.245.133",
    "id.resp_p": 80,
    "proto": "tcp",
    "service": "http",
    "duration": 0.25411510467529297,
    "orig_bytes": 77,
    "resp_bytes": 295,
    "conn_state": "SF",
    "missed_bytes": 0,
    "history": "ShADadFf",
    "orig_pkts": 6,
    "orig_ip_bytes": 397,
    "resp_pkts": 4,
    "resp_ip_bytes": 511,
}


def test_tsv_row_mapping(tmp_path: Path) -> None:
    table = read_conn_log(write(tmp_path, tsv(row())), sensor_id="z1")
    assert table.schema.equals(FLOW_SCHEMA, check_metadata=False)
    (got,) = table.to_pylist()
    assert got["ts"] == datetime(2020, 6, 5, 14, 39, 59, 430166, tzinfo=UTC)
    assert (got["uid"], got["sensor_id"], got["proto"], got["ip_proto"]) == (
        "CLqEx41jYPOdfHF586",
        "z1",
        "TCP",
        6,
    )
    assert (got["src_port"], got["dest_port"], got["duration_s"]) == (46378, 80, 0.254115)
    assert (got["pkts_toserver"], got["pkts_toclient"]) == (6, 4)
    assert (got["bytes_toserver"], got["bytes_toclient"]) == (397, 511)
    assert (got["payload_bytes_toserver"], got["payload_bytes_toclient"]) == (77, 295)
    assert (got["tcp_flags_toserver"], got["tcp_flags_toclient"]) == (0x13, 0x13)
    assert got["end_reason"] == "fin"
    assert got["community_id"] == community_id(6, "192.168.4.76", "31.3.245.133", 46378, 80)
    assert got["syn_count"] is None and got["header_bytes_toserver"] is None


def test_json_and_tsv_agree(tmp_path: Path) -> None:
    a = read_conn_log(write(tmp_path, tsv(row()), "a.log")).to_pylist()[0]
    b = read_conn_log(write(tmp_path, json.dumps(JSON_ROW) + "\n", "b.log")).to_pylist()[0]
    a.pop("uid"), b.pop("uid")
    assert a == b


def test_json_iso_ts_nested_id_and_logged_fields(tmp_path: Path) -> None:
    obj = dict(JSON_ROW, ts="2020-06-05T14:39:59.430166Z", community_id="1:abc=", vlan=42)
    for key in ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"):
        del obj[key]
    obj["id"] = {"orig_h": "192.168.4.76", "orig_p": 46378, "resp_h": "31.3.245.133", "resp_p": 80}
    (got,) = read_conn_log(write(tmp_path, json.dumps(obj) + "\n")).to_pylist()
    assert got["ts"] == datetime(2020, 6, 5, 14, 39, 59, 430166, tzinfo=UTC)
    assert (got["community_id"], got["vlan"], got["src_port"]) == ("1:abc=", 42, 46378)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"proto": "icmp", "id__orig_p": "8", "id__resp_p": "0", "conn_state": "OTH"},
            ("ICMP", 1, 0, 8, 0, "idle"),
        ),
        (
            {
                "proto": "icmp",
                "id__orig_h": "2001:db8::1",
                "id__resp_h": "2001:db8::2",
                "id__orig_p": "128",
                "id__resp_p": "0",
            },
            ("IPv6-ICMP", 58, 0, 128, 0, "idle"),
        ),
        ({"proto": "udp", "conn_state": "SF"}, ("UDP", 17, 46378, -1, -1, "idle")),
        ({"conn_state": "REJ"}, ("TCP", 6, 46378, -1, -1, "rst")),
        ({"conn_state": "S1"}, ("TCP", 6, 46378, -1, -1, "idle")),
        ({"conn_state": "-"}, ("TCP", 6, 46378, -1, -1, "idle")),
    ],
)
def test_proto_icmp_and_end_reason(
    tmp_path: Path, changes: dict[str, str], expected: tuple[object, ...]
) -> None:
    (got,) = read_conn_log(write(tmp_path, tsv(row(**changes)))).to_pylist()
    assert (
        got["proto"],
        got["ip_proto"],
        got["src_port"],
        got["icmp_type"],
        got["icmp_code"],
        got["end_reason"],
    ) == expected


def test_unset_duration_and_bytes(tmp_path: Path) -> None:
    (got,) = read_conn_log(
        write(tmp_path, tsv(row(duration="-", orig_bytes="-", resp_bytes="(empty)", history="-")))
    ).to_pylist()
    assert got["duration_s"] == 0.0
    assert got["payload_bytes_toserver"] is None and got["payload_bytes_toclient"] is None
    assert got["tcp_flags_toserver"] is None


def test_escapes_and_concatenated_logs(tmp_path: Path) -> None:
    text = tsv(row(uid="C\\x09tab")) + tsv(row(uid="Csecond"))
    table = read_conn_log(write(tmp_path, text))
    assert table.column("uid").to_pylist() == ["C\ttab", "Csecond"]


def test_header_only_file_is_an_empty_table(tmp_path: Path) -> None:
    assert read_conn_log(write(tmp_path, tsv())).num_rows == 0


def test_unknown_transport_uses_ip_proto(tmp_path: Path) -> None:
    obj = dict(JSON_ROW, proto="unknown_transport", ip_proto=47, conn_state="OTH")
    (got,) = read_conn_log(write(tmp_path, json.dumps(obj) + "\n")).to_pylist()
    assert (got["proto"], got["ip_proto"], got["src_port"], got["dest_port"]) == ("47", 47, 0, 0)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (tsv(row(), row()[:-1]), 10, "wrong number of fields: 20, expected 21"),
        ("\t".join(row()) + "\n", 1, "expected a '#separator' header or JSON"),
        ("#separator \\x09\n" + "\t".join(row()) + "\n", 2, "before a valid #fields header"),
        (tsv(row(), path="dns"), 5, "not a conn log"),
        (tsv(fields=FIELDS[:5]), 7, "lacks required field"),
        (tsv(row(id__orig_h="300.1.1.1")), 9, "not an IP address"),
        (tsv(row(id__resp_p="70000")), 9, "out of range"),
        (tsv(row(orig_pkts="-")), 9, "missing field 'orig_pkts'"),
        (tsv(row(orig_pkts="x")), 9, "not a count"),
        (tsv(row(ts="yesterday")), 9, "ts"),
        (tsv(row(proto="sctp")), 9, "unsupported proto"),
        (json.dumps(JSON_ROW) + "\n{oops\n", 2, "invalid JSON"),
        (json.dumps(JSON_ROW) + "\n[1]\n", 2, "not an object"),
        (json.dumps(JSON_ROW) + "\n" + json.dumps(dict(JSON_ROW, uid=None)) + "\n", 2, "'uid'"),
        (json.dumps(dict(JSON_ROW, _path="dns")) + "\n", 1, "not a conn record"),
        (json.dumps(dict(JSON_ROW, duration="long")) + "\n", 1, "not a number of seconds"),
        (json.dumps(dict(JSON_ROW, ts=float("nan"))) + "\n", 1, "out of range"),
        (json.dumps(dict(JSON_ROW, **{"id.resp_h": "::1"})) + "\n", 1, "different IP versions"),
    ],
)
def test_bad_input(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        read_conn_log(path)
    assert info.value.line == line
    assert "\n" not in str(info.value)
    log = SkipLog()
    read_conn_log(path, skip_bad=True, skip_log=log)
    assert log.count >= 1 and first_skipped_line(log, path) == line


def test_undecodable_and_empty(tmp_path: Path) -> None:
    path = write(tmp_path, tsv(row()).encode() + b"\xff\xfe\n")
    with pytest.raises(InputError, match="UTF-8"):
        read_conn_log(path)
    log = SkipLog()
    assert read_conn_log(path, skip_bad=True, skip_log=log).num_rows == 1
    assert log.count == 1
    with pytest.raises(InputError, match="empty file"):
        read_conn_log(write(tmp_path, b"", "empty.log"))


# --- golden files -------------------------------------------------------------------------


def golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "input.log").is_file())


@pytest.mark.parametrize("case", golden_cases())
def test_golden(case: str) -> None:
    folder = GOLDEN / case
    table = read_conn_log(folder / "input.log", sensor_id="golden")
    got = [
        {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in r.items()
            if v is not None
        }
        for r in table.to_pylist()
    ]
    expected_path = folder / "expected.json"
    if REGEN:
        expected_path.write_text(json.dumps(got, indent=1) + "\n", encoding="utf-8")
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))

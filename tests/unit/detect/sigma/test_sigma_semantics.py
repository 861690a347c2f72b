"""Sigma semantics on synthetic one-line rules and events (mechanics only, no quality claim)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from swarmguard.detect.sigma import SigmaEngine, UnsupportedRule, alert_from_hit, load_rules
from swarmguard.detect.sigma.ruleset import load_rule_file
from swarmguard.records.log import LogEvent

HEAD = (
    "title: T\nid: 9d3c1a2b-0000-4000-8000-{n:012d}\nlevel: high\n"
    "tags: [attack.execution, attack.t1059.001]\n"
)


def sysmon(event_id: int = 1, **data: object) -> LogEvent:
    raw = {
        "Event": {
            "System": {
                "EventID": event_id,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            },
            "EventData": data,
        }
    }
    return LogEvent(
        ts=datetime(2024, 1, 1, tzinfo=UTC),
        message="m",
        product="windows",
        raw=json.dumps(raw),
        raw_format="evtx",
        source_file="f.json",
        source_line=3,
    )


def fires(
    tmp_path: Path,
    detection: str,
    event: LogEvent,
    logsource: str = "{product: windows, category: process_creation}",
) -> bool:
    path = tmp_path / "r.yml"
    path.write_text(HEAD.format(n=1) + f"logsource: {logsource}\ndetection:\n{detection}")
    engine = SigmaEngine([load_rule_file(path)])
    return bool(engine.match([event]))


CASES = [
    ("  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel", {"Image": "C:\\W\\CMD.EXE"}, True),
    (
        "  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel",
        {"Image": "C:\\cmd.exe.bak"},
        False,
    ),
    ("  sel: {CommandLine|contains|all: [a, b]}\n  condition: sel", {"CommandLine": "xAyBz"}, True),
    ("  sel: {CommandLine|contains|all: [a, b]}\n  condition: sel", {"CommandLine": "xAy"}, False),
    (
        "  sel: {CommandLine|startswith: 'net '}\n  condition: sel",
        {"CommandLine": "NET user"},
        True,
    ),
    ("  sel: {CommandLine|re: '^a.c$'}\n  condition: sel", {"CommandLine": "abc"}, True),
    ("  sel: {CommandLine|re: '^a.c$'}\n  condition: sel", {"CommandLine": "ABC"}, False),
    ("  sel: {CommandLine|re|i: '^a.c$'}\n  condition: sel", {"CommandLine": "ABC"}, True),
    (
        "  sel: {DestinationIp|cidr: 10.0.0.0/8}\n  condition: sel",
        {"DestinationIp": "10.2.3.4"},
        True,
    ),
    (
        "  sel: {DestinationIp|cidr: 10.0.0.0/8}\n  condition: sel",
        {"DestinationIp": "11.0.0.1"},
        False,
    ),
    (
        "  sel: {CommandLine|windash|contains: ' -enc '}\n  condition: sel",
        {"CommandLine": "p /enc x"},
        True,
    ),
    (
        "  sel: {CommandLine|base64offset|contains: 'http://'}\n  condition: sel",
        {"CommandLine": base64.b64encode(b"xx http://evil").decode()},
        True,
    ),
    (
        "  sel: {CommandLine|wide|base64offset|contains: 'iex'}\n  condition: sel",
        {"CommandLine": base64.b64encode("a iex b".encode("utf-16-le")).decode()},
        True,
    ),
    ("  sel: {Hashes|exists: true}\n  condition: sel", {"Hashes": "x"}, True),
    ("  sel: {Hashes|exists: true}\n  condition: sel", {"Other": "x"}, False),
    ("  sel: {Hashes: null}\n  condition: sel", {"Other": "x"}, True),
    ("  sel: {ProcessId|gt: 100}\n  condition: sel", {"ProcessId": 200}, True),
    ("  sel: {ProcessId|lte: 100}\n  condition: sel", {"ProcessId": 200}, False),
    (
        "  sel: {Image|fieldref: ParentImage}\n  condition: sel",
        {"Image": "A", "ParentImage": "a"},
        True,
    ),
    (
        "  sel: {Image|contains: x}\n  f1: {User: sys}\n  condition: sel and not f1",
        {"Image": "x", "User": "SYS"},
        False,
    ),
    ("  s_a: {Image: a}\n  s_b: {Image: b}\n  condition: 1 of s_*", {"Image": "b"}, True),
    ("  s_a: {Image: a}\n  s_b: {User: u}\n  condition: all of s_*", {"Image": "a"}, False),
    (
        "  s_a: {Image: a}\n  s_b: {User: u}\n  condition: all of them",
        {"Image": "a", "User": "u"},
        True,
    ),
    (
        "  a: {Image: a}\n  b: {User: u}\n  c: {User: v}\n  condition: a and (b or c)",
        {"Image": "a", "User": "v"},
        True,
    ),
    ("  kw: ['mimikatz']\n  condition: kw", {"CommandLine": "run MIMIKATZ.exe"}, True),
    ("  sel: [{Image: a}, {User: u}]\n  condition: sel", {"User": "u"}, True),
    ("  sel: {Image: 'c:\\\\a?c.exe'}\n  condition: sel", {"Image": "C:\\abc.exe"}, True),
    ("  sel: {EventID: 1}\n  condition: sel", {"Image": "x"}, True),
]


@pytest.mark.parametrize(("detection", "data", "expected"), CASES)
def test_modifiers_and_conditions(
    tmp_path: Path, detection: str, data: dict[str, object], expected: bool
) -> None:
    assert fires(tmp_path, detection, sysmon(**data)) is expected


def test_logsource_index_keeps_other_categories_out(tmp_path: Path) -> None:
    detection = "  sel: {Image|contains: x}\n  condition: sel"
    assert fires(tmp_path, detection, sysmon(1, Image="x"))
    assert not fires(tmp_path, detection, sysmon(11, Image="x"))  # file_event, not process
    assert fires(
        tmp_path, detection, sysmon(11, Image="x"), "{product: windows, category: file_event}"
    )


def test_security_4688_gets_sysmon_field_names(tmp_path: Path) -> None:
    data = {
        "NewProcessName": "C:\\w\\whoami.exe",
        "ProcessId": "0x64",
        "NewProcessId": "0xc8",
        "ParentProcessName": "C:\\w\\cmd.exe",
        "MandatoryLabel": "S-1-16-12288",
    }
    raw = {"Event": {"System": {"EventID": 4688, "Channel": "Security"}, "EventData": data}}
    event = LogEvent(
        ts=datetime(2024, 1, 1, tzinfo=UTC), message="m", raw=json.dumps(raw), raw_format="evtx"
    )
    detection = (
        "  sel:\n    Image|endswith: '\\\\whoami.exe'\n    ParentImage|endswith: '\\\\cmd.exe'\n"
        "    ProcessId: '0xc8'\n    ParentProcessId: '0x64'\n    IntegrityLevel: S-1-16-12288\n"
        "  condition: sel"
    )
    assert fires(tmp_path, detection, event)
    assert not fires(tmp_path, "  sel: {ProcessId: '0x64'}\n  condition: sel", event)


def test_placeholder_is_a_clear_error_or_counted(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        HEAD.format(n=2) + "logsource: {product: windows}\ndetection:\n"
        "  sel: {Computer|expand: '%dcs%'}\n  condition: sel\n"
    )
    good = tmp_path / "good.yml"
    good.write_text(
        HEAD.format(n=3) + "logsource: {product: windows}\ndetection:\n"
        "  sel: {Computer: a}\n  condition: sel\n"
    )
    with pytest.raises(UnsupportedRule, match="bad.yml: placeholder"):
        load_rules(tmp_path)
    rules, report = load_rules(tmp_path, skip_unsupported=True)
    assert [r.path for r in rules] == [str(good)]
    assert dict(report.skipped) == {"placeholder": 1}


def test_bad_condition_names_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        HEAD.format(n=4) + "logsource: {product: windows}\ndetection:\n"
        "  sel: {Computer: a}\n  condition: sel and missing\n"
    )
    with pytest.raises(UnsupportedRule, match="c.yml: condition"):
        load_rule_file(path)


def test_alert_shape(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(
        HEAD.format(n=5) + "logsource: {product: windows, category: process_creation}"
        "\ndetection:\n  sel: {Image: a}\n  condition: sel\n"
    )
    engine = SigmaEngine([load_rule_file(path)])
    (hit,) = engine.match([sysmon(Image="a")])
    eve = alert_from_hit(hit).to_eve()
    assert eve["event_type"] == "alert"
    assert eve["alert"]["signature"] == "T"
    assert eve["alert"]["severity"] == 1
    assert eve["alert"]["category"] == "execution"
    assert "f.json:3" in eve["evidence"]
    assert eve["alert"]["metadata"]["sigma_id"] == ["9d3c1a2b-0000-4000-8000-000000000005"]
    assert "attack.t1059.001" in eve["alert"]["metadata"]["tags"]
    assert eve["alert"]["signature_id"] < 2**32

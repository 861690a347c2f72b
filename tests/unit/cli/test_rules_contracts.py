"""The rule engine's command lines (CONTRACTS.md), run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SV = REPO.parent / "shared" / "suricata-verify" / "tests"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmguard", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_rules_test_passes_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = _cli("rules-test", str(SV / "bug-1045"), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "pass  check 2" in proc.stdout
    result = json.loads(out.read_text())
    assert result["passed"] and result["alerts"] == 3


def test_rules_test_fails_when_a_check_does_not_hold(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "input.pcap").write_bytes((SV / "tcp-5379" / "input.pcap").read_bytes())
    (folder / "test.rules").write_text('alert tcp any any -> any any (content:"DDD"; sid:1;)\n')
    (folder / "test.yaml").write_text(
        "args:\n- -k none\nchecks:\n- filter:\n    count: 1\n    match:\n"
        "      alert.signature_id: 1\n"
    )
    proc = _cli("rules-test", str(folder))
    assert proc.returncode == 1
    assert "FAIL  check 1: count 0 (expected 1)" in proc.stdout


def test_detect_with_rules_writes_eve(tmp_path: Path, datasets_dir: Path) -> None:
    rules = tmp_path / "r.rules"
    rules.write_text(
        'alert tcp any any -> any 80 (msg:"syn"; flags:S; classtype:attempted-recon; sid:5;)\n'
    )
    eve = tmp_path / "eve.jsonl"
    pcap = datasets_dir / "pcaps" / "esnet" / "nmap" / "nmap_80_all.pcap"
    proc = _cli("detect", "--pcap", str(pcap), "--rules", str(rules), "--eve", str(eve), "-q")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in eve.read_text().splitlines()]
    assert events and all(e["event_type"] == "alert" for e in events)
    first = events[0]
    assert first["proto"] == "TCP" and first["alert"]["signature_id"] == 5
    assert first["alert"]["category"] == "Attempted Information Leak"
    assert {"flow_id", "pcap_cnt", "src_ip", "dest_port"} <= set(first)


def test_unsupported_keyword_is_one_clear_line(tmp_path: Path, datasets_dir: Path) -> None:
    rules = tmp_path / "r.rules"
    rules.write_text(
        "alert tcp any any -> any any (frobnicate:1; sid:11;)\n"
        "alert tcp any any -> any any (flags:S; sid:12;)\n"
    )
    pcap = datasets_dir / "pcaps" / "esnet" / "whois" / "whois.pcap"
    eve = tmp_path / "eve.jsonl"
    proc = _cli("detect", "--pcap", str(pcap), "--rules", str(rules), "--eve", str(eve))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "sid 11" in proc.stderr and "frobnicate" in proc.stderr
    proc = _cli(
        "detect",
        "--pcap",
        str(pcap),
        "--rules",
        str(rules),
        "--eve",
        str(eve),
        "--skip-unsupported",
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 rules loaded, 1 skipped (unsupported keyword 'frobnicate': 1)" in proc.stdout
    assert len(eve.read_text().splitlines()) == 1


def test_detect_defaults_to_the_shipped_rules(tmp_path: Path, datasets_dir: Path) -> None:
    eve = tmp_path / "eve.jsonl"
    pcap = datasets_dir / "pcaps" / "esnet" / "masscan" / "tcp_0_1000_20190821.pcap"
    proc = _cli("detect", "--pcap", str(pcap), "--eve", str(eve), "-q")
    assert proc.returncode == 0, proc.stderr
    sigs = {json.loads(line)["alert"]["signature"] for line in eve.read_text().splitlines()}
    assert any("SCAN" in s for s in sigs)

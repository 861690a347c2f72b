"""The shipped rule set on the public captures: attacks raise the right category, benign none."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from swarmguard.acquire.rawpackets import iter_packets
from swarmguard.cli.detect import default_rules_path
from swarmguard.detect.rules import EngineConfig, RuleEngine, parse_rules
from swarmguard.detect.rules.flowrules import load_flow_rules

DOS = "Attempted Denial of Service"
RECON = "Attempted Information Leak"


def _categories(pcap: Path) -> Counter[str]:
    engine = RuleEngine(parse_rules(default_rules_path()), EngineConfig())
    return Counter(a.alert.category for a in engine.run(iter_packets(pcap)))


@pytest.mark.parametrize(
    ("capture", "category"),
    [
        ("stopddos/pkt.TCP.synflood.spoofed.pcap", DOS),
        ("stopddos/amp.dns.RRSIG.fragmented.pcap", DOS),
        ("stopddos/amp.UDP.snmp.src161.pcapng", DOS),
        ("esnet/nmap/nmap_80_all.pcap", RECON),
        ("esnet/masscan/tcp_0_1000_20190821.pcap", RECON),
    ],
)
def test_attack_captures_raise_the_right_category(
    datasets_dir: Path, capture: str, category: str
) -> None:
    cats = _categories(datasets_dir / "pcaps" / capture)
    assert cats[category] >= 1, cats


def test_benign_whois_capture_raises_nothing(datasets_dir: Path) -> None:
    assert _categories(datasets_dir / "pcaps" / "esnet/whois/whois.pcap") == Counter()


def test_scan_captures_raise_no_dos_alert(datasets_dir: Path) -> None:
    for capture in ("esnet/nmap/nmap_80_all.pcap", "esnet/masscan/tcp_0_1000_20190821.pcap"):
        assert _categories(datasets_dir / "pcaps" / capture)[DOS] == 0


def test_shipped_flow_rules_load() -> None:
    rules = load_flow_rules()
    assert len({r.sid for r in rules}) == len(rules) >= 10

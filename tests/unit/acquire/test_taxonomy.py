"""Label tables: every label in the shared samples and every KDD'99/NSL-KDD name is covered."""

from __future__ import annotations

import pytest

from swarmguard.acquire.datasets.taxonomy import (
    CIC_IDS2017_LABELS,
    NSL_KDD_CATEGORY,
    NSL_KDD_LABELS,
    UNSW_NB15_LABELS,
    map_label,
)
from swarmguard.records.labels import AttackClass as A

TEST_ONLY = [
    "apache2",
    "mailbomb",
    "processtable",
    "udpstorm",
    "mscan",
    "saint",
    "httptunnel",
    "ps",
    "sqlattack",
    "xterm",
    "named",
    "sendmail",
    "snmpgetattack",
    "snmpguess",
    "worm",
    "xlock",
    "xsnoop",
]
TRAIN = [
    "back",
    "land",
    "neptune",
    "pod",
    "smurf",
    "teardrop",
    "ipsweep",
    "nmap",
    "portsweep",
    "satan",
    "ftp_write",
    "guess_passwd",
    "imap",
    "multihop",
    "phf",
    "spy",
    "warezclient",
    "warezmaster",
    "buffer_overflow",
    "loadmodule",
    "perl",
    "rootkit",
]


@pytest.mark.parametrize("name", TRAIN + TEST_ONLY)
def test_every_kdd_attack_is_mapped(name: str) -> None:
    cls = map_label("nsl-kdd", name)
    assert cls is not None and cls.is_attack and cls is not A.UNKNOWN_ATTACK
    assert name in NSL_KDD_CATEGORY


def test_kdd_categories() -> None:
    assert map_label("nsl-kdd", "normal.") is A.BENIGN
    assert map_label("nsl-kdd", "apache2") is A.DOS
    assert map_label("nsl-kdd", "saint") is A.PROBE
    assert map_label("nsl-kdd", "warezclient") is A.REMOTE_ACCESS
    assert map_label("nsl-kdd", "sqlattack") is A.PRIVILEGE_ESCALATION
    assert map_label("nsl-kdd", "guess_passwd") is A.BRUTE_FORCE
    assert map_label("nsl-kdd", "worm") is A.MALWARE
    assert set(NSL_KDD_LABELS) == {"normal", *NSL_KDD_CATEGORY}


@pytest.mark.parametrize(
    "label",
    [
        "Normal",
        "Generic",
        "Exploits",
        "Fuzzers",
        "DoS",
        "Reconnaissance",
        "Analysis",
        "Backdoor",
        "Backdoors",
        "Worms",
        "Shellcode",
    ]
    + [" Fuzzers ", " Reconnaissance "],
)
def test_unsw_labels(label: str) -> None:
    assert map_label("unsw-nb15", label) is not None


CIC_IMPROVED = [
    "BENIGN", "Botnet", "DDoS", "DoS GoldenEye", "DoS Hulk", "DoS Slowhttptest", "DoS Slowloris",
    "FTP-Patator", "Heartbleed", "Infiltration - Portscan", "Infiltration", "Portscan",
    "SSH-Patator", "Web Attack - Brute Force", "Web Attack - SQL Injection", "Web Attack - XSS",
]  # fmt: skip
CIC_ORIGINAL = [
    "BENIGN", "DoS Hulk", "DoS GoldenEye", "DoS slowloris", "DoS Slowhttptest", "DDoS",
    "PortScan", "Bot", "FTP-Patator", "SSH-Patator", "Web Attack \u2013 Brute Force",
    "Web Attack \u2013 XSS", "Web Attack \u2013 Sql Injection", "Infiltration", "Heartbleed",
]  # fmt: skip


@pytest.mark.parametrize("label", CIC_IMPROVED + CIC_ORIGINAL)
def test_cic_labels(label: str) -> None:
    assert map_label("cic-ids2017", label) is not None


def test_cic_vocabularies_agree() -> None:
    assert map_label("cic-ids2017", "Bot") is map_label("cic-ids2017", "Botnet") is A.BOTNET
    assert map_label("cic-ids2017", "PortScan") is map_label("cic-ids2017", "Portscan")
    assert map_label("cic-ids2017", "Web Attack \u2013 XSS") is A.WEB_ATTACK
    assert map_label("cic-ids2017", "FTP-Patator") is A.BRUTE_FORCE
    for attempted in ("Botnet - Attempted", "Web Attack - XSS - Attempted", "DoS Hulk - Attempted"):
        assert map_label("cic-ids2017", attempted) is A.BENIGN
    assert all(v in A for v in CIC_IDS2017_LABELS.values())
    assert set(UNSW_NB15_LABELS.values()) <= set(A)


def test_unknown_and_bad_format() -> None:
    assert map_label("cic-ids2017", "Quantum Attack") is None
    with pytest.raises(ValueError):
        map_label("kdd", "normal")

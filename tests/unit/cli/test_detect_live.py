"""`swarmguard detect --live` runs the rule engine on a real interface (throwaway namespaces)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.net
@pytest.mark.timeout(90)
def test_live_rules_alert_on_ping(netns_pair: tuple[str, str], tmp_path: Path) -> None:
    ns1, ns2 = netns_pair
    iface = "sgv1" + ns1.rsplit("-", 1)[1]
    rules = tmp_path / "ping.rules"
    rules.write_text(
        'alert icmp any any -> $HOME_NET any (msg:"TEST ICMP echo request"; itype:8; '
        "classtype:misc-activity; sid:1000001; rev:1;)\n"
    )
    eve = tmp_path / "alerts.jsonl"
    cmd = [
        "ip", "netns", "exec", ns1, sys.executable, "-m", "swarmguard", "detect",
        "--live", iface, "--duration", "6", "--rules", str(rules), "--eve", str(eve),
    ]  # fmt: skip
    det = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait until the engine is listening: the EVE file is created when inspection starts.
        for _ in range(100):
            if eve.exists() or det.poll() is not None:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        subprocess.run(
            ["ip", "netns", "exec", ns2, "ping", "-c", "3", "-i", "0.2", "-W", "1", "10.213.0.1"],
            check=True,
            capture_output=True,
            timeout=15,
        )
        _, err = det.communicate(timeout=30)
    finally:
        if det.poll() is None:
            det.kill()
            det.wait()
    assert det.returncode == 0, err
    alerts = [json.loads(line) for line in eve.read_text().splitlines()]
    assert len(alerts) >= 1
    assert {a["alert"]["signature_id"] for a in alerts} == {1000001}
    assert all(a["src_ip"] == "10.213.0.2" and a["proto"] == "ICMP" for a in alerts)


def test_live_without_such_interface_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "swarmguard", "detect", "--live", "nope0", "--eve",
         str(tmp_path / "a.jsonl")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "nope0" in lines[0]

"""Live capture: a real capture between two throwaway network namespaces, and the error lines."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from swarmguard.acquire import live
from swarmguard.acquire.live import capture_live
from swarmguard.errors import SwarmguardError

CAPTURE_SCRIPT = """
import json, sys
from swarmguard.acquire.live import capture_live
rows = []
flows = capture_live("{iface}", duration_s=4.0, batch_s=0.5)
sys.stderr.write("ready\\n")
sys.stderr.flush()
for t in flows:
    rows += t.select(["src_ip", "dest_ip", "proto", "pkts_toserver", "pkts_toclient"]).to_pylist()
print(json.dumps(rows))
"""


@pytest.mark.net
@pytest.mark.timeout(60)
def test_capture_sees_ping_between_namespaces(netns_pair: tuple[str, str]) -> None:
    ns1, ns2 = netns_pair
    iface = "sgv1" + ns1.rsplit("-", 1)[1]
    cap = subprocess.Popen(
        ["ip", "netns", "exec", ns1, sys.executable, "-c", CAPTURE_SCRIPT.format(iface=iface)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert cap.stderr is not None
        assert cap.stderr.readline().strip() == "ready"  # the capture socket is open
        subprocess.run(
            ["ip", "netns", "exec", ns2, "ping", "-c", "5", "-i", "0.2", "-W", "1", "10.213.0.1"],
            check=True,
            capture_output=True,
            timeout=15,
        )
        out, err = cap.communicate(timeout=20)
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    assert cap.returncode == 0, err
    rows = json.loads(out)
    icmp = [r for r in rows if r["proto"] == "ICMP"]
    assert icmp, rows
    (flow,) = icmp
    assert (flow["src_ip"], flow["dest_ip"]) == ("10.213.0.2", "10.213.0.1")
    assert (flow["pkts_toserver"], flow["pkts_toclient"]) == (5, 5)


def test_unknown_interface_is_one_line() -> None:
    with pytest.raises(SwarmguardError, match="no network interface named 'nope0'") as err:
        next(capture_live("nope0", duration_s=0.1))
    assert "\n" not in str(err.value)


def test_no_privilege_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(live.socket, "socket", refuse)
    with pytest.raises(
        SwarmguardError, match="run as root or grant .*CAP_NET_RAW|cap_net_raw"
    ) as err:
        next(capture_live("lo", duration_s=0.1))
    assert "\n" not in str(err.value)


@pytest.mark.timeout(60)
def test_no_privilege_as_nobody() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop to nobody")
    script = (
        "from swarmguard.acquire.live import capture_live\n"
        "from swarmguard.errors import SwarmguardError\n"
        "try:\n    next(capture_live('lo', duration_s=0.1))\n"
        "except SwarmguardError as e:\n    print(e)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    res = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=50,
        env=env,
        cwd="/",
    )
    if "Permission denied" in res.stderr and "python" in res.stderr.lower():
        pytest.skip(f"nobody cannot run this interpreter: {res.stderr.strip()[:200]}")
    assert res.returncode == 0, res.stderr
    line = res.stdout.strip()
    assert "needs privilege" in line and "CAP_NET_RAW".lower() in line.lower()
    assert "\n" not in line

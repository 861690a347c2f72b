"""Benign users: browse, log in over SSH, fetch files by FTP and resolve names, as JSON lines.

Runs inside one host's namespace as a script (standard library only)::

    python benign.py CONFIG.json

The configuration names the user, zone, seed, an end time, the log file and the activities
(``kind``, ``target`` name, ``ip``, ``per_min``). Each activity's requests arrive as a Poisson
process with its mean rate; every request writes one line::

    {"ts", "user", "zone", "kind", "target", "ok", "error", "src_ip", "dst_ip", "dst_port",
     "ms"}

>>> rec = request("telnet", "10.209.0.99", {})   # unknown kinds fail without sending
>>> rec["ok"], rec["error"]
(False, 'ValueError: unknown kind telnet')
"""

from __future__ import annotations

import ftplib
import json
import random
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["PORTS", "main", "request"]

PORTS = {"browse": 80, "ssh": 22, "ftp": 21, "dns": 53}
"""The service port of each kind of request."""
PAGES = ["/", "/about.html", "/news/0.html", "/news/1.html", "/news/2.html", "/news/3.html"]


def _dns(ip: str, name: str, timeout: float) -> None:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    qid = random.randrange(65536)
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0\0\x01\0\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(query, (ip, 53))
        answer = sock.recv(512)
    _, flags, _, ancount = struct.unpack("!HHHH", answer[:8])
    if flags & 0x000F or ancount == 0:
        raise OSError(f"dns rcode {flags & 0x000F}, {ancount} answers")


def _ssh(ip: str, opts: dict[str, Any], timeout: float) -> None:
    args = [
        "ssh", "-F", "/dev/null", "-i", str(opts["key"]), "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-o", f"ConnectTimeout={int(timeout)}", f"{opts['user']}@{ip}", "true",
    ]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 5, check=False)
    if res.returncode != 0:
        raise OSError(res.stderr.strip()[:200] or f"ssh exit {res.returncode}")


def _ftp(ip: str, timeout: float) -> None:
    with ftplib.FTP(ip, timeout=timeout) as ftp:
        ftp.login()
        chunks: list[bytes] = []
        ftp.retrbinary("RETR pub/readme.txt", chunks.append)
        if not chunks:
            raise OSError("empty file")


def _browse(ip: str, timeout: float) -> None:
    url = f"http://{ip}{random.choice(PAGES)}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        if resp.status != 200 or not resp.read():
            raise OSError(f"HTTP {resp.status}")


def request(kind: str, ip: str, opts: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Make one request of ``kind`` to ``ip``; the log record (without user and zone)."""
    start = time.time()
    error = ""
    try:
        if kind == "browse":
            _browse(ip, timeout)
        elif kind == "dns":
            _dns(ip, str(opts.get("name", "srv1.campus")), timeout)
        elif kind == "ssh":
            _ssh(ip, opts, timeout)
        elif kind == "ftp":
            _ftp(ip, timeout)
        else:
            raise ValueError(f"unknown kind {kind}")
    except Exception as exc:  # noqa: BLE001 - every failure is logged, none stops the user
        error = f"{type(exc).__name__}: {exc}"[:240]
    return {
        "ts": round(start, 6),
        "kind": kind,
        "ok": not error,
        "error": error or None,
        "dst_ip": ip,
        "dst_port": PORTS.get(kind),
        "ms": round((time.time() - start) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the user described by the JSON file in ``argv[0]`` until its end time."""
    cfg = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    rng = random.Random(int(cfg["seed"]))
    random.seed(int(cfg["seed"]) + 1)
    end = float(cfg["until"])
    acts = cfg["activities"]
    due = [time.time() + rng.expovariate(a["per_min"] / 60.0) for a in acts]
    with Path(cfg["log"]).open("a", encoding="utf-8") as log:
        while True:
            i = min(range(len(acts)), key=due.__getitem__)
            if due[i] >= end:
                return 0
            time.sleep(max(0.0, due[i] - time.time()))
            act = acts[i]
            rec = request(act["kind"], act["ip"], act)
            rec = {"ts": rec.pop("ts"), "user": cfg["user"], "zone": cfg["zone"],
                   "kind": act["kind"], "target": act["target"], **rec,
                   "src_ip": cfg["src_ip"]}  # fmt: skip
            log.write(json.dumps(rec) + "\n")
            log.flush()
            due[i] = max(due[i], time.time()) + rng.expovariate(act["per_min"] / 60.0)


if __name__ == "__main__":
    sys.exit(main())

"""The simulated internet's protocol pieces: DNS answers, HTTP heads, the certificate."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

from swarmguard.acquire.sandbox.internet import (
    build_dns_query,
    dns_reply,
    ensure_certificate,
    parse_dns_question,
    parse_http_head,
)


def test_dns_reply_gives_every_name_the_sinkhole() -> None:
    for name in ("a.example", "x.y.z.very-long-name.example", "localhost"):
        query = build_dns_query(name, qtype=1, txid=0x1234)
        reply = dns_reply(query, "10.240.1.1")
        txid, flags, qd, an = struct.unpack_from("!HHHH", reply)
        assert (txid, flags & 0x8000, qd, an) == (0x1234, 0x8000, 1, 1)
        assert socket.inet_ntoa(reply[-4:]) == "10.240.1.1"
        assert parse_dns_question(reply)[1] == name


def test_dns_other_types_get_no_address() -> None:
    reply = dns_reply(build_dns_query("a.example", qtype=28), "10.240.1.1")
    assert struct.unpack_from("!H", reply, 6)[0] == 0  # AAAA: no answer, no error
    txt = dns_reply(build_dns_query("a.example", qtype=16), "10.240.1.1")
    assert txt.endswith(b"\x02ok")


@pytest.mark.parametrize("packet", [b"", b"\x00" * 11, b"\x00" * 12, b"\x00" * 12 + b"\x05ab"])
def test_bad_dns_packets_raise(packet: bytes) -> None:
    with pytest.raises(ValueError):
        parse_dns_question(packet)


def test_http_head() -> None:
    method, path, host, headers = parse_http_head(
        b"GET /a?b=1 HTTP/1.1\r\nHost: c2.example:8080\r\nUser-Agent: x\r\n"
    )
    assert (method, path, host, headers["user-agent"]) == ("GET", "/a?b=1", "c2.example:8080", "x")


def test_certificate_made_once(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path)
    first = cert.read_bytes()
    assert b"BEGIN CERTIFICATE" in first and b"PRIVATE KEY" in key.read_bytes()
    assert ensure_certificate(tmp_path)[0].read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sinkhole.crt", "sinkhole.key"]

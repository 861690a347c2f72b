r"""The simulated internet: sinkhole DNS and catch-all services that log every request.

In the spirit of INetSim, one process inside a detonation's "internet" namespace answers
whatever a sample tries: DNS gives every name the sinkhole address; HTTP (80, and any port
whose first bytes look like HTTP), HTTPS (443, a self-signed certificate), SMTP (25) and FTP
(21) speak just enough of their protocol to keep a client talking; every other TCP port is
redirected, and every other UDP port diverted with tproxy (nftables, inside the namespace), to
catch-alls that log the original destination (``dst``) and the first bytes.
Every request becomes one JSON line in the log (``service``, ``src``, ``ts`` and the service's
own fields). Standard library only (``cryptography`` for the certificate), so it starts fast.

Run as ``python -m swarmguard.acquire.sandbox.internet --log FILE --sinkhole IP --cert-dir DIR``;
it prints ``ready`` once every listener is bound.

Examples
--------
>>> query = build_dns_query("evil.example", qtype=1, txid=7)
>>> parse_dns_question(query)
(7, 'evil.example', 1)
>>> reply = dns_reply(query, "10.240.0.1")
>>> reply[-4:] == bytes([10, 240, 0, 1])
True
>>> parse_http_head(b"POST /up HTTP/1.1\r\nHost: c2.example\r\nContent-Length: 3\r\n\r\n")
('POST', '/up', 'c2.example', {'host': 'c2.example', 'content-length': '3'})
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import socket
import ssl
import struct
import sys
from pathlib import Path
from typing import Any, TextIO, cast

__all__ = [
    "CATCHALL_TCP",
    "CATCHALL_UDP",
    "SERVICE_PORTS",
    "build_dns_query",
    "dns_reply",
    "ensure_certificate",
    "main",
    "parse_dns_question",
    "parse_http_head",
]

#: Ports with a protocol speaker; every other port goes to the catch-alls.
SERVICE_PORTS = {"ftp": 21, "smtp": 25, "dns": 53, "http": 80, "https": 443}
CATCHALL_TCP = 9999
CATCHALL_UDP = 9998
_SO_ORIGINAL_DST = 80
_IP_TRANSPARENT = 19
_IP_RECVORIGDSTADDR = 20  # also the type of its IP_ORIGDSTADDR message
_HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ")
_MAX_HEAD = 64 << 10
_MAX_BODY = 1 << 20
_IDLE_S = 5.0


def build_dns_query(name: str, *, qtype: int = 1, txid: int = 0) -> bytes:
    """A DNS query packet for ``name`` (used by tests and samples)."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".") if p)
    return (
        struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack("!HH", qtype, 1)
    )


def parse_dns_question(packet: bytes) -> tuple[int, str, int]:
    """Return (transaction id, queried name, query type) of a DNS query.

    Raises
    ------
    ValueError
        If the packet is not a query with one readable question.
    """
    if len(packet) < 12:
        raise ValueError("DNS packet shorter than its header")
    txid, _flags, qd = struct.unpack_from("!HHH", packet)
    if qd < 1:
        raise ValueError("DNS packet without a question")
    pos = 12
    labels: list[str] = []
    while True:
        if pos >= len(packet):
            raise ValueError("DNS name runs past the packet")
        n = packet[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(packet[pos + 1 : pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    if pos + 4 > len(packet):
        raise ValueError("DNS question cut short")
    (qtype,) = struct.unpack_from("!H", packet, pos)
    return txid, ".".join(labels), qtype


def dns_reply(query: bytes, sinkhole: str) -> bytes:
    """Answer a query: an A record with the sinkhole for A, TXT "ok" for TXT, else no data."""
    _txid, _name, qtype = parse_dns_question(query)
    end = 12
    while query[end] != 0:
        end += 1 + query[end]
    question = query[12 : end + 5]
    answer = b""
    if qtype == 1:
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(sinkhole)
    elif qtype == 16:
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, 3) + b"\x02ok"
    header = query[:2] + struct.pack("!HHHHH", 0x8180, 1, 1 if answer else 0, 0, 0)
    return header + question + answer


def parse_http_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Return (method, path, host, headers with lower-case names) of an HTTP request head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method = parts[0] if parts else ""
    path = parts[1] if len(parts) > 1 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return method, path, headers.get("host", ""), headers


def ensure_certificate(cert_dir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for any name (made once per directory); return (cert, key)."""
    cert_path, key_path = cert_dir / "sinkhole.crt", cert_dir / "sinkhole.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sinkhole.swarmguard")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("*")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_dir.mkdir(parents=True, exist_ok=True)
    tag = f".{os.getpid()}.tmp"
    tmp_key, tmp_cert = key_path.with_suffix(f".key{tag}"), cert_path.with_suffix(f".crt{tag}")
    tmp_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tmp_key.replace(key_path)
    tmp_cert.replace(cert_path)
    return cert_path, key_path


class _Log:
    def __init__(self, fh: TextIO) -> None:
        self.fh = fh

    def write(self, service: str, src: tuple[str, int] | None, **fields: Any) -> None:
        record = {
            "ts": dt.datetime.now(dt.UTC).isoformat(),
            "service": service,
            "src": f"{src[0]}:{src[1]}" if src else None,
            **fields,
        }
        self.fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.fh.flush()


def _original_dst(writer: asyncio.StreamWriter) -> str | None:
    sock = writer.get_extra_info("socket")
    try:
        raw = sock.getsockopt(socket.SOL_IP, _SO_ORIGINAL_DST, 16)
    except OSError:
        return None
    port = struct.unpack("!H", raw[2:4])[0]
    return f"{socket.inet_ntoa(raw[4:8])}:{port}"


async def _read_head(reader: asyncio.StreamReader, first: bytes = b"") -> bytes:
    data = first
    while b"\r\n\r\n" not in data and len(data) < _MAX_HEAD:
        more = await asyncio.wait_for(reader.read(4096), _IDLE_S)
        if not more:
            break
        data += more
    return data


async def _serve_http(
    log: _Log,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    service: str,
    first: bytes = b"",
    dst: str | None = None,
) -> None:
    src = writer.get_extra_info("peername")
    data = first
    while True:
        data = await _read_head(reader, data)
        if b"\r\n\r\n" not in data:
            return
        head, rest = data.split(b"\r\n\r\n", 1)
        method, path, host, headers = parse_http_head(head)
        length = min(int(headers.get("content-length", "0") or 0), _MAX_BODY)
        while len(rest) < length:
            more = await asyncio.wait_for(reader.read(65536), _IDLE_S)
            if not more:
                break
            rest += more
        body, data = rest[:length], rest[length:]
        log.write(
            service,
            src,
            method=method,
            host=host,
            path=path,
            dst=dst,
            user_agent=headers.get("user-agent", ""),
            body_bytes=len(body),
            body_head=body[:64].decode("latin-1"),
        )
        payload = b"<html><body>ok</body></html>\n"
        writer.write(
            b"HTTP/1.1 200 OK\r\nServer: sinkhole\r\nContent-Type: text/html\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + (payload if method != "HEAD" else b"")
        )
        await writer.drain()
        if headers.get("connection", "").lower() == "close":
            return


async def _serve_smtp(
    log: _Log, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    src = writer.get_extra_info("peername")
    writer.write(b"220 sinkhole ESMTP\r\n")
    await writer.drain()
    while line := await asyncio.wait_for(reader.readline(), _IDLE_S):
        text = line.decode("latin-1").strip()
        verb = text.split(" ", 1)[0].upper()
        log.write("smtp", src, command=verb, argument=text[len(verb) :].strip()[:200])
        if verb == "DATA":
            writer.write(b"354 end with .\r\n")
            await writer.drain()
            size = 0
            while (chunk := await asyncio.wait_for(reader.readline(), _IDLE_S)) not in (
                b".\r\n",
                b".\n",
                b"",
            ):
                size += len(chunk)
            log.write("smtp", src, command="MESSAGE", argument="", bytes=size)
            writer.write(b"250 queued\r\n")
        elif verb == "QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()


async def _serve_ftp(log: _Log, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    src = writer.get_extra_info("peername")
    writer.write(b"220 sinkhole FTP\r\n")
    await writer.drain()
    user = ""
    while line := await asyncio.wait_for(reader.readline(), _IDLE_S):
        text = line.decode("latin-1").strip()
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        if verb == "USER":
            user = arg
            writer.write(b"331 password required\r\n")
        elif verb == "PASS":
            log.write("ftp", src, command="LOGIN", user=user, password=arg[:100])
            writer.write(b"530 login incorrect\r\n")
        elif verb == "QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            log.write("ftp", src, command=verb, user=user, password="")
            writer.write(b"502 not implemented\r\n")
        await writer.drain()


async def _serve_tcp_catchall(
    log: _Log, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    src = writer.get_extra_info("peername")
    dst = _original_dst(writer)
    try:
        first = await asyncio.wait_for(reader.read(4096), 2.0)
    except TimeoutError:
        first = b""
    if first.startswith(_HTTP_METHODS):
        await _serve_http(log, reader, writer, "http", first, dst)
        return
    log.write("tcp", src, dst=dst, bytes=len(first), head=first[:64].hex())


def _handler(log: _Log, kind: str) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if kind in ("http", "https"):
                await _serve_http(log, reader, writer, kind)
            elif kind == "smtp":
                await _serve_smtp(log, reader, writer)
            elif kind == "ftp":
                await _serve_ftp(log, reader, writer)
            else:
                await _serve_tcp_catchall(log, reader, writer)
        except (TimeoutError, ConnectionError, ssl.SSLError, ValueError, OSError):
            pass  # a client that stops talking or hangs up: its requests are already logged
        finally:
            writer.close()

    return handle


class _Dns(asyncio.DatagramProtocol):
    def __init__(self, log: _Log, sinkhole: str) -> None:
        self.log = log
        self.sinkhole = sinkhole
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        src = (str(addr[0]), int(addr[1]))
        try:
            _txid, name, qtype = parse_dns_question(data)
            reply = dns_reply(data, self.sinkhole)
        except (ValueError, IndexError) as exc:
            self.log.write("dns", src, error=str(exc), bytes=len(data))
            return
        self.log.write("dns", src, qname=name, qtype=qtype)
        assert self.transport is not None
        self.transport.sendto(reply, addr)


def _udp_catchall(log: _Log) -> socket.socket:
    """The UDP catch-all: transparent, so tproxy can hand it any port, with original addresses."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):  # without tproxy: redirected, no address
        sock.setsockopt(socket.SOL_IP, _IP_TRANSPARENT, 1)
    sock.setsockopt(socket.SOL_IP, _IP_RECVORIGDSTADDR, 1)
    sock.bind(("0.0.0.0", CATCHALL_UDP))
    sock.setblocking(False)
    return sock


def _read_udp_catchall(log: _Log, sock: socket.socket) -> None:
    while True:
        try:
            data, ancillary, _flags, addr = sock.recvmsg(65536, 64)
        except (BlockingIOError, InterruptedError):
            return
        dst = None
        for level, kind, raw in ancillary:
            if level == socket.SOL_IP and kind == _IP_RECVORIGDSTADDR and len(raw) >= 8:
                dst = f"{socket.inet_ntoa(raw[4:8])}:{struct.unpack('!H', raw[2:4])[0]}"
        if dst is not None and dst.endswith(f":{CATCHALL_UDP}"):
            dst = None  # redirected (no tproxy): the original address is not known
        log.write(
            "udp", (str(addr[0]), int(addr[1])), dst=dst, bytes=len(data), head=data[:64].hex()
        )


async def _serve(log: _Log, sinkhole: str, cert_dir: Path) -> None:
    loop = asyncio.get_running_loop()
    cert, key = ensure_certificate(cert_dir)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    servers = [
        await asyncio.start_server(_handler(log, "http"), "0.0.0.0", SERVICE_PORTS["http"]),
        await asyncio.start_server(
            _handler(log, "https"), "0.0.0.0", SERVICE_PORTS["https"], ssl=tls
        ),
        await asyncio.start_server(_handler(log, "smtp"), "0.0.0.0", SERVICE_PORTS["smtp"]),
        await asyncio.start_server(_handler(log, "ftp"), "0.0.0.0", SERVICE_PORTS["ftp"]),
        await asyncio.start_server(_handler(log, "tcp"), "0.0.0.0", CATCHALL_TCP),
    ]
    await loop.create_datagram_endpoint(
        lambda: _Dns(log, sinkhole), local_addr=("0.0.0.0", SERVICE_PORTS["dns"])
    )
    udp = _udp_catchall(log)
    loop.add_reader(udp.fileno(), _read_udp_catchall, log, udp)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str] | None = None) -> None:
    """Run the services until killed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--sinkhole", required=True)
    parser.add_argument("--cert-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    with args.log.open("a", encoding="utf-8") as fh:
        asyncio.run(_serve(_Log(fh), args.sinkhole, args.cert_dir))


if __name__ == "__main__":
    main()

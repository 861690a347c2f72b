r"""A small incremental HTTP/1.x parser that fills the buffers HTTP rule keywords inspect.

Each flow's two directions are fed in order (requests to the server, responses to the
client); requests and responses pair up into transactions (``HttpTx``) in arrival order.
Bodies follow ``Content-Length`` or chunked coding (responses without either run to the end of
the connection). ``buffer`` returns what a sticky buffer sees: ``http.uri`` is normalised as
libhtp does by default (percent-decoding, ``//`` and ``./`` / ``../`` segments resolved,
scheme and host of an absolute URI removed); ``http.header`` is ``Name: value\r\n`` per header
without cookies; ``http.host`` is lower-case without the port.

Example
-------
>>> h = HttpState()
>>> h.feed(True, b"GET /a/%41b/../c?x=1 HTTP/1.1\r\nHost: Ex.org:80\r\nUser-Agent: t\r\n\r\n")
[0]
>>> tx = h.txs[0]
>>> tx.buffer("http.uri"), tx.buffer("http.host"), tx.buffer("http.header")
(b'/a/c?x=1', b'ex.org', b'Host: Ex.org:80\r\nUser-Agent: t\r\n')
>>> h.feed(False, b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc")
[0]
>>> tx.status, tx.buffer("http.response_body")
(404, b'abc')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

__all__ = [
    "HTTP_METHODS",
    "TOCLIENT_BUFFERS",
    "TOSERVER_BUFFERS",
    "HttpState",
    "HttpTx",
    "looks_like_request",
    "looks_like_response",
]

HTTP_METHODS = (
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
)
TOSERVER_BUFFERS = frozenset(
    {
        "http.uri",
        "http.uri.raw",
        "http.method",
        "http.host",
        "http.host.raw",
        "http.request_body",
        "http.user_agent",
        "http.request_line",
        "http.referer",
    }
)
TOCLIENT_BUFFERS = frozenset(
    {"http.stat_code", "http.stat_msg", "http.response_body", "http.response_line"}
)
_MAX_BODY = 1 << 20


def looks_like_request(data: bytes) -> bool:
    """Whether ``data`` starts like an HTTP request line."""
    head = data.lstrip(b"\r\n")[:12]
    return any(head.startswith(m + b" ") for m in HTTP_METHODS)


def looks_like_response(data: bytes) -> bool:
    """Whether ``data`` starts like an HTTP response status line."""
    return data.lstrip(b"\r\n").startswith(b"HTTP/")


@dataclass
class HttpTx:
    """One request and (when seen) its response."""

    tx_id: int
    method: bytes = b""
    uri_raw: bytes = b""
    protocol: bytes = b""
    request_line: bytes = b""
    request_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    request_headers_raw: bytes = b""
    request_body: bytearray = field(default_factory=bytearray)
    request_done: bool = False
    response_protocol: bytes = b""
    status: int | None = None
    stat_msg: bytes = b""
    response_line: bytes = b""
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_headers_raw: bytes = b""
    response_body: bytearray = field(default_factory=bytearray)
    response_body_len: int = 0
    response_done: bool = False
    has_request: bool = False
    has_response: bool = False

    def header(self, name: bytes, to_server: bool = True) -> bytes | None:
        """The first value of header ``name`` (case-insensitive) in one direction."""
        want = name.lower()
        for k, val in self.request_headers if to_server else self.response_headers:
            if k.lower() == want:
                return val
        return None

    def buffer(self, name: str, to_server: bool = True) -> bytes | None:
        """The bytes a sticky buffer sees, or None when the transaction lacks it."""
        if name == "http.uri":
            return normalize_uri(self.uri_raw) if self.has_request else None
        if name == "http.uri.raw":
            return self.uri_raw if self.has_request else None
        if name == "http.method":
            return self.method if self.has_request else None
        if name == "http.protocol":
            return self.protocol if to_server else self.response_protocol
        if name == "http.request_line":
            return self.request_line if self.has_request else None
        if name == "http.response_line":
            return self.response_line if self.has_response else None
        if name == "http.stat_code":
            return str(self.status).encode() if self.status is not None else None
        if name == "http.stat_msg":
            return self.stat_msg if self.has_response else None
        if name == "http.host":
            host = self.hostname()
            return host.encode() if host else None
        if name == "http.host.raw":
            return self.header(b"host")
        if name == "http.user_agent":
            return self.header(b"user-agent")
        if name == "http.referer":
            return self.header(b"referer")
        if name == "http.content_type":
            return self.header(b"content-type", to_server)
        if name == "http.cookie":
            return self.header(b"cookie" if to_server else b"set-cookie", to_server)
        if name == "http.header":
            headers = self.request_headers if to_server else self.response_headers
            skip = b"cookie" if to_server else b"set-cookie"
            text = b"".join(k + b": " + v + b"\r\n" for k, v in headers if k.lower() != skip)
            return text if headers else None
        if name == "http.header.raw":
            raw = self.request_headers_raw if to_server else self.response_headers_raw
            return raw or None
        if name == "http.request_body":
            return bytes(self.request_body) if self.request_body else None
        if name == "http.response_body":
            return bytes(self.response_body) if self.response_body else None
        return None

    def hostname(self) -> str | None:
        """Normalised host: from an absolute URI, else the Host header; lower-case, no port."""
        m = re.match(rb"[a-zA-Z][a-zA-Z0-9+.-]*://([^/:?#]+)", self.uri_raw)
        raw = m.group(1) if m else self.header(b"host")
        if raw is None:
            return None
        host = raw.strip()
        if host.startswith(b"["):
            host = host[1 : host.find(b"]")] if b"]" in host else host
        elif host.count(b":") == 1:
            host = host.split(b":", 1)[0]
        return host.lower().decode("latin-1")


def normalize_uri(raw: bytes) -> bytes:
    """libhtp-style normalised request URI (path and query).

    >>> normalize_uri(b"http://h/a//b/./c/../d%20e")
    b'/a/b/d e'
    """
    uri = raw
    m = re.match(rb"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*", uri)
    if m:
        uri = uri[m.end() :] or b"/"
    path, sep, query = uri.partition(b"?")
    path = unquote_to_bytes(path)
    if path.startswith(b"/"):
        path = re.sub(rb"/{2,}", b"/", path)
        out: list[bytes] = []
        for seg in path.split(b"/")[1:]:
            if seg == b".":
                continue
            if seg == b"..":
                if out:
                    out.pop()
                continue
            out.append(seg)
        trailing = path.endswith((b"/.", b"/..")) and out
        path = b"/" + b"/".join(out) + (b"/" if trailing else b"")
    return path + sep + unquote_to_bytes(query) if sep else path


@dataclass
class _Side:
    buf: bytearray = field(default_factory=bytearray)
    state: str = "line"  # line, headers, body, chunk_size, chunk_data, chunk_trailer, eof_body
    remaining: int = 0
    tx_index: int = 0
    header_start: int = 0
    failed: bool = False


class HttpState:
    """The HTTP transactions of one flow, fed one direction at a time."""

    def __init__(self) -> None:
        self.txs: list[HttpTx] = []
        self._req = _Side()
        self._resp = _Side()

    def feed(self, to_server: bool, data: bytes) -> list[int]:
        """Parse more bytes of one direction; return the indexes of transactions that moved."""
        side = self._req if to_server else self._resp
        if side.failed or not data:
            return []
        side.buf += data
        touched: list[int] = []
        while True:
            idx = self._step(side, to_server)
            if idx is None:
                break
            if idx >= 0 and (not touched or touched[-1] != idx):
                touched.append(idx)
        return touched

    def close(self, to_server: bool) -> list[int]:
        """End of one direction: finish a body that runs to the end of the connection."""
        side = self._req if to_server else self._resp
        if side.state == "eof_body" and side.tx_index < len(self.txs):
            self.txs[side.tx_index].response_done = True
            return [side.tx_index]
        return []

    def _tx(self, side: _Side, to_server: bool) -> HttpTx:
        while side.tx_index >= len(self.txs):
            self.txs.append(HttpTx(len(self.txs)))
        return self.txs[side.tx_index]

    def _step(self, side: _Side, to_server: bool) -> int | None:
        buf = side.buf
        if side.state == "line":
            while buf[:2] == b"\r\n" or buf[:1] == b"\n":
                del buf[: 2 if buf[:1] == b"\r" else 1]
            eol = buf.find(b"\n")
            if eol < 0:
                if len(buf) > 8192:
                    side.failed = True
                return None
            line = bytes(buf[:eol]).rstrip(b"\r")
            del buf[: eol + 1]
            tx = self._tx(side, to_server)
            if to_server:
                parts = line.split(b" ")
                parts = [p for p in parts if p]
                if len(parts) < 2:
                    side.failed = True
                    return None
                tx.method, tx.uri_raw = parts[0], parts[1]
                tx.protocol = parts[2] if len(parts) > 2 else b""
                tx.request_line, tx.has_request = line, True
            else:
                m = re.match(rb"(HTTP/\S+)\s+(\d{3})\s*(.*)", line)
                if not m:
                    side.failed = True
                    return None
                tx.response_protocol = m.group(1)
                tx.status, tx.stat_msg = int(m.group(2)), m.group(3)
                tx.response_line, tx.has_response = line, True
            side.state = "headers"
            side.header_start = 0
            return tx.tx_id
        if side.state == "headers":
            end = buf.find(b"\r\n\r\n")
            alt = buf.find(b"\n\n")
            cut, skip = (end, 4) if end >= 0 and (alt < 0 or end <= alt) else (alt, 2)
            if buf[:2] == b"\r\n":
                cut, skip = 0, 2
            elif buf[:1] == b"\n":
                cut, skip = 0, 1
            if cut < 0:
                if len(buf) > 65536:
                    side.failed = True
                return None
            raw = bytes(buf[: cut + skip])
            del buf[: cut + skip]
            tx = self._tx(side, to_server)
            headers = _parse_headers(raw)
            if to_server:
                tx.request_headers, tx.request_headers_raw = headers, raw
            else:
                tx.response_headers, tx.response_headers_raw = headers, raw
            self._start_body(side, tx, to_server)
            return tx.tx_id
        tx = self._tx(side, to_server)
        if side.state == "body":
            if not buf:
                return None
            take = bytes(buf[: side.remaining])
            del buf[: len(take)]
            side.remaining -= len(take)
            self._body(tx, to_server, take)
            if side.remaining == 0:
                self._done(side, tx, to_server)
            return tx.tx_id
        if side.state == "eof_body":
            if not buf:
                return None
            self._body(tx, to_server, bytes(buf))
            buf.clear()
            return tx.tx_id
        if side.state == "chunk_size":
            eol = buf.find(b"\n")
            if eol < 0:
                return None
            size_text = bytes(buf[:eol]).split(b";", 1)[0].strip()
            del buf[: eol + 1]
            try:
                size = int(size_text, 16)
            except ValueError:
                side.failed = True
                return None
            if size == 0:
                side.state = "chunk_trailer"
            else:
                side.state, side.remaining = "chunk_data", size
            return -1
        if side.state == "chunk_data":
            if not buf:
                return None
            take = bytes(buf[: side.remaining])
            del buf[: len(take)]
            side.remaining -= len(take)
            self._body(tx, to_server, take)
            if side.remaining == 0:
                side.state = "chunk_crlf"
            return tx.tx_id
        if side.state == "chunk_crlf":
            eol = buf.find(b"\n")
            if eol < 0:
                return None
            del buf[: eol + 1]
            side.state = "chunk_size"
            return -1
        if side.state == "chunk_trailer":
            eol = buf.find(b"\n")
            if eol < 0:
                return None
            line = bytes(buf[:eol]).strip()
            del buf[: eol + 1]
            if not line:
                self._done(side, tx, to_server)
                return tx.tx_id
            return -1
        return None

    def _start_body(self, side: _Side, tx: HttpTx, to_server: bool) -> None:
        headers = tx.request_headers if to_server else tx.response_headers
        te = next((v for k, v in headers if k.lower() == b"transfer-encoding"), b"")
        cl = next((v for k, v in headers if k.lower() == b"content-length"), None)
        no_body = not to_server and (
            tx.method == b"HEAD" or tx.status in (204, 304) or (tx.status or 0) < 200
        )
        if no_body:
            self._done(side, tx, to_server)
        elif b"chunked" in te.lower():
            side.state = "chunk_size"
        elif cl is not None:
            try:
                side.remaining = int(cl.strip())
            except ValueError:
                side.remaining = 0
            if side.remaining <= 0:
                self._done(side, tx, to_server)
            else:
                side.state = "body"
        elif to_server:
            self._done(side, tx, to_server)
        else:
            side.state = "eof_body"

    def _body(self, tx: HttpTx, to_server: bool, data: bytes) -> None:
        body = tx.request_body if to_server else tx.response_body
        if len(body) < _MAX_BODY:
            body += data[: _MAX_BODY - len(body)]
        if not to_server:
            tx.response_body_len += len(data)

    def _done(self, side: _Side, tx: HttpTx, to_server: bool) -> None:
        if to_server:
            tx.request_done = True
        else:
            tx.response_done = True
        side.state = "line"
        side.tx_index += 1


def _parse_headers(raw: bytes) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    for line in raw.replace(b"\r\n", b"\n").split(b"\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:
            k, v = headers[-1]
            headers[-1] = (k, v + b" " + line.strip())
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        headers.append((name.strip(), value.strip()))
    return headers

r"""Parse Snort / Suricata rules, and print them back.

``parse_rule`` turns one rule line into a ``Rule``; ``parse_rules`` reads a rules file (comments,
blank lines and lines continued with a backslash are handled) and ``format_rule`` prints a rule
back in the same syntax. Anything not understood raises ``RuleError`` naming the file, line,
sid and keyword; with ``skip_unsupported=True`` such rules are left out and listed in a
``RuleLoadReport`` with their reasons.

Examples
--------
>>> r = parse_rule('alert tcp any any -> $HOME_NET 80 (msg:"x"; content:"GET|20|"; '
...                'nocase; depth:4; sid:7; rev:2;)')
>>> r.sid, r.rev, r.matches["pkt"][0].pattern, r.matches["pkt"][0].depth
(7, 2, b'GET ', 4)
>>> parse_rule(format_rule(r)).matches == r.matches
True
>>> parse_rule('alert tcp any any -> any any (foo:1; sid:9;)')
Traceback (most recent call last):
...
swarmguard.detect.rules.model.RuleError: rule sid 9, keyword 'foo': unsupported keyword
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from swarmguard.detect.rules.model import (
    PAYLOAD,
    Content,
    FlowbitOp,
    FlowOption,
    IntTest,
    IsDataAt,
    Pcre,
    Rule,
    RuleError,
    Threshold,
)
from swarmguard.detect.rules.variables import RuleVars, VariableError, parse_addresses, parse_ports

__all__ = [
    "SUPPORTED_KEYWORDS",
    "RuleLoadReport",
    "format_rule",
    "parse_content",
    "parse_rule",
    "parse_rules",
    "parse_rules_text",
]

ACTIONS = {"alert", "pass", "drop", "reject", "rejectsrc", "rejectdst", "rejectboth", "log"}
PROTOCOLS = {"ip", "tcp", "udp", "icmp", "http", "pkthdr", "tcp-pkt", "tcp-stream", "http1"}

#: Sticky buffers (and their aliases) -> canonical buffer name.
STICKY = {
    "http.uri": "http.uri",
    "http.uri.raw": "http.uri.raw",
    "http.method": "http.method",
    "http.host": "http.host",
    "http.host.raw": "http.host.raw",
    "http.header": "http.header",
    "http.header.raw": "http.header.raw",
    "http.request_body": "http.request_body",
    "http.client_body": "http.request_body",
    "http.response_body": "http.response_body",
    "http.user_agent": "http.user_agent",
    "http.cookie": "http.cookie",
    "http.stat_code": "http.stat_code",
    "http.stat_msg": "http.stat_msg",
    "http.request_line": "http.request_line",
    "http.response_line": "http.response_line",
    "http.protocol": "http.protocol",
    "http.content_type": "http.content_type",
    "http.referer": "http.referer",
    "file.data": "http.response_body",
    "file_data": "http.response_body",
    "pkt_data": PAYLOAD,
}
#: Legacy content modifiers -> buffer the previous content moves to.
LEGACY = {
    "http_uri": "http.uri",
    "http_raw_uri": "http.uri.raw",
    "http_method": "http.method",
    "http_header": "http.header",
    "http_raw_header": "http.header.raw",
    "http_client_body": "http.request_body",
    "http_server_body": "http.response_body",
    "http_host": "http.host",
    "http_raw_host": "http.host.raw",
    "http_user_agent": "http.user_agent",
    "http_cookie": "http.cookie",
    "http_stat_code": "http.stat_code",
    "http_stat_msg": "http.stat_msg",
}
#: pcre buffer flags -> buffer.
PCRE_BUFFERS = {
    "U": "http.uri",
    "I": "http.uri.raw",
    "H": "http.header",
    "D": "http.header.raw",
    "M": "http.method",
    "C": "http.cookie",
    "P": "http.request_body",
    "Q": "http.response_body",
    "S": "http.stat_code",
    "Y": "http.stat_msg",
    "V": "http.user_agent",
    "W": "http.host",
    "Z": "http.host.raw",
}
CONTENT_MODIFIERS = {
    "nocase",
    "offset",
    "depth",
    "distance",
    "within",
    "startswith",
    "endswith",
    "fast_pattern",
    "rawbytes",
}
OTHER = {
    "msg",
    "sid",
    "rev",
    "gid",
    "classtype",
    "priority",
    "reference",
    "metadata",
    "target",
    "content",
    "pcre",
    "isdataat",
    "flow",
    "flags",
    "dsize",
    "ttl",
    "itype",
    "icode",
    "ip_proto",
    "window",
    "threshold",
    "detection_filter",
    "flowbits",
    "noalert",
}
SUPPORTED_KEYWORDS = frozenset(OTHER | CONTENT_MODIFIERS | set(STICKY) | set(LEGACY))

_FLAG_BITS = {
    "F": 0x01,
    "S": 0x02,
    "R": 0x04,
    "P": 0x08,
    "A": 0x10,
    "U": 0x20,
    "E": 0x40,
    "C": 0x80,
    "2": 0x40,
    "1": 0x80,
}
_IP_PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58, "gre": 47, "sctp": 132}


@dataclass
class RuleLoadReport:
    """What loading a rules file did: rules loaded and rules skipped, with reasons."""

    loaded: int = 0
    skipped: list[RuleError] = field(default_factory=list)

    def reasons(self) -> Counter[str]:
        """Count skipped rules per reason (keyword, or message)."""
        return Counter(
            f"unsupported keyword '{e.keyword}'" if e.keyword else e.reason for e in self.skipped
        )

    def summary(self) -> str:
        """One line: how many rules were loaded and skipped, and why."""
        if not self.skipped:
            return f"{self.loaded} rules loaded"
        why = ", ".join(f"{reason}: {n}" for reason, n in self.reasons().most_common())
        return f"{self.loaded} rules loaded, {len(self.skipped)} skipped ({why})"


def _split_options(body: str) -> list[str]:
    """Split the option text at ';' outside quotes, honouring backslash escapes."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            cur.append(body[i : i + 2])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if "".join(cur).strip():
        raise RuleError("option list not closed with ';'" if not quoted else "unclosed quote")
    return [p for p in parts if p]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value)


def parse_content(value: str) -> tuple[bytes, bool]:
    r"""Decode a content value (quotes, ``|hex|`` runs, escapes); return (bytes, negated).

    >>> parse_content('!"a|0d 0A|b\\;"')
    (b'a\r\nb;', True)
    """
    v = value.strip()
    neg = v.startswith("!")
    if neg:
        v = v[1:].strip()
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
    elif '"' in v:
        raise ValueError("content is not a quoted string")
    out = bytearray()
    hexmode = False
    hexbuf = ""
    i = 0
    while i < len(v):
        ch = v[i]
        if ch == "|":
            if hexmode:
                if len(hexbuf) % 2:
                    raise ValueError(f"odd number of hex digits in |{hexbuf}|")
                out += bytes.fromhex(hexbuf)
                hexbuf = ""
            hexmode = not hexmode
        elif hexmode:
            if ch in " \t":
                pass
            elif ch in "0123456789abcdefABCDEF":
                hexbuf += ch
            else:
                raise ValueError(f"bad hex character {ch!r}")
        elif ch == "\\" and i + 1 < len(v):
            i += 1
            out += v[i].encode("latin-1")
        else:
            out += ch.encode("utf-8")
        i += 1
    if hexmode:
        raise ValueError("unclosed '|' hex run")
    if not out:
        raise ValueError("empty content")
    return bytes(out), neg


def _int_test(value: str) -> IntTest:
    v = value.replace(" ", "")
    m = re.fullmatch(r"(\d+)<>(\d+)", v)
    if m:
        return IntTest("<>", int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"(<=|>=|<|>|!|=)?(\d+)", v)
    if not m:
        raise ValueError(f"bad number test {value!r}")
    op = m.group(1) or "="
    return IntTest("!=" if op == "!" else op, int(m.group(2)))


def _flags(value: str) -> tuple[int, int, str]:
    main, _, mask = value.replace(" ", "").partition(",")
    mod = ""
    if main and main[0] in "+*!":
        mod, main = main[0], main[1:]
    if main and main[-1] in "+*!" and not mod:
        mod, main = main[-1], main[:-1]
    bits = 0
    if main != "0":
        for ch in main.upper():
            if ch not in _FLAG_BITS:
                raise ValueError(f"unknown TCP flag {ch!r}")
            bits |= _FLAG_BITS[ch]
    ignore = 0
    for ch in mask.upper():
        if ch not in _FLAG_BITS:
            raise ValueError(f"unknown TCP flag {ch!r} in mask")
        ignore |= _FLAG_BITS[ch]
    return bits, ignore, mod


def _flow(value: str) -> FlowOption:
    f = FlowOption()
    for raw in value.split(","):
        w = raw.strip().lower()
        if w in ("to_server", "from_client"):
            f.to_server = True
        elif w in ("to_client", "from_server"):
            f.to_server = False
        elif w == "established":
            f.established = True
        elif w == "not_established":
            f.established = False
        elif w == "stateless":
            f.stateless = True
        elif w == "only_stream":
            f.only_stream = True
        elif w == "no_stream":
            f.no_stream = True
        else:
            raise ValueError(f"unknown flow option {w!r}")
    return f


def _threshold(value: str, kind: str | None) -> Threshold:
    fields: dict[str, str] = {}
    for raw in value.split(","):
        parts = raw.strip().split(None, 1)
        if len(parts) != 2:
            raise ValueError(f"bad item {raw.strip()!r}")
        fields[parts[0].lower()] = parts[1].strip()
    t_kind = kind or fields.get("type", "")
    if t_kind not in ("limit", "threshold", "both", "detection_filter"):
        raise ValueError(f"bad type {t_kind!r}")
    track = fields.get("track", "")
    if track not in ("by_src", "by_dst", "by_rule", "by_both", "by_flow"):
        raise ValueError(f"bad track {track!r}")
    try:
        return Threshold(t_kind, track, int(fields["count"]), int(fields["seconds"]))
    except (KeyError, ValueError):
        raise ValueError("needs numeric count and seconds") from None


def _flowbits(value: str) -> FlowbitOp:
    cmd, _, names = value.partition(",")
    cmd = cmd.strip().lower()
    if cmd not in ("set", "unset", "toggle", "isset", "isnotset", "noalert"):
        raise ValueError(f"unknown command {cmd!r}")
    if cmd == "noalert":
        return FlowbitOp("noalert")
    names = names.strip()
    if not names:
        raise ValueError(f"'{cmd}' needs a flowbit name")
    any_of = "|" in names
    parts = tuple(n.strip() for n in re.split(r"[|&]", names) if n.strip())
    return FlowbitOp(cmd, parts, any_of)


def _pcre(value: str) -> tuple[Pcre, str | None]:
    v = value.strip()
    neg = v.startswith("!")
    if neg:
        v = v[1:].strip()
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        v = v[1:-1]
    m = re.fullmatch(r"/(.*)/([A-Za-z]*)", v, re.DOTALL)
    if not m:
        raise ValueError("expected /expression/flags")
    expr, flags = m.group(1), m.group(2)
    re_flags = 0
    relative = False
    buffer: str | None = None
    for ch in flags:
        if ch == "i":
            re_flags |= re.IGNORECASE
        elif ch == "s":
            re_flags |= re.DOTALL
        elif ch == "m":
            re_flags |= re.MULTILINE
        elif ch == "x":
            re_flags |= re.VERBOSE
        elif ch == "R":
            relative = True
        elif ch in PCRE_BUFFERS:
            buffer = PCRE_BUFFERS[ch]
        elif ch in "ABEGO":
            if ch == "A":
                expr = r"\A(?:" + expr + ")"
        else:
            raise ValueError(f"unknown pcre flag {ch!r}")
    expr = expr.replace(r"\/", "/")
    try:
        regex = re.compile(expr.encode("latin-1", "backslashreplace"), re_flags)
    except re.error as exc:
        raise ValueError(f"bad expression: {exc}") from None
    return Pcre(v, regex, neg, relative), buffer


def _tokenize_header(text: str) -> list[str]:
    tokens: list[str] = []
    cur = ""
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch.isspace() and depth == 0:
            if cur:
                tokens.append(cur)
                cur = ""
        else:
            cur += ch
    if cur:
        tokens.append(cur)
    return tokens


def parse_rule(
    text: str,
    variables: RuleVars | None = None,
    *,
    source: str | None = None,
    line: int | None = None,
) -> Rule:
    """Parse one rule. Raises ``RuleError`` naming the sid and keyword at fault."""
    v = variables or RuleVars()
    text = text.strip()
    sid_m = re.search(r"[(;]\s*sid\s*:\s*(\d+)", text)
    sid = int(sid_m.group(1)) if sid_m else None

    def err(message: str, keyword: str | None = None) -> RuleError:
        return RuleError(message, sid=sid, keyword=keyword, source=source, line=line)

    open_at = text.find("(")
    if open_at < 0 or not text.endswith(")"):
        raise err("expected 'header (options)'")
    head = _tokenize_header(text[:open_at])
    if len(head) != 7:
        raise err(f"header has {len(head)} parts, expected 7: {' '.join(head)!r}")
    action, proto, src, sport, direction, dst, dport = head
    if action not in ACTIONS:
        raise err(f"unknown action {action!r}")
    proto = proto.lower()
    if proto not in PROTOCOLS:
        raise err(f"unsupported protocol {proto!r}")
    if direction not in ("->", "<>"):
        raise err(f"bad direction {direction!r}")
    try:
        src_spec, dst_spec = parse_addresses(src, v), parse_addresses(dst, v)
        sport_spec, dport_spec = parse_ports(sport, v), parse_ports(dport, v)
    except VariableError as exc:
        raise err(str(exc)) from None
    try:
        parts = _split_options(text[open_at + 1 : -1])
    except RuleError as exc:
        raise err(exc.reason) from None
    options: list[tuple[str, str | None]] = []
    for part in parts:
        kw, sep, val = part.partition(":")
        options.append((kw.strip(), val.strip() if sep else None))
    if sid is None:
        raise err("rule has no sid", "sid")
    rule = Rule(
        action=action,
        proto=proto,
        src=src_spec,
        src_ports=sport_spec,
        direction=direction,
        dst=dst_spec,
        dst_ports=dport_spec,
        options=options,
        sid=sid,
        source=source,
        line=line,
    )
    buffer = PAYLOAD
    last: tuple[Content, str] | None = None
    for kw, value in options:
        try:
            last, buffer = _apply(rule, kw, value, buffer, last)
        except RuleError:
            raise
        except ValueError as exc:
            raise err(str(exc), kw) from None
    rule.matches = {b: items for b, items in rule.matches.items() if items}
    for items in rule.matches.values():
        for it in items:
            if isinstance(it, Content) and it.depth is not None and it.depth < len(it.pattern):
                raise err("depth is shorter than the content", "depth")
    return rule


def _need(val: str | None) -> str:
    if val is None or not val.strip():
        raise ValueError("needs a value")
    return val


def _apply(
    rule: Rule, kw: str, val: str | None, buffer: str, last: tuple[Content, str] | None
) -> tuple[tuple[Content, str] | None, str]:
    k = kw.lower()
    if k in STICKY:
        return last, STICKY[k]
    if k in LEGACY:
        if last is None:
            raise ValueError("modifier without a preceding content")
        content, from_buf = last
        rule.matches[from_buf].remove(content)
        rule.matches.setdefault(LEGACY[k], []).append(content)
        return (content, LEGACY[k]), buffer
    if k in CONTENT_MODIFIERS:
        if last is None:
            raise ValueError("modifier without a preceding content")
        _modify(last[0], k, val)
        return last, buffer
    if k not in OTHER:
        raise RuleError(
            "unsupported keyword", sid=rule.sid, keyword=kw, source=rule.source, line=rule.line
        )
    if k == "msg":
        rule.msg = _unquote(_need(val))
    elif k == "sid":
        rule.sid = int(_need(val))
    elif k == "rev":
        rule.rev = int(_need(val))
    elif k == "gid":
        rule.gid = int(_need(val))
    elif k == "classtype":
        from swarmguard.detect.rules.classification import CLASSIFICATIONS

        name = _need(val).strip()
        if name not in CLASSIFICATIONS:
            raise ValueError(f"unknown classtype {name!r}")
        rule.classtype = name
    elif k == "priority":
        rule.priority = int(_need(val))
    elif k == "reference":
        rule.references.append(_need(val))
    elif k == "metadata":
        rule.metadata.extend(m.strip() for m in _need(val).split(",") if m.strip())
    elif k == "target":
        t = _need(val).strip()
        if t not in ("src_ip", "dest_ip"):
            raise ValueError("target must be src_ip or dest_ip")
        rule.target = t
    elif k == "content":
        pattern, neg = parse_content(_need(val))
        c = Content(pattern, negated=neg)
        rule.matches.setdefault(buffer, []).append(c)
        return (c, buffer), buffer
    elif k == "pcre":
        p, pbuf = _pcre(_need(val))
        rule.matches.setdefault(pbuf or buffer, []).append(p)
    elif k == "isdataat":
        parts = [x.strip() for x in _need(val).split(",")]
        pos = parts[0]
        neg = pos.startswith("!")
        rule.matches.setdefault(buffer, []).append(
            IsDataAt(int(pos.lstrip("!")), "relative" in parts[1:], neg)
        )
    elif k == "flow":
        rule.flow = _flow(_need(val))
    elif k == "flags":
        rule.flags = _flags(_need(val))
    elif k == "dsize":
        rule.dsize = _int_test(_need(val))
    elif k == "ttl":
        rule.ttl = _int_test(_need(val))
    elif k == "itype":
        rule.itype = _int_test(_need(val))
    elif k == "icode":
        rule.icode = _int_test(_need(val))
    elif k == "window":
        w = _need(val).strip()
        neg = w.startswith("!")
        num = int(w.lstrip("!").strip())
        if not 0 <= num <= 65535:
            raise ValueError("window must be 0..65535")
        rule.window = IntTest("!=" if neg else "=", num)
    elif k == "ip_proto":
        name = _need(val).strip().lower()
        rule.ip_proto = IntTest("=", _IP_PROTOS[name]) if name in _IP_PROTOS else _int_test(name)
    elif k == "threshold":
        rule.threshold = _threshold(_need(val), None)
    elif k == "detection_filter":
        rule.detection_filter = _threshold(_need(val), "detection_filter")
    elif k == "flowbits":
        op = _flowbits(_need(val))
        if op.command == "noalert":
            rule.noalert = True
        rule.flowbits.append(op)
    elif k == "noalert":
        rule.noalert = True
    return last, buffer


def _modify(c: Content, k: str, val: str | None) -> None:
    if k == "nocase":
        c.nocase = True
    elif k == "offset":
        c.offset = int(_need(val))
    elif k == "depth":
        c.depth = int(_need(val))
    elif k == "distance":
        c.distance = int(_need(val))
    elif k == "within":
        c.within = int(_need(val))
        if c.within < len(c.pattern):
            raise ValueError("within is shorter than the content")
    elif k == "startswith":
        c.startswith = True
    elif k == "endswith":
        c.endswith = True
    elif k == "fast_pattern":
        c.fast_pattern = True


def format_rule(rule: Rule) -> str:
    """Print a rule back in rule syntax (its options in their original order)."""
    head = " ".join(
        [
            rule.action,
            rule.proto,
            rule.src.text,
            rule.src_ports.text,
            rule.direction,
            rule.dst.text,
            rule.dst_ports.text,
        ]
    )
    opts = " ".join(f"{k}:{v};" if v is not None else f"{k};" for k, v in rule.options)
    return f"{head} ({opts})"


def parse_rules_text(
    text: str,
    variables: RuleVars | None = None,
    *,
    source: str = "<rules>",
    skip_unsupported: bool = False,
    report: RuleLoadReport | None = None,
) -> list[Rule]:
    r"""Parse the rules in ``text`` (one per line; ``#`` comments; ``\`` continues a line)."""
    rules: list[Rule] = []
    rep = report if report is not None else RuleLoadReport()
    pending = ""
    start = 0
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = no
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full, pending = pending + line, ""
        try:
            rules.append(parse_rule(full, variables, source=source, line=start))
            rep.loaded += 1
        except RuleError as exc:
            if not skip_unsupported:
                raise
            rep.skipped.append(exc)
    if pending:
        cut = RuleError("rule continued past the end of the file", source=source, line=start)
        if not skip_unsupported:
            raise cut
        rep.skipped.append(cut)
    seen: set[tuple[int, int]] = set()
    for r in rules:
        if (r.gid, r.sid) in seen:
            raise RuleError("duplicate sid", sid=r.sid, source=source, line=r.line)
        seen.add((r.gid, r.sid))
    return rules


def parse_rules(
    path: Path,
    variables: RuleVars | None = None,
    *,
    skip_unsupported: bool = False,
    report: RuleLoadReport | None = None,
) -> list[Rule]:
    """Parse a rules file (see ``parse_rules_text``)."""
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise RuleError(f"cannot read rules file: {exc.strerror}", source=str(path)) from None
    return parse_rules_text(
        text, variables, source=str(path), skip_unsupported=skip_unsupported, report=report
    )

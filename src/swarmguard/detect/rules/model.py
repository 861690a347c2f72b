"""The parsed form of a Snort / Suricata rule.

A ``Rule`` keeps its header, its options in order (``options``, used to print it back) and the
structures the engine evaluates: payload matches grouped by buffer, flow, flags, numeric tests,
flowbits, threshold and detection_filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from swarmguard.detect.rules.variables import AddressSpec, PortSpec

__all__ = [
    "PAYLOAD",
    "Content",
    "FlowOption",
    "FlowbitOp",
    "IntTest",
    "IsDataAt",
    "Pcre",
    "Rule",
    "RuleError",
    "Threshold",
]

#: The buffer of packet payload / reassembled stream.
PAYLOAD = "pkt"


class RuleError(ValueError):
    """A rule that cannot be parsed or is not supported; names the sid and keyword."""

    def __init__(
        self,
        message: str,
        *,
        sid: int | None = None,
        keyword: str | None = None,
        source: str | None = None,
        line: int | None = None,
    ) -> None:
        self.sid = sid
        self.keyword = keyword
        self.source = source
        self.line = line
        self.reason = message
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        who = f"rule sid {sid}" if sid is not None else "rule"
        kw = f", keyword '{keyword}'" if keyword else ""
        super().__init__(f"{where}{who}{kw}: {message}")


@dataclass
class Content:
    """A ``content`` match and its modifiers."""

    pattern: bytes
    negated: bool = False
    nocase: bool = False
    offset: int | None = None
    depth: int | None = None
    distance: int | None = None
    within: int | None = None
    startswith: bool = False
    endswith: bool = False
    fast_pattern: bool = False

    @property
    def relative(self) -> bool:
        """Whether the match is placed relative to the previous one."""
        return self.distance is not None or self.within is not None


@dataclass
class Pcre:
    """A ``pcre`` match: the compiled expression, relative flag and negation."""

    text: str
    regex: re.Pattern[bytes]
    negated: bool = False
    relative: bool = False


@dataclass
class IsDataAt:
    """``isdataat``: payload has data at an (optionally relative) position."""

    position: int
    relative: bool = False
    negated: bool = False


Match = Content | Pcre | IsDataAt


@dataclass
class IntTest:
    """A numeric test such as ``dsize:>100`` or ``ttl:1<>5``."""

    op: str  # "=", "<", ">", "<=", ">=", "!=", "<>"
    value: int
    high: int = 0

    def __call__(self, x: int) -> bool:
        """Evaluate the test on ``x``."""
        op = self.op
        if op == "=":
            return x == self.value
        if op == "<":
            return x < self.value
        if op == ">":
            return x > self.value
        if op == "<=":
            return x <= self.value
        if op == ">=":
            return x >= self.value
        if op == "!=":
            return x != self.value
        return self.value < x < self.high


@dataclass
class FlowOption:
    """The ``flow`` keyword."""

    to_server: bool | None = None
    established: bool | None = None
    stateless: bool = False
    only_stream: bool = False
    no_stream: bool = False


@dataclass
class FlowbitOp:
    """One ``flowbits`` command."""

    command: str  # set, unset, toggle, isset, isnotset, noalert
    names: tuple[str, ...] = ()
    any_of: bool = False  # names joined with '|' (isset a|b)


@dataclass
class Threshold:
    """``threshold`` (type limit / threshold / both) or ``detection_filter``."""

    kind: str  # limit, threshold, both, detection_filter
    track: str  # by_src, by_dst, by_rule, by_both, by_flow
    count: int
    seconds: int


@dataclass
class Rule:
    """A parsed rule."""

    action: str
    proto: str
    src: AddressSpec
    src_ports: PortSpec
    direction: str  # "->" or "<>"
    dst: AddressSpec
    dst_ports: PortSpec
    options: list[tuple[str, str | None]]
    sid: int
    rev: int = 1
    gid: int = 1
    msg: str = ""
    classtype: str | None = None
    priority: int | None = None
    references: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    target: str | None = None
    matches: dict[str, list[Match]] = field(default_factory=dict)
    flow: FlowOption | None = None
    flags: tuple[int, int, str] | None = None  # (required, ignored mask, modifier)
    dsize: IntTest | None = None
    ttl: IntTest | None = None
    itype: IntTest | None = None
    icode: IntTest | None = None
    ip_proto: IntTest | None = None
    window: IntTest | None = None
    flowbits: list[FlowbitOp] = field(default_factory=list)
    threshold: Threshold | None = None
    detection_filter: Threshold | None = None
    noalert: bool = False
    source: str | None = None
    line: int | None = None

    @property
    def app_buffers(self) -> list[str]:
        """Buffers other than the payload that this rule inspects (HTTP buffers)."""
        return [b for b in self.matches if b != PAYLOAD]

    @property
    def is_app(self) -> bool:
        """Whether the rule is evaluated on application-layer transactions."""
        return self.proto == "http" or bool(self.app_buffers)

    @property
    def has_payload(self) -> bool:
        """Whether the rule inspects the packet payload or stream."""
        return bool(self.matches.get(PAYLOAD))

    def fast_pattern(self) -> Content | None:
        """The content the prefilter keys on: the one marked, else the longest positive."""
        best: Content | None = None
        for buf, items in self.matches.items():
            for it in items:
                if not isinstance(it, Content) or it.negated:
                    continue
                if it.fast_pattern and buf == PAYLOAD:
                    return it
                if buf == PAYLOAD and (best is None or len(it.pattern) > len(best.pattern)):
                    best = it
        return best

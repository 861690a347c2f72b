r"""Payload matching: ``content`` (with its modifiers), ``pcre`` and ``isdataat`` on one buffer.

Semantics follow Suricata's content inspection: ``offset``/``depth`` place a match from the
start of the buffer; ``distance``/``within`` from the end of the previous match (on the first
content of a buffer, from the start); ``startswith`` is ``depth`` of the pattern length;
``endswith`` requires the match to end the buffer; a negated content must not occur in its
window. When a relative match fails, earlier contents are retried at their next occurrence.
``boundary`` asks for a match that reaches past that offset (used on a stream so that a match
already reported for older bytes is not reported again).

Examples
--------
>>> from swarmguard.detect.rules.parser import parse_rule
>>> r = parse_rule('alert tcp any any -> any any (content:"a"; content:"c"; within:2; sid:1;)')
>>> match_buffer(r.matches["pkt"], b"abxacd")
True
>>> match_buffer(r.matches["pkt"], b"abxxcd")
False
"""

from __future__ import annotations

from swarmguard.detect.rules.model import Content, IsDataAt, Match, Pcre

__all__ = ["match_buffer"]

_MAX_TRIES = 256


def match_buffer(items: list[Match], buf: bytes, boundary: int = -1) -> bool:
    """Whether ``items`` (in rule order) match ``buf``, with some match ending past ``boundary``."""
    lower = buf.lower() if any(isinstance(i, Content) and i.nocase for i in items) else buf
    positive = any((isinstance(i, Content | Pcre) and not i.negated) for i in items)
    tries = [0]
    return _match(items, 0, buf, lower, 0, -1 if positive else len(buf), boundary, tries)


def _match(
    items: list[Match],
    i: int,
    buf: bytes,
    lower: bytes,
    prev_end: int,
    max_end: int,
    boundary: int,
    tries: list[int],
) -> bool:
    if i == len(items):
        return max_end > boundary
    it = items[i]
    n = len(buf)
    if isinstance(it, IsDataAt):
        pos = (prev_end if it.relative else 0) + it.position
        has = pos < n
        if has == it.negated:
            return False
        return _match(items, i + 1, buf, lower, prev_end, max_end, boundary, tries)
    if isinstance(it, Pcre):
        start = prev_end if it.relative else 0
        view = buf[start:] if start else buf  # a relative pcre anchors ^ at the cursor
        m = it.regex.search(view)
        if it.negated:
            if m is not None:
                return False
            return _match(items, i + 1, buf, lower, prev_end, max_end, boundary, tries)
        while m is not None:
            tries[0] += 1
            end = start + m.end()
            if _match(items, i + 1, buf, lower, end, max(max_end, end), boundary, tries):
                return True
            if tries[0] > _MAX_TRIES or not _next_is_relative(items, i) and end > boundary:
                return False
            if m.end() == m.start():
                break
            m = it.regex.search(view, m.start() + 1)
        return False
    c = it
    pat = c.pattern.lower() if c.nocase else c.pattern
    hay = lower if c.nocase else buf
    if c.relative:
        lo = prev_end + (c.distance or 0)
        hi = n if c.within is None else prev_end + (c.distance or 0) + c.within
    else:
        lo = c.offset or 0
        hi = n if c.depth is None else lo + c.depth
    if c.startswith:
        hi = lo + len(pat)
    lo = max(lo, 0)
    hi = min(hi, n)
    if c.endswith:
        found = hi == n and n - len(pat) >= lo and hay.endswith(pat)
        if not c.negated:
            if not found:
                return False
            end = n
            return _match(items, i + 1, buf, lower, end, max(max_end, end), boundary, tries)
        if found:
            return False
        return _match(items, i + 1, buf, lower, prev_end, max_end, boundary, tries)
    pos = hay.find(pat, lo, hi)
    if c.negated:
        if pos >= 0:
            return False
        return _match(items, i + 1, buf, lower, prev_end, max_end, boundary, tries)
    while pos >= 0:
        tries[0] += 1
        end = pos + len(pat)
        if _match(items, i + 1, buf, lower, end, max(max_end, end), boundary, tries):
            return True
        if tries[0] > _MAX_TRIES:
            return False
        if not _next_is_relative(items, i) and end > boundary:
            return False
        pos = hay.find(pat, pos + 1, hi)
    return False


def _next_is_relative(items: list[Match], i: int) -> bool:
    if i + 1 >= len(items):
        return False
    nxt = items[i + 1]
    if isinstance(nxt, Content):
        return nxt.relative
    return nxt.relative

"""Multi-pattern prefilter: one Aho-Corasick pass per buffer picks the rules worth checking.

Every payload rule contributes its fast pattern (the content marked ``fast_pattern``, else its
longest positive content), lower-cased; one automaton (pyahocorasick) finds all of them in one
pass over the lower-cased buffer, so thousands of rules do not mean thousands of scans. Rules
without a usable fast pattern are always candidates. A candidate is then fully evaluated, so the
prefilter never changes what matches (a case-sensitive pattern found case-insensitively is
simply checked and rejected).

Example
-------
>>> pf = Prefilter([(1, b"GET /"), (2, b"passwd"), (3, None)])
>>> sorted(pf.candidates(b"xx get /etc/PASSWD"))
[1, 2, 3]
>>> sorted(pf.candidates(b"nothing"))
[3]
"""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick

__all__ = ["Prefilter"]


class Prefilter:
    """Map buffers to the ids of rules whose fast pattern occurs in them."""

    def __init__(self, patterns: Iterable[tuple[int, bytes | None]]) -> None:
        self.always: set[int] = set()
        by_pattern: dict[str, list[int]] = {}
        for rid, pat in patterns:
            if not pat:
                self.always.add(rid)
                continue
            key = pat.lower().decode("latin-1")
            by_pattern.setdefault(key, []).append(rid)
        self._auto: ahocorasick.Automaton | None = None
        if by_pattern:
            auto = ahocorasick.Automaton()
            for key, ids in by_pattern.items():
                auto.add_word(key, tuple(ids))
            auto.make_automaton()
            self._auto = auto
        self.patterns = len(by_pattern)

    def candidates(self, *buffers: bytes) -> set[int]:
        """Ids of rules to evaluate on these buffers."""
        return self.always | self.hits(*buffers)

    def hits(self, *buffers: bytes) -> set[int]:
        """Ids of rules whose fast pattern occurs in one of the buffers."""
        found: set[int] = set()
        if self._auto is None:
            return found
        for buf in buffers:
            if not buf:
                continue
            text = buf.lower().decode("latin-1")
            for _, ids in self._auto.iter(text):
                found.update(ids)
        return found

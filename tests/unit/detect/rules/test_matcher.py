"""Content / pcre semantics against Suricata's documented behaviour (mechanics, synthetic)."""

from __future__ import annotations

import pytest

from swarmguard.detect.rules import parse_rule
from swarmguard.detect.rules.matcher import match_buffer


def _m(opts: str, buf: bytes, boundary: int = -1) -> bool:
    r = parse_rule(f"alert tcp any any -> any any ({opts} sid:1;)")
    return match_buffer(r.matches["pkt"], buf, boundary)


@pytest.mark.parametrize(
    ("opts", "buf", "expected"),
    [
        ('content:"abc";', b"xxabcxx", True),
        ('content:"ABC"; nocase;', b"xxabcxx", True),
        ('content:"ABC";', b"xxabcxx", False),
        ('content:"abc"; offset:3;', b"xxabcxx", False),
        ('content:"abc"; depth:4;', b"xxabcxx", False),
        ('content:"abc"; depth:5;', b"xxabcxx", True),
        ('content:"abc"; startswith;', b"abcxx", True),
        ('content:"abc"; startswith;', b"xabc", False),
        ('content:"abc"; endswith;', b"xxabc", True),
        ('content:"abc"; endswith;', b"abcx", False),
        ('content:"a"; content:"c"; distance:1; within:2;', b"abxc", True),
        ('content:"a"; content:"c"; distance:1; within:1;', b"abxc", False),
        # the first 'a' fails the relative check, the second one succeeds (backtracking)
        ('content:"a"; content:"b"; within:1;', b"axxab", True),
        ('content:"a"; content:!"b"; within:1;', b"ab", False),
        ('content:"a"; content:!"b"; within:1;', b"ac", True),
        ('content:"a"; pcre:"/^b+c/R";', b"xabbc", True),
        ('content:"a"; pcre:"/^c/R";', b"xabbc", False),
        ('pcre:!"/zz/";', b"abc", True),
        ('content:"ab"; isdataat:2,relative;', b"abcde", True),
        ('content:"ab"; isdataat:2,relative;', b"abcd", False),
        # suricata-verify bug-docs-5030: distance/within on the first content
        ('content:"yY"; distance:9; within:4; endswith;', b"x" * 11 + b"yY", True),
        ('content:"yY"; distance:9; within:4; endswith;', b"x" * 12 + b"yY", False),
    ],
)
def test_content_semantics(opts: str, buf: bytes, expected: bool) -> None:
    assert _m(opts, buf) is expected


def test_boundary_requires_a_match_past_old_bytes() -> None:
    assert _m('content:"abc";', b"abcxxabc", boundary=4)
    assert not _m('content:"abc";', b"abcxxxx", boundary=4)

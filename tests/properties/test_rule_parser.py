"""Parser properties: every shipped and test-folder rule prints back to an equivalent rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmguard.cli.detect import default_rules_path
from swarmguard.detect.rules import Rule, RuleError, format_rule, parse_rule, parse_rules
from swarmguard.detect.rules.parser import parse_content

REPO = Path(__file__).resolve().parents[2]
SV = REPO.parent / "shared" / "suricata-verify" / "tests"


def _all_rules() -> list[Rule]:
    files = [default_rules_path(), *sorted(SV.glob("*/*.rules"))]
    return [r for f in files for r in parse_rules(f)]


def _key(r: Rule) -> tuple[object, ...]:
    return (
        r.action,
        r.proto,
        r.src.text,
        r.src_ports.text,
        r.direction,
        r.dst.text,
        r.dst_ports.text,
        r.options,
        r.sid,
        r.rev,
        r.gid,
        r.msg,
        r.classtype,
        r.priority,
        r.matches,
        r.flow,
        r.flags,
        r.dsize,
        r.flowbits,
        r.threshold,
        r.detection_filter,
        r.noalert,
    )


def test_every_known_rule_prints_back_to_an_equivalent_rule() -> None:
    rules = _all_rules()
    assert len(rules) >= 40
    for r in rules:
        again = parse_rule(format_rule(r))
        assert _key(again) == _key(r), format_rule(r)
        assert format_rule(again) == format_rule(r)


_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"\\;|'),
    min_size=1,
    max_size=20,
)


@given(raw=st.binary(min_size=1, max_size=30), nocase=st.booleans(), depth_extra=st.integers(0, 5))
@settings(max_examples=150, deadline=None)
def test_content_bytes_round_trip(raw: bytes, nocase: bool, depth_extra: int) -> None:
    text = "|" + raw.hex(" ") + "|"
    opts = f'content:"{text}";' + (" nocase;" if nocase else "")
    opts += f" depth:{len(raw) + depth_extra};"
    r = parse_rule(f"alert tcp any any -> any any ({opts} sid:5;)")
    assert parse_content(f'"{text}"') == (raw, False)
    assert _key(parse_rule(format_rule(r))) == _key(r)


@given(msg=_text, sid=st.integers(1, 2**31), rev=st.integers(1, 100))
@settings(max_examples=150, deadline=None)
def test_msg_sid_rev_round_trip(msg: str, sid: int, rev: int) -> None:
    r = parse_rule(f'alert ip any any -> any any (msg:"{msg}"; sid:{sid}; rev:{rev};)')
    assert (r.msg, r.sid, r.rev) == (msg, sid, rev)
    assert _key(parse_rule(format_rule(r))) == _key(r)


@given(keyword=st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True))
@settings(max_examples=100, deadline=None)
def test_unknown_keywords_are_named(keyword: str) -> None:
    from swarmguard.detect.rules.parser import SUPPORTED_KEYWORDS

    text = f"alert tcp any any -> any any ({keyword}:1; sid:77;)"
    if keyword in SUPPORTED_KEYWORDS:
        return
    with pytest.raises(RuleError) as info:
        parse_rule(text)
    assert info.value.sid == 77 and info.value.keyword == keyword

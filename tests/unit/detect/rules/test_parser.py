"""Rule parser: header, options, modifiers, clear errors naming sid and keyword."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmguard.detect.rules import RuleError, RuleLoadReport, parse_rule, parse_rules_text
from swarmguard.detect.rules.model import Content, Pcre
from swarmguard.detect.rules.variables import RuleVars


def test_header_variables_lists_ranges_and_negation() -> None:
    r = parse_rule(
        "alert udp $EXTERNAL_NET :1024 <> [$HOME_NET,!10.1.0.0/16] [53,1000:2000] (sid:1;)"
    )
    assert r.direction == "<>"
    assert r.src.matches("8.8.8.8") and not r.src.matches("10.0.0.1")
    assert r.dst.matches("10.2.0.1") and not r.dst.matches("10.1.2.3")
    assert r.src_ports.matches(1024) and not r.src_ports.matches(1025)
    assert r.dst_ports.matches(1500) and not r.dst_ports.matches(54)


def test_custom_variables() -> None:
    v = RuleVars()
    v.addresses["HOME_NET"] = "192.0.2.0/24"
    r = parse_rule("alert ip any any -> $HOME_NET any (sid:1;)", v)
    assert r.dst.matches("192.0.2.9") and not r.dst.matches("10.0.0.1")


def test_content_modifiers_and_buffers() -> None:
    r = parse_rule(
        'alert http any any -> any any (msg:"m\\;x"; content:"GET"; http_method; '
        'http.uri; content:"/a|20|b"; nocase; fast_pattern; content:!"c"; distance:0; '
        'pcre:"/x+/Ui"; sid:3; rev:4; gid:2; classtype:web-application-attack; priority:1;)'
    )
    assert r.msg == "m;x" and (r.sid, r.rev, r.gid, r.priority) == (3, 4, 2, 1)
    assert [c.pattern for c in r.matches["http.method"]] == [b"GET"]  # type: ignore[union-attr]
    uri = r.matches["http.uri"]
    assert isinstance(uri[0], Content) and uri[0].pattern == b"/a b" and uri[0].nocase
    assert isinstance(uri[1], Content) and uri[1].negated and uri[1].distance == 0
    assert isinstance(uri[2], Pcre)  # /U puts the pcre in http.uri
    assert r.is_app


def test_flow_flags_numbers_threshold_flowbits() -> None:
    r = parse_rule(
        "alert tcp any any -> any any (flow:to_server,established; flags:S,12; dsize:>10; "
        "ttl:<5; threshold:type both, track by_src, count 3, seconds 60; "
        "flowbits:isset,a|b; flowbits:noalert; sid:9;)"
    )
    assert r.flow is not None and r.flow.to_server and r.flow.established
    assert r.flags == (0x02, 0xC0, "")
    assert r.dsize is not None and r.dsize(11) and not r.dsize(10)
    assert r.threshold is not None and r.threshold.count == 3
    assert r.flowbits[0].any_of and r.noalert


@pytest.mark.parametrize(
    ("text", "keyword", "message"),
    [
        ("alert tcp any any -> any any (foo:1; sid:9;)", "foo", "unsupported keyword"),
        ('alert tcp any any -> any any (content:"a|4|"; sid:9;)', "content", "hex"),
        ('alert tcp any any -> any any (pcre:"/(/"; sid:9;)', "pcre", "bad expression"),
        ("alert tcp any any -> any any (nocase; sid:9;)", "nocase", "without a preceding"),
        ("alert tcp any any -> any any (flow:sideways; sid:9;)", "flow", "unknown flow"),
        ("alert tcp any any -> any any (classtype:nonsense; sid:9;)", "classtype", "unknown"),
        ('alert tcp any any -> any any (content:"abc"; depth:2; sid:9;)', "depth", "shorter"),
    ],
)
def test_malformed_options_name_sid_and_keyword(text: str, keyword: str, message: str) -> None:
    with pytest.raises(RuleError, match=message) as info:
        parse_rule(text, source="x.rules", line=4)
    assert info.value.sid == 9 and info.value.keyword == keyword
    assert str(info.value).startswith("x.rules:4: rule sid 9")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('alert tcp any any -> any any (msg:"x";)', "no sid"),
        ("alert tcp any any any any (sid:1;)", "header has 6 parts"),
        ("alert dns any any -> any any (sid:1;)", "unsupported protocol"),
        ("alert tcp $NOPE any -> any any (sid:1;)", "unknown address variable"),
        ("alert tcp any 70000 -> any any (sid:1;)", "port out of range"),
        ("bogus tcp any any -> any any (sid:1;)", "unknown action"),
        ('alert tcp any any -> any any (msg:"x; sid:1;)', "unclosed quote"),
    ],
)
def test_malformed_rules(text: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rule(text)


def test_skip_unsupported_counts_reasons(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "# comment",
            "alert tcp any any -> any any (foo:1; sid:1;)",
            "alert tcp any any -> any any (bar:1; sid:2;)",
            "alert tcp any any -> any any (foo:2; sid:3;)",
            'alert tcp any any -> any any (content:"ok"; \\',
            "  sid:4;)",
        ]
    )
    with pytest.raises(RuleError, match="sid 1, keyword 'foo'"):
        parse_rules_text(text)
    rep = RuleLoadReport()
    rules = parse_rules_text(text, skip_unsupported=True, report=rep)
    assert [r.sid for r in rules] == [4]
    assert rep.loaded == 1 and len(rep.skipped) == 3
    assert rep.reasons()["unsupported keyword 'foo'"] == 2
    assert "3 skipped" in rep.summary()


def test_duplicate_sid_is_an_error() -> None:
    text = "alert ip any any -> any any (sid:1;)\nalert ip any any -> any any (sid:1;)"
    with pytest.raises(RuleError, match="duplicate sid"):
        parse_rules_text(text)

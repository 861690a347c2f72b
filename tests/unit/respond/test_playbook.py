from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from swarmguard.errors import InputError
from swarmguard.records.alert import Alert, AlertInfo, Endpoint
from swarmguard.records.decision import Decision
from swarmguard.respond.base import POLICIES, PolicyContext
from swarmguard.respond.builtins import register_builtins
from swarmguard.respond.playbook import PlaybookPolicy, load_playbook

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _alert(
    src: str = "203.0.113.7",
    category: str = "Attempted Information Leak",
    score: float = 1.0,
    at: float = 0,
    dest: str = "10.220.0.2",
    detector: str = "rules",
) -> Alert:
    return Alert(
        ts=T0 + timedelta(seconds=at),
        src_ip=src,
        dest_ip=dest,
        alert=AlertInfo(signature_id=1, signature="sig", category=category, severity=2),
        detector=detector,
        score=score,
    )


def _ctx(at: float = 0, **kw: object) -> PolicyContext:
    return PolicyContext(now=T0 + timedelta(seconds=at), **kw)  # type: ignore[arg-type]


def test_default_playbook_blocks_rule_engine_categories() -> None:
    pb = PlaybookPolicy()
    cases = {
        "Attempted Information Leak": 900,
        "Attempted Denial of Service": 600,
        "Attempted User Privilege Gain": 1800,
    }
    for i, (category, ttl) in enumerate(cases.items()):
        [d] = pb.decide([_alert(src=f"203.0.113.{i + 1}", category=category)], _ctx())
        assert (d.action, d.scope, d.ttl_s, d.simulated) == ("block", "ip", ttl, True)
        assert d.reason.category == category and d.reason.detector == "rules"
        assert d.policy == "playbook" and d.origin == "agent:local"


def test_count_within_window_and_window_slides() -> None:
    pb = PlaybookPolicy(rules=[{"name": "web", "match": ["web"], "min_count": 3, "window_s": 10}])
    web = "Web Application Attack"
    assert pb.decide([_alert(category=web, at=0), _alert(category=web, at=5)], _ctx(5)) == []
    # the first fell out of the window by t=12: two in window, no decision
    assert pb.decide([_alert(category=web, at=12)], _ctx(12)) == []
    [d] = pb.decide([_alert(category=web, at=13)], _ctx(13))
    assert len(d.reason.alert_uids) == 3
    assert d.reason.summary == "web: 3 alert(s) from 203.0.113.7 in 10 s"


def test_repeat_offenders_get_growing_ttls_with_cap() -> None:
    rule = {"name": "r", "ttl_s": 100, "ttl_growth": 3, "max_ttl_s": 1000}
    ttls = []
    for n in range(4):
        pb = PlaybookPolicy(rules=[rule])
        [d] = pb.decide([_alert()], _ctx(offences={"203.0.113.7": n}))
        ttls.append(d.ttl_s)
    assert ttls == [100, 300, 900, 1000]


def test_no_duplicate_while_active_and_cidr_scope() -> None:
    pb = PlaybookPolicy(rules=[{"name": "net", "scope": "cidr", "prefix_v4": 24}])
    [d] = pb.decide([_alert()], _ctx())
    assert (d.scope, d.value) == ("cidr", "203.0.113.0/24")
    assert pb.decide([_alert(src="203.0.113.99")], _ctx(1)) == []
    fresh = PlaybookPolicy(rules=[{"name": "net", "scope": "cidr"}])
    assert fresh.decide([_alert()], _ctx(1, active=[d])) == []
    assert len(fresh.decide([_alert(at=700)], _ctx(700))) == 1  # d expired by then


def test_filters_score_detector_local_hosts_and_quarantine_target() -> None:
    pb = PlaybookPolicy(
        rules=[
            {"name": "trojan", "match": ["trojan"], "action": "quarantine", "target": "local"},
            {"name": "svm only", "detector": "svm", "min_score": 0.8},
        ]
    )
    assert pb.decide([_alert(category="x", score=0.95)], _ctx()) == []  # detector rules
    assert pb.decide([_alert(category="x", score=0.5, detector="svm")], _ctx()) == []
    [d] = pb.decide([_alert(category="x", score=0.9, detector="svm")], _ctx())
    assert d.confidence == 0.9
    local = ["10.220.0.2"]
    trojan = "A Network Trojan was detected"
    [q] = pb.decide([_alert(category=trojan)], _ctx(local_hosts=local))
    assert (q.action, q.scope, q.value) == ("quarantine", "host", "10.220.0.2")
    # no local host involved: nothing to quarantine
    assert pb.decide([_alert(category=trojan, dest="10.220.0.9")], _ctx()) == []
    # never a block of a local host even if it is the alert's source
    blocker = PlaybookPolicy(rules=[{"name": "any"}])
    assert blocker.decide([_alert(src="10.220.0.2")], _ctx(local_hosts=local)) == []


def test_bad_rules_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="bad rule field min_count"):
        PlaybookPolicy(rules=[{"name": "x", "min_count": 0}])
    with pytest.raises(InputError, match="rate_limit rule needs rate_limit_pps"):
        PlaybookPolicy(rules=[{"name": "x", "action": "rate_limit"}])
    bad = tmp_path / "p.toml"
    bad.write_text("rules = [")
    with pytest.raises(InputError, match="cannot read the playbook"):
        load_playbook(bad)


def test_load_from_toml_and_yaml_and_registry(tmp_path: Path) -> None:
    toml = tmp_path / "p.toml"
    toml.write_text(
        '[playbook]\ndry_run = false\n[[playbook.rules]]\nname = "flood"\nmatch = ["dos"]\n'
        'action = "rate_limit"\nrate_limit_pps = 50\nttl_s = 120\n'
    )
    yml = tmp_path / "p.yaml"
    yml.write_text("rules:\n  - name: flood\n    match: [dos]\n    ttl_s: 30\n")
    register_builtins()
    cls = POLICIES.get("playbook")
    for path, action in ((toml, "rate_limit"), (yml, "block")):
        pb = cls.from_config(load_playbook(path))  # type: ignore[attr-defined]
        [d] = pb.decide([_alert(category="dos")], _ctx())
        assert isinstance(d, Decision) and d.action == action
    assert d.simulated is True
    assert PlaybookPolicy.from_config(load_playbook(toml)).dry_run is False


def test_aggregate_alert_names_no_source_to_block() -> None:
    # A per-target flood alert: the packet that crossed the threshold may be a benign
    # client's, so the alert names its target only and the playbook blocks nobody.
    a = _alert(src="10.220.0.4", category="Attempted Denial of Service")
    info = a.alert.model_copy(update={"target": Endpoint(ip="10.220.0.2", port=8080)})
    aggregate = a.model_copy(update={"alert": info})
    assert aggregate.attacker_ip() is None
    assert PlaybookPolicy().decide([aggregate], _ctx()) == []
    named = info.model_copy(update={"source": Endpoint(ip="203.0.113.9")})
    [d] = PlaybookPolicy().decide([a.model_copy(update={"alert": named})], _ctx())
    assert d.value == "203.0.113.9"  # a rule's own target keyword names the attacker


def test_protected_networks_count_as_local() -> None:
    # A zone agent protects its whole subnet: an alert whose source is one of its own hosts
    # (a server answering, a learned detector's guess) never blocks that host.
    pb = PlaybookPolicy()
    ctx = _ctx(local_hosts=["10.220.0.0/24"])
    assert pb.decide([_alert(src="10.220.0.9", category="Attempted Denial of Service")], ctx) == []
    [d] = pb.decide([_alert(src="203.0.113.5", category="Attempted Denial of Service")], ctx)
    assert d.value == "203.0.113.5"

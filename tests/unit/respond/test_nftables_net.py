"""The nftables and quarantine enforcers against a real kernel, inside throwaway namespaces."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from swarmguard.records.decision import Decision
from swarmguard.respond.effectiveness import EffectivenessChecker, NftCounterProbe
from swarmguard.respond.enforcers.nftables import NftablesEnforcer
from swarmguard.respond.enforcers.quarantine import QuarantineEnforcer
from swarmguard.respond.ledger import DecisionLedger
from swarmguard.respond.rails import RailsConfig, SafetyRails

pytestmark = pytest.mark.net

FOREIGN = """
table inet foreign {
    set keep { type ipv4_addr; flags interval; elements = { 10.220.250.0/24, 10.220.251.7 } }
    chain input { type filter hook input priority 5; policy accept; ip saddr @keep drop; }
}
table ip legacy {
    chain legacy_fw { type filter hook forward priority 0; policy accept; tcp dport 2222 drop; }
}
"""


def _decision(value: str, ttl: float = 60, action: str = "block", **kw: Any) -> Decision:
    return Decision(
        ts=datetime.now(UTC),
        action=action,
        scope="cidr" if "/" in value else "ip",
        value=value,
        ttl_s=ttl,
        origin="test",
        simulated=False,
        **kw,
    )


@pytest.mark.parametrize("backend", ["lib", "worker", "cli"])
def test_block_drops_traffic_and_revoke_restores_it(ns_pair: Any, backend: str) -> None:
    p = ns_pair
    assert p.ping(p.victim_ip) == 1
    with NftablesEnforcer(netns=p.victim, backend=backend) as nft:
        d = _decision(p.attacker_ip)
        fb = nft.apply(d)
        assert fb.status == "applied", fb.detail
        assert fb.duration_ms < 1000
        assert nft.contains(d) and p.attacker_ip in nft.list()
        assert p.ping(p.victim_ip, count=3, interval=0.1, wait_s=0.5) == 0
        dropped, through = nft.counters(d) or (0, -1)
        assert dropped >= 3 and through == 0
        assert nft.apply(d).status == "applied"  # idempotent
        assert nft.revoke(d).status == "revoked"
        assert not nft.contains(d) and nft.list() == []
        assert p.ping(p.victim_ip) == 1
        assert nft.revoke(d).status == "revoked"  # already gone is fine
        nft.remove_table()


def test_ipv6_and_cidr_blocks(ns_pair: Any) -> None:
    p = ns_pair
    assert p.ping(p.victim_ip6, wait_s=2) == 1
    with NftablesEnforcer(netns=p.victim) as nft:
        six = _decision(p.attacker_ip6)
        assert nft.apply(six).ok
        assert p.ping(p.victim_ip6, wait_s=0.5) == 0
        assert p.ping(p.victim_ip) == 1  # v4 untouched
        net = _decision(p.attacker_ip.rsplit(".", 1)[0] + ".0/28")
        assert nft.apply(net).ok
        assert p.ping(p.victim_ip, wait_s=0.5) == 0
        assert sorted(nft.list()) == sorted([net.value, p.attacker_ip6])
        nft.remove_table()


def test_element_timeout_is_the_ttl_and_the_kernel_expires_it(ns_pair: Any) -> None:
    p = ns_pair
    with NftablesEnforcer(netns=p.victim) as nft:
        d = _decision(p.attacker_ip, ttl=2)
        assert nft.apply(d).ok
        assert p.ping(p.victim_ip, wait_s=0.5) == 0
        time.sleep(2.3)
        assert not nft.contains(d)
        assert p.ping(p.victim_ip) == 1
        nft.remove_table()


def test_never_touches_another_table(ns_pair: Any) -> None:
    p = ns_pair
    subprocess.run(
        ["ip", "netns", "exec", p.victim, "nft", "-f", "-"], input=FOREIGN, text=True, check=True
    )
    before = p.nft("list", "table", "inet", "foreign") + p.nft("list", "table", "ip", "legacy")
    with (
        NftablesEnforcer(netns=p.victim) as nft,
        QuarantineEnforcer(netns=p.victim, management=["10.220.252.0/24"]) as q,
    ):
        for d in (_decision(p.attacker_ip), _decision("10.220.250.0/24")):
            assert nft.apply(d).ok
            assert nft.revoke(d).ok
        qd = _decision("10.220.253.9", action="quarantine")
        assert q.apply(qd).ok and q.revoke(qd).ok
        nft.start()  # re-assert: flushes and refills only its own chains
        nft.remove_table()
    after = p.nft("list", "table", "inet", "foreign") + p.nft("list", "table", "ip", "legacy")
    assert after == before
    assert "swarmguard" not in p.nft("list", "tables")


def test_rate_limit_caps_packets_per_second(ns_pair: Any) -> None:
    p = ns_pair
    with NftablesEnforcer(netns=p.victim) as nft:
        d = _decision(p.attacker_ip, action="rate_limit", rate_limit_pps=2)
        assert nft.apply(d).ok
        got = p.ping(p.victim_ip, count=40, interval=0.02, wait_s=0.5)
        assert 1 <= got <= 15
        assert nft.revoke(d).ok
        assert p.ping(p.victim_ip, count=10, interval=0.02) == 10
        nft.remove_table()


def test_quarantine_spares_only_management(ns_pair: Any) -> None:
    p = ns_pair
    d = _decision(p.attacker_ip, action="quarantine")
    with QuarantineEnforcer(netns=p.victim, management=["10.220.254.0/24"]) as q:
        assert q.apply(d).ok
        assert p.ping(p.victim_ip, wait_s=0.5) == 0
        assert p.attacker_ip in q.list()
    # the victim's own address is a management address: the host stays reachable from it
    with QuarantineEnforcer(netns=p.victim, management=[f"{p.victim_ip}/32"]) as q:
        assert p.ping(p.victim_ip) == 1
        assert q.revoke(d).ok
        q.remove_table()


def test_rails_reassert_after_restart_and_effectiveness(ns_pair: Any, tmp_path: Any) -> None:
    p = ns_pair
    ledger = DecisionLedger(tmp_path / "ledger.db")
    nft = NftablesEnforcer(netns=p.victim)
    rails = SafetyRails(ledger, [nft], config=RailsConfig(dry_run=False))
    d = _decision(p.attacker_ip, ttl=120)
    [fb] = rails.submit(d)
    assert fb.enforcer == "nftables" and fb.status == "applied"
    checker = EffectivenessChecker(NftCounterProbe(nft))
    before = checker.baseline(d)
    p.ping(p.victim_ip, count=3, interval=0.1, wait_s=0.3)
    eff = checker.check(d, before, 0.5)
    assert eff.status == "effective" and eff.packets_after == 0
    assert "dropped 3 packet(s)" in eff.detail
    # the host "reboots": the table is gone and the process too
    nft.remove_table()
    nft.close()
    assert p.ping(p.victim_ip) == 1
    fresh = NftablesEnforcer(netns=p.victim)
    rails2 = SafetyRails(
        DecisionLedger(tmp_path / "ledger.db"), [fresh], config=RailsConfig(dry_run=False)
    )
    fresh.start()
    assert [f.status for f in rails2.reassert()] == ["applied"]
    assert fresh.contains(d) and p.ping(p.victim_ip, wait_s=0.5) == 0
    # a decision that is not in force is ineffective
    other = _decision("10.220.249.9")
    assert (
        EffectivenessChecker(NftCounterProbe(fresh)).check(other, (0, 0), 0).status == "ineffective"
    )
    assert [f.status for f in rails2.revoke(d.uid, by="admin")] == ["revoked"]
    assert p.ping(p.victim_ip) == 1
    fresh.remove_table()
    fresh.close()


def test_an_already_expired_decision_is_not_applied(ns_pair: Any) -> None:
    from datetime import timedelta

    p = ns_pair
    old = _decision(p.attacker_ip, ttl=5).model_copy(
        update={"ts": datetime.now(UTC) - timedelta(seconds=10)}
    )
    with NftablesEnforcer(netns=p.victim) as nft:
        assert nft.apply(old).status == "expired"
        assert nft.list() == [] and p.ping(p.victim_ip) == 1
        nft.remove_table()

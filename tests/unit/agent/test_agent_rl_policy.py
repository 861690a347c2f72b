"""The agent runs the trained RL defender (``--policy rl:default``) behind the usual rails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from swarmguard.cli.app import app
from swarmguard.respond.ledger import DecisionLedger

REPO = Path(__file__).resolve().parents[3]
SYNFLOOD = REPO / "data" / "demo" / "pcaps" / "synflood_first2000.pcap"


def test_dry_run_agent_with_rl_policy_on_a_replayed_capture(
    tmp_path: Path, scan_pcap: Path
) -> None:
    decisions = _run_rl_agent(tmp_path, scan_pcap)
    assert decisions, "the RL policy took no decision on a port scan"
    ledger = DecisionLedger(tmp_path / "state" / "decisions.sqlite")
    for d in decisions:
        assert d["policy"] == "rl"
        assert d["simulated"] is True  # dry-run: only the dryrun enforcer saw it
        assert d["applied"] == ["dryrun"]
        assert d["ttl_s"] > 0
        assert d["value"] == "198.51.100.9"  # the scanner, nothing else
        stored = ledger.get(d["uid"])
        assert stored is not None and stored.ttl_s == d["ttl_s"]


def test_rl_policy_blocks_no_spoofed_source_of_a_flood(tmp_path: Path) -> None:
    # Every packet of this flood has its own random source: the alerts count packets per
    # target, so no sender is the attacker and blocking one would only hurt whoever owns it.
    decisions = _run_rl_agent(tmp_path, SYNFLOOD)
    assert [d for d in decisions if d["action"] == "block"] == []


def test_rl_path_policy_never_touches_an_allow_listed_address(
    tmp_path: Path, scan_pcap: Path
) -> None:
    """``--policy rl:PATH`` loads a policy folder; the allow-list rail refuses the scanner."""
    from swarmguard.defend.policy import DEFAULT_POLICY

    folder = tmp_path / "my-policy"
    shutil.copytree(DEFAULT_POLICY, folder)
    events = _run_rl_agent(
        tmp_path,
        scan_pcap,
        policy=f"rl:{folder}",
        extra='[allowlist]\ncidrs = ["198.51.100.0/24"]\n',
        kinds=("decision", "feedback"),
    )
    decisions = [e for e in events if e["type"] == "decision"]
    assert decisions, "the policy proposed nothing: the rail was never exercised"
    assert all(d["policy"] == "rl" and d["applied"] == [] for d in decisions)
    refused = [e for e in events if e["type"] == "feedback" and e["status"] == "refused"]
    assert {f["decision_uid"] for f in refused} == {d["uid"] for d in decisions}
    assert all("allow-listed" in (f.get("detail") or "") for f in refused)


def _run_rl_agent(
    tmp_path: Path,
    pcap: Path,
    *,
    policy: str = "rl:default",
    extra: str = "",
    kinds: tuple[str, ...] = ("decision",),
) -> list[dict[str, Any]]:
    events = tmp_path / "events.jsonl"
    config = tmp_path / "agent.toml"
    config.write_text(
        f"""agent_id = "edge1"
events_file = "{events}"
[[sources]]
kind = "pcap"
path = "{pcap}"
[queue]
dir = "{tmp_path / "state"}"
[metrics]
port = 0
{extra}""",
        encoding="utf-8",
    )
    args = [
        "agent",
        "run",
        "--config",
        str(config),
        "--policy",
        policy,
        "--max-seconds",
        "60",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in events.read_text(encoding="utf-8").splitlines()]
    return [e for e in lines if e["type"] in kinds]


def test_an_enforcing_agent_gives_the_rl_policy_live_decisions() -> None:
    # The agent's dry_run reaches the RL policy as it does the playbook: an enforcing agent
    # must not get simulated decisions from it (they would never reach nftables).
    from swarmguard.agent.config import PolicyConfig
    from swarmguard.agent.runtime import build_policy

    live = build_policy(PolicyConfig(name="rl:default"), dry_run=False)
    assert getattr(live, "dry_run", None) is False
    assert getattr(build_policy(PolicyConfig(name="rl:default")), "dry_run", None) is True

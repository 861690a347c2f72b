"""The agent runs the trained RL defender (``--policy rl:default``) behind the usual rails."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from swarmguard.cli.app import app
from swarmguard.respond.ledger import DecisionLedger

REPO = Path(__file__).resolve().parents[3]
SYNFLOOD = REPO / "data" / "demo" / "pcaps" / "synflood_first2000.pcap"


def test_dry_run_agent_with_rl_policy_on_a_replayed_capture(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    config = tmp_path / "agent.toml"
    config.write_text(
        f"""agent_id = "edge1"
events_file = "{events}"
[[sources]]
kind = "pcap"
path = "{SYNFLOOD}"
[queue]
dir = "{tmp_path / "state"}"
[metrics]
port = 0
""",
        encoding="utf-8",
    )
    args = [
        "agent",
        "run",
        "--config",
        str(config),
        "--policy",
        "rl:default",
        "--max-seconds",
        "60",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in events.read_text(encoding="utf-8").splitlines()]
    decisions = [e for e in lines if e["type"] == "decision"]
    assert decisions, "the RL policy took no decision on a SYN flood"
    ledger = DecisionLedger(tmp_path / "state" / "decisions.sqlite")
    for d in decisions:
        assert d["policy"] == "rl"
        assert d["simulated"] is True  # dry-run: only the dryrun enforcer saw it
        assert d["applied"] == ["dryrun"]
        assert d["ttl_s"] > 0
        stored = ledger.get(d["uid"])
        assert stored is not None and stored.ttl_s == d["ttl_s"]

"""The agent wired together: config errors, a capture replay end to end, health and metrics."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from swarmguard.acquire.rawpackets import Packet
from swarmguard.agent.config import load_agent_config, parse_agent_config
from swarmguard.agent.outbox import Outbox
from swarmguard.agent.responder import Responder
from swarmguard.agent.runtime import AgentRuntime
from swarmguard.errors import InputError, SwarmguardError
from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.records.decision import Decision, Feedback
from swarmguard.respond.base import PolicyContext
from swarmguard.respond.ledger import DecisionLedger
from swarmguard.respond.rails import RailsConfig, SafetyRails

REPO = Path(__file__).resolve().parents[3]


def test_example_config_is_valid() -> None:
    cfg = load_agent_config(REPO / "examples" / "agent.toml")
    assert cfg.agent_id
    assert cfg.response.dry_run is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('agent_id = "a"\n[[sources]]\nkind = "live"\n', "sources.0: a live source needs"),
        ('agent_id = "a"\n[[sources]]\nkind = "pcap"\n', "sources.0: a pcap source needs 'path'"),
        ('agent_id = "a"\n[coordinator]\nurl = "ftp://x"\n', "coordinator.url: must start"),
        ('agent_id = "a"\nenforcers = []\n', "enforcers: give at least one"),
        ('agent_id = "a"\n[allowlist]\ncidrs = ["10.0.0.0/33"]\n', "allowlist.cidrs"),
        ('agent_id = "a"\n[detectors]\nlearned = "svm"\n', "needs 'model'"),
        ('agent_id = "a"\n[respons]\ndry_run = false\n', "respons: Extra inputs"),
        ("agent_id = \n", "not valid TOML"),
        ("", "agent_id: Field required"),
    ],
)
def test_config_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        parse_agent_config(text, "agent.toml")


def test_token_file_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    cfg = parse_agent_config(
        f'agent_id = "a"\n[coordinator]\nurl = "http://c:1/"\ntoken_file = "{tmp_path}/token"\n'
    )
    assert cfg.coordinator is not None
    assert cfg.coordinator.url == "http://c:1"
    assert cfg.coordinator.bearer() == "s3cret"
    with pytest.raises(InputError, match="cannot read"):
        load_agent_config(tmp_path / "nope.toml")


def test_unknown_enforcer_and_bad_options(tmp_path: Path) -> None:
    base = f'agent_id = "a"\n[queue]\ndir = "{tmp_path}"\n[metrics]\nport = 0\n'
    with pytest.raises(SwarmguardError, match="unknown enforcer 'nope'"):
        AgentRuntime(parse_agent_config(base + '[[enforcers]]\nname = "nope"\n'))
    with pytest.raises(SwarmguardError, match=r"enforcers.0 \(dryrun\): bad options"):
        AgentRuntime(
            parse_agent_config(base + '[[enforcers]]\nname = "dryrun"\noptions = {x = 1}\n')
        )


def test_pcap_replay_detects_decides_and_queues(tmp_path: Path, scan_pcap: Path) -> None:
    pcap = scan_pcap
    events = tmp_path / "events.jsonl"
    cfg = parse_agent_config(
        f"""agent_id = "edge1"
events_file = "{events}"
[[sources]]
kind = "pcap"
path = "{pcap}"
[queue]
dir = "{tmp_path / "state"}"
[metrics]
port = 0
"""
    )
    assert AgentRuntime(cfg).run(threading.Event(), max_seconds=30) == 0
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    decisions = [e for e in lines if e["type"] == "decision"]
    assert [d["value"] for d in decisions] == ["198.51.100.9"]
    assert decisions[0]["simulated"] is True  # dry-run by default
    assert decisions[0]["applied"] == ["dryrun"]
    assert decisions[0]["detect_to_enforce_ms"] > 0
    box = Outbox(tmp_path / "state" / "outbox.sqlite")
    pending = box.pending()
    assert pending["alert"] >= 1 and pending["decision"] == 1  # kept for the coordinator
    ledger = DecisionLedger(tmp_path / "state" / "decisions.sqlite")
    assert ledger.get(decisions[0]["uid"]) is not None


def test_health_and_metrics_endpoint(tmp_path: Path) -> None:
    cfg = parse_agent_config(
        f'agent_id = "edge1"\n[queue]\ndir = "{tmp_path}"\n[metrics]\nport = 0\n'
    )
    agent = AgentRuntime(cfg)
    agent.start()
    try:
        assert agent.health_server is not None
        base = f"http://127.0.0.1:{agent.health_server.port}"
        with urllib.request.urlopen(base + "/healthz", timeout=5) as resp:
            health = json.loads(resp.read())
        assert health["ok"] is True and health["agent_id"] == "edge1"
        assert health["coordinator"] == "none"
        with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
        assert "swarmguard_agent_packets_total" in text
        assert "swarmguard_agent_detect_to_enforce_seconds_bucket" in text
    finally:
        agent.close()


class _BlockSources:
    name = "block-sources"

    def decide(self, alerts: Sequence[Alert], context: PolicyContext) -> list[Decision]:
        return [
            Decision(
                ts=context.now,
                action="block",
                scope="ip",
                value=str(a.src_ip),
                ttl_s=60,
                origin=context.origin,
                simulated=False,
            )
            for a in alerts
        ]


class _Recorder:
    name = "recorder"

    def __init__(self) -> None:
        from swarmguard.respond.enforcers.dryrun import DryRunEnforcer

        self._inner = DryRunEnforcer()

    def apply(self, decision: Decision) -> Feedback:
        return self._inner.apply(decision).model_copy(update={"enforcer": self.name})

    def revoke(self, decision: Decision) -> Feedback:
        return self._inner.revoke(decision).model_copy(update={"enforcer": self.name})

    def list(self) -> list[str]:
        return self._inner.list()


def _pkt(src: str, dst: str, flags: int, ts_ns: int) -> Packet:
    return Packet(
        ts_ns=ts_ns,
        number=1,
        linktype=101,
        frame=b"",
        ip_version=4,
        src_ip=src,
        dest_ip=dst,
        proto=6,
        src_port=22,
        dest_port=40000,
        tcp_flags=flags,
    )


@pytest.mark.parametrize(("answers", "status"), [(0, "effective"), (3, "ineffective")])
def test_effect_check_counts_answers_after_a_real_block(answers: int, status: str) -> None:
    rails = SafetyRails(
        DecisionLedger(":memory:"), [_Recorder()], config=RailsConfig(dry_run=False)
    )
    box = Outbox(":memory:")
    resp = Responder(
        agent_id="e", policy=_BlockSources(), rails=rails, outbox=box, effect_check_s=0.05
    )
    alert = Alert(
        ts=datetime.now(UTC),
        src_ip="198.51.100.7",
        detector="rules",
        score=1.0,
        alert=AlertInfo(signature_id=1, signature="x", category="dos", severity=1),
    )
    [decision] = resp.handle([alert])
    assert decision.simulated is False
    later = time.time_ns() + 1_000_000
    resp.observe(_pkt("198.51.100.7", "10.250.0.2", 0x02, later))  # arrives, dropped
    resp.observe(_pkt("10.250.0.2", "198.51.100.7", 0x10, later))  # old connection
    for _ in range(answers):
        resp.observe(_pkt("10.250.0.2", "198.51.100.7", 0x12, later))  # SYN-ACK: got through
    time.sleep(0.06)
    resp.tick()
    fb = [
        f for f in rails.ledger.feedback(decision.uid) if f.status in ("effective", "ineffective")
    ]
    assert [(f.status, f.packets_after, f.enforcer) for f in fb] == [(status, answers, "recorder")]


class _Spy:
    name = "spy"

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def decide(self, alerts: Sequence[Alert], context: PolicyContext) -> list[Decision]:
        self.seen.append(sorted(d.value for d in context.active))
        return []


def _alert(src: str) -> Alert:
    return Alert(
        ts=datetime.now(UTC),
        src_ip=src,
        dest_ip="10.250.0.2",
        detector="rules",
        score=1.0,
        alert=AlertInfo(signature_id=1, signature="x", category="dos", severity=1),
    )


def test_shared_decisions_and_policy_context() -> None:
    rails = SafetyRails(DecisionLedger(":memory:"))
    spy = _Spy()
    resp = Responder(agent_id="edge1", policy=spy, rails=rails, outbox=Outbox(":memory:"))
    now = datetime.now(UTC)
    shared = [
        Decision(
            ts=now,
            action="block",
            scope="ip",
            value=f"203.0.113.{i}",
            ttl_s=60,
            origin="coordinator",
        )
        for i in range(1, 40)
    ]
    shared.append(
        Decision(
            ts=now,
            action="block",
            scope="cidr",
            value="198.51.100.0/24",
            ttl_s=60,
            origin="agent:edge2",
        )
    )
    mine = Decision(
        ts=now, action="block", scope="ip", value="192.0.2.1", ttl_s=60, origin="agent:edge1"
    )
    resp.shared([*shared, mine], [])
    assert rails.ledger.count_active(now) == 40  # its own echo is not enforced twice
    assert rails.ledger.get(mine.uid) is None
    resp.handle([_alert("203.0.113.5")])  # blocked already: the policy is not asked
    resp.handle([_alert("198.51.100.20")])  # inside a blocked /24: asked, with that /24
    resp.handle([_alert("192.0.2.77")])
    # Only decisions covering the alert's addresses reach the policy's context.
    assert spy.seen[-1] == []
    assert ["198.51.100.0/24"] in spy.seen
    resp.shared([], [shared[4]])
    assert rails.ledger.is_revoked(shared[4].uid)
    resp.handle([_alert("203.0.113.5")])
    assert spy.seen[-1] == []  # lifted: asked again, nothing in force covers it


def _cli_app() -> typer.Typer:
    from swarmguard.cli.agent_run import agent_run_command

    app = typer.Typer()
    app.command()(agent_run_command)
    return app


def test_cli_check_and_one_line_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(f'agent_id = "edge1"\n[queue]\ndir = "{tmp_path}"\n')
    res = CliRunner().invoke(_cli_app(), ["--config", str(good), "--check"])
    assert res.exit_code == 0, res.output
    assert "ok (agent edge1, 0 source(s))" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text('agent_id = "edge1"\n[response]\ndry_rn = false\n')
    res = CliRunner().invoke(_cli_app(), ["--config", str(bad)])
    assert res.exit_code == 2
    assert "response.dry_rn: Extra inputs are not permitted" in res.output


def test_sigterm_stops_the_agent_cleanly(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f'agent_id = "edge1"\n[queue]\ndir = "{tmp_path}"\n[metrics]\nport = 0\n')
    code = "import typer; from swarmguard.cli.agent_run import agent_run_command as c; typer.run(c)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "started" in line:
                break
        time.sleep(0.5)
        assert proc.poll() is None  # no sources: it runs on (shared decisions)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "agent edge1 stopped" in "".join(lines) + out

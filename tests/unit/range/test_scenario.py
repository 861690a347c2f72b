"""Scenario files, agent configuration and attack command lines (no namespaces needed)."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from swarmguard.agent.config import AgentConfig
from swarmguard.errors import InputError
from swarmguard.range.agents import agent_config, to_toml
from swarmguard.range.attacks import attack_command
from swarmguard.range.scenario import ATTACK_CATEGORIES, AttackStep, load_scenario
from swarmguard.range.topology import address_plan

BASE: dict[str, Any] = {
    "name": "t",
    "zones": [
        {
            "name": "users",
            "subnet": "10.206.0.0/24",
            "hosts": [{"name": "ws1"}, {"name": "inf1", "role": "infected"}],
            "users": [{"host": "ws1", "kind": "browse", "target": "srv1", "per_min": 10}],
        },
        {
            "name": "servers",
            "subnet": "10.207.0.0/24",
            "hosts": [{"name": "srv1", "role": "server", "services": ["nginx", "dnsmasq"]}],
        },
    ],
    "attacker": {"schedule": [{"at_s": 1, "tool": "nmap", "target": "srv1"}]},
}


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "sc.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _with(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(BASE))
    for dotted, value in changes.items():
        node: Any = data
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        node[int(last) if last.isdigit() else last] = value
    return data


def test_shipped_scenarios_load() -> None:
    for name in ("small", "campus"):
        sc = load_scenario(name)
        plan = address_plan(sc)
        ips = [h.ip for h in plan.values()]
        assert len(ips) == len(set(ips))
        low, high = ipaddress.IPv4Address("10.200.0.0"), ipaddress.IPv4Address("10.209.255.255")
        assert all(low <= ipaddress.IPv4Address(ip) <= high for ip in ips)
        # every non-sample step comes from its own attacker address
        tools = [s for s in sc.attacker.schedule if not s.tool.startswith("sample:")]
        assert sum(1 for h in plan.values() if h.role == "attacker") == len(tools)
    campus = load_scenario("campus")
    assert 4 <= len(campus.zones) <= 6
    assert 18 <= sum(len(z.hosts) for z in campus.zones) <= 24
    assert {s.tool for s in campus.attacker.schedule} == set(ATTACK_CATEGORIES)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"zones__0__colour": "red"}, "zones.0.colour: Extra inputs are not permitted"),
        ({"zones__0__subnet": "192.168.0.0/24"}, "zones.users.subnet 192.168.0.0/24 is outside"),
        ({"zones__1__subnet": "10.206.0.0/25"}, "overlaps another zone"),
        ({"zones__0__subnet": "10.206.0.1/24"}, "zones.users.subnet: 10.206.0.1/24 has host"),
        ({"zones__0__users__0__target": "nope"}, "zones.users.users.0.target: unknown host"),
        ({"zones__0__users__0__kind": "ssh"}, "host 'srv1' does not run sshd"),
        ({"zones__0__users__0__host": "srv1"}, "'srv1' is not in zone users"),
        ({"attacker__schedule__0__tool": "nessus"}, "attacker.schedule.0.tool"),
        ({"attacker__schedule__0__tool": "hydra-ssh"}, "host 'srv1' does not run sshd"),
        ({"attacker__schedule__0__tool": "sample:beacon"}, "needs 'source'"),
        (
            {"attacker__schedule__0": {"at_s": 0, "tool": "sample:beacon", "source": "ws1"}},
            "'ws1' is not an infected host",
        ),
        ({"zones__1__hosts__0__name": "ws1"}, "host names must be unique"),
        ({"zones__0__hosts__0__name": "Bad_Name"}, "zones.0.hosts.0.name"),
        ({"duration_s": -1}, "duration_s: Input should be greater than 0"),
    ],
)
def test_validation_errors_name_the_key_and_file(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path, _with(**changes))
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    assert str(path) in str(exc.value)
    assert message in str(exc.value)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such scenario file"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("zones: [\n  - {name: x\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_scenario(bad)
    bad.write_text("- just a list\n")
    with pytest.raises(InputError, match="a scenario is a YAML mapping"):
        load_scenario(bad)


def test_quick_keeps_steps_that_fit() -> None:
    sc = load_scenario("campus")
    quick = sc.with_quick()
    assert quick.duration_s == sc.quick.duration_s
    assert quick.attacker.schedule
    assert all(s.at_s + s.duration_s <= quick.duration_s for s in quick.attacker.schedule)
    assert len(quick.attacker.schedule) < len(sc.attacker.schedule)


def test_agent_config_is_valid_toml_for_the_agent(tmp_path: Path) -> None:
    cfg = agent_config(
        "users",
        interface="br-users",
        protected=["10.206.0.0/24"],
        home_net=["10.206.0.0/24", "10.207.0.0/24"],
        agent_dir=tmp_path,
        port=9470,
        coordinator="http://127.0.0.1:8480",
        token="tok",
        overrides={
            "response": {"dry_run": True},
            "zones": {"users": {"detectors": {"threshold": 0.7}}, "other": {"agent_id": "x"}},
        },
    )
    text = to_toml(cfg)
    parsed = AgentConfig.model_validate(tomllib.loads(text))
    assert parsed.agent_id == "users"
    assert parsed.response.dry_run is True
    assert parsed.detectors.threshold == 0.7
    assert parsed.detectors.rules and parsed.detectors.packet_rules
    assert parsed.enforcers[0].name == "nftables"
    assert parsed.enforcers[0].options == {"table": "swarmguard_users"}
    assert parsed.sources[0].interface == "br-users"


@pytest.mark.parametrize("tool", sorted(ATTACK_CATEGORIES))
def test_every_tool_has_a_bounded_command(tool: str, tmp_path: Path) -> None:
    sample = tool.startswith("sample:")
    step = AttackStep(
        at_s=0, tool=tool, target="" if sample else "srv1", source="inf1" if sample else ""
    )
    cmd = attack_command(
        step, dst_ip="10.207.0.10", src_ip="10.209.0.11", gateway="10.209.0.1", workdir=tmp_path
    )
    assert cmd.args[:4] == ["timeout", "-s", "KILL", "8"]
    assert any("10.207.0.10" in a for a in cmd.args) or sample
    assert step.category in {"probe", "dos", "brute_force", "web_attack", "botnet", "infiltration"}

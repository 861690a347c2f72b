"""The coordinator and one edge agent per zone, all in the router's namespace.

Each zone's agent sniffs that zone's bridge (``br-<zone>``) and enforces with the nftables
enforcer in its own table (``swarmguard_<zone>``, input and forward hooks) in the router's
namespace, so a block cuts the source off every zone. The agents report to a coordinator on
the router's loopback. ``agent_config`` builds the TOML each agent reads; overrides are merged
into it key by key (a ``zones`` key holds per-zone overrides).

>>> cfg = agent_config("users", interface="br-users", protected=["10.201.0.0/24"],
...     home_net=["10.201.0.0/24"], agent_dir=Path("/tmp/a"), port=9470,
...     coordinator="http://127.0.0.1:8480", token="t",
...     overrides={"detectors": {"learned": "svm"},
...                "zones": {"users": {"policy": {"name": "rl:default"}}}})
>>> cfg["detectors"]["learned"], cfg["detectors"]["rules"], cfg["policy"]["name"]
('svm', True, 'rl:default')
>>> print(to_toml({"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": [{"f": True}]}))
a = 1
b = {c = [1, 2], d = "x"}
e = [{f = true}]
<BLANKLINE>
"""

from __future__ import annotations

import copy
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from swarmguard.errors import InputError, SwarmguardError
from swarmguard.range.topology import RangeNet, bridge

__all__ = ["COORD_PORT", "Agents", "agent_config", "merge", "to_toml"]

COORD_PORT = 8480
"""The coordinator's port on the router's loopback."""
METRICS_PORT = 9470
"""The first zone agent's /healthz port (then +1 per zone)."""


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: tables key by key, anything else replaced.

    >>> merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": [1]})
    {'a': {'b': 1, 'c': 3}, 'd': [1]}
    """
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str | Path):
        return json.dumps(str(v))
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise InputError("agent_overrides", f"cannot write {type(v).__name__} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def to_toml(data: dict[str, Any]) -> str:
    """A TOML document of ``data``: one top-level key per line, inline tables below it."""
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in data.items() if v is not None)


def agent_config(
    zone: str,
    *,
    interface: str,
    protected: list[str],
    home_net: list[str],
    agent_dir: Path,
    port: int,
    coordinator: str | None,
    token: str,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The configuration of ``zone``'s agent, with ``overrides`` merged in."""
    cfg: dict[str, Any] = {
        "agent_id": zone,
        "protected": protected,
        "events_file": str(agent_dir / "events.jsonl"),
        "sources": [{"kind": "live", "interface": interface}],
        "detectors": {"rules": True, "packet_rules": True, "home_net": home_net},
        "policy": {"name": "playbook"},
        "response": {"dry_run": False, "effect_check_s": 2.0, "shared": True},
        "enforcers": [{"name": "nftables", "options": {"table": f"swarmguard_{zone}"}}],
        "allowlist": {"cidrs": [], "own_addresses": True},
        "queue": {"dir": str(agent_dir / "queue")},
        "metrics": {"enabled": True, "host": "127.0.0.1", "port": port},
    }
    if coordinator:
        cfg["coordinator"] = {
            "url": coordinator,
            "token": token,
            "flush_s": 0.2,
            "pull_s": 0.5,
            "backoff_max_s": 1.0,
            "heartbeat_s": 5.0,
        }
    extra = dict(overrides or {})
    zones = extra.pop("zones", {}) or {}
    cfg = merge(cfg, extra)
    return merge(cfg, zones.get(zone, {}))


class Agents:
    """Starts the coordinator and the zones' agents in the router's namespace."""

    def __init__(self, net: RangeNet, overrides: dict[str, Any] | None) -> None:
        self.net = net
        self.overrides = overrides or {}
        self.dirs: dict[str, Path] = {}
        self.events: dict[str, Path] = {}
        self.ports: dict[str, int] = {}
        self.coordinator_db = net.workdir / "coordinator" / "coordinator.db"
        self.tokens = {z.name: secrets.token_hex(16) for z in net.scenario.zones}
        self.admin_token = secrets.token_hex(16)
        self.bin = Path(sys.executable).parent

    def start_coordinator(self) -> None:
        """``swarmguard coordinator serve`` on the router's loopback."""
        d = self.coordinator_db.parent
        d.mkdir(parents=True, exist_ok=True)
        tokens = d / "tokens.json"
        tokens.write_text(json.dumps(self.tokens))
        gateways = [f"{self.net.plan[z.hosts[0].name].gateway}/32" for z in self.net.scenario.zones]
        allow = [a for g in gateways for a in ("--allow", g)]
        self.net.start(
            "coordinator", self.net.scenario.router, str(self.bin / "swarmguard"),
            "coordinator", "serve", "--host", "127.0.0.1", "--port", str(COORD_PORT),
            "--db", str(self.coordinator_db), "--tokens", str(tokens),
            "--admin-token", self.admin_token, *allow,
        )  # fmt: skip
        self.net.wait_for(lambda: self._healthy(COORD_PORT), "the coordinator's /healthz", 60)

    def _healthy(self, port: int) -> bool:
        res = self.net.run_in(
            self.net.scenario.router, "curl", "-sf", "--max-time", "1",
            f"http://127.0.0.1:{port}/healthz", timeout=5,
        )  # fmt: skip
        return res.returncode == 0

    def health(self, zone: str) -> dict[str, Any]:
        """The agent's /healthz JSON (empty when it does not answer)."""
        res = self.net.run_in(
            self.net.scenario.router, "curl", "-sf", "--max-time", "1",
            f"http://127.0.0.1:{self.ports[zone]}/healthz", timeout=5,
        )  # fmt: skip
        try:
            data = json.loads(res.stdout) if res.returncode == 0 else {}
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def start_agents(self, coordinator: bool = True) -> None:
        """Write each zone's agent.toml, check it, start the agents and wait until all answer."""
        sc = self.net.scenario
        home = [z.subnet for z in sc.zones]
        for i, zone in enumerate(sc.zones):
            d = self.net.workdir / "agents" / zone.name
            d.mkdir(parents=True, exist_ok=True)
            self.dirs[zone.name] = d
            self.events[zone.name] = d / "events.jsonl"
            self.ports[zone.name] = METRICS_PORT + i
            cfg = agent_config(
                zone.name,
                interface=bridge(zone.name),
                protected=[zone.subnet],
                home_net=home,
                agent_dir=d,
                port=METRICS_PORT + i,
                coordinator=f"http://127.0.0.1:{COORD_PORT}" if coordinator else None,
                token=self.tokens[zone.name],
                overrides=self.overrides,
            )
            path = d / "agent.toml"
            path.write_text(to_toml(cfg))
            self.net.start(
                f"agent-{zone.name}", sc.router, str(self.bin / "swarmguard"), "agent", "run",
                "--config", str(path), "--progress", "10", log=d / "agent.log",
            )  # fmt: skip
        for zone in sc.zones:

            def up(z: str = zone.name, proc: Any = self.net.procs[f"agent-{zone.name}"]) -> bool:
                if proc.poll() is not None:
                    log = (self.dirs[z] / "agent.log").read_text(errors="replace")
                    raise SwarmguardError(
                        f"range: the agent of zone {z} exited: {log.strip()[-400:]}"
                    )
                return bool(self.health(z))

            self.net.wait_for(up, f"the agent of zone {zone.name}", 120)

    def stop(self) -> None:
        """Stop the agents (they flush their queues and event logs), then the coordinator."""
        for zone in self.dirs:
            self.net.stop(f"agent-{zone}", timeout=20)
        self.net.stop("coordinator", timeout=10)

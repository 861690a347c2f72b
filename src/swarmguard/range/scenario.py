"""Scenario files: zones of hosts, services, benign users and a schedule of attacks (YAML).

A scenario is read into a strict pydantic model, so a misspelt key or a bad value is an error
that names the file and the key. ``small`` and ``campus`` ship with the package
(``range/scenarios/``); any other name is a path.

>>> sc = load_scenario("small")
>>> sc.name, [z.name for z in sc.zones], sc.attacker.subnet
('small', ['users', 'servers'], '10.209.0.0/24')
>>> sorted({a.category for a in sc.attacker.schedule})[:3]
['botnet', 'brute_force', 'dos']
>>> sc.with_quick().duration_s <= sc.duration_s
True
>>> len(load_scenario("campus").with_quick().attacker.schedule)
12
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from swarmguard.errors import InputError

__all__ = [
    "ATTACK_CATEGORIES",
    "SCENARIOS_DIR",
    "AttackStep",
    "AttackerZone",
    "Host",
    "Scenario",
    "UserActivity",
    "Zone",
    "load_scenario",
    "shipped_scenarios",
]

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
"""Where the shipped scenarios (``small.yaml``, ``campus.yaml``) live."""

Tool = Literal[
    "nmap",
    "masscan",
    "hping3",
    "hydra-ssh",
    "hydra-ftp",
    "slowhttptest",
    "curl-web",
    "sample:beacon",
    "sample:dns_tunnel",
    "sample:http_exfil",
]
Service = Literal["nginx", "sshd", "vsftpd", "dnsmasq"]
UserKind = Literal["browse", "ssh", "ftp", "dns"]

ATTACK_CATEGORIES: dict[str, str] = {
    "nmap": "probe",
    "masscan": "probe",
    "hping3": "dos",
    "hydra-ssh": "brute_force",
    "hydra-ftp": "brute_force",
    "slowhttptest": "dos",
    "curl-web": "web_attack",
    "sample:beacon": "botnet",
    "sample:dns_tunnel": "infiltration",
    "sample:http_exfil": "infiltration",
}
"""Each tool's class in the project taxonomy (``swarmguard.records.labels.AttackClass``)."""

_SERVICE_FOR: dict[str, Service] = {
    "hydra-ssh": "sshd",
    "hydra-ftp": "vsftpd",
    "slowhttptest": "nginx",
    "curl-web": "nginx",
    "browse": "nginx",
    "ssh": "sshd",
    "ftp": "vsftpd",
    "dns": "dnsmasq",
}
_NAME = r"^[a-z][a-z0-9]{0,9}$"
_LOW = ipaddress.IPv4Address("10.200.0.0")
_HIGH = ipaddress.IPv4Address("10.209.255.255")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Host(_Strict):
    """One host: its own network namespace with one address in its zone."""

    name: str = Field(pattern=_NAME, description="short name (a-z, 0-9, at most 10 chars)")
    role: Literal["workstation", "server", "infected"] = "workstation"
    services: list[Service] = Field(default_factory=list)


class UserActivity(_Strict):
    """A benign user on ``host`` doing ``kind`` requests against ``target`` at a mean rate."""

    host: str
    kind: UserKind
    target: str = Field(description="name of the host that serves the request")
    per_min: float = Field(gt=0, le=600, description="mean requests per minute (Poisson)")


class Zone(_Strict):
    """A subnet of hosts behind one router interface, defended by one agent."""

    name: str = Field(pattern=_NAME)
    subnet: str
    hosts: list[Host] = Field(min_length=1)
    users: list[UserActivity] = Field(default_factory=list)


class AttackStep(_Strict):
    """One attack on the schedule: ``tool`` against ``target``, ``at_s`` into the phase.

    Tools run from their own attacker host (a fresh address per step, so a block of one
    attack does not hide the next); ``sample:*`` steps run on ``source``, an infected host.
    """

    at_s: float = Field(ge=0)
    tool: Tool
    target: str = Field("", description="host name attacked (samples: empty, they call the C2)")
    source: str = Field("", description="sample:* only: the infected host that runs it")
    duration_s: float = Field(8.0, gt=0, le=300, description="the tool is stopped after this")
    phase: Literal["both", "warmup", "measure"] = "both"

    @property
    def category(self) -> str:
        """The attack class of this step's tool."""
        return ATTACK_CATEGORIES[self.tool]

    @model_validator(mode="after")
    def _shape(self) -> AttackStep:
        if self.tool.startswith("sample:"):
            if not self.source:
                raise ValueError(f"{self.tool} needs 'source' (an infected host)")
        elif not self.target:
            raise ValueError(f"{self.tool} needs 'target'")
        return self


class AttackerZone(_Strict):
    """The outside: the C2 server (``c2`` at .10) and one attacker host per scheduled step."""

    subnet: str = "10.209.0.0/24"
    schedule: list[AttackStep] = Field(default_factory=list)


class Quick(_Strict):
    """Shorter phases for ``--quick`` runs."""

    warmup_s: float | None = Field(None, gt=0)
    duration_s: float | None = Field(None, gt=0)


class Scenario(_Strict):
    """A whole range: zones, the attacker zone, and how long each phase lasts."""

    name: str
    description: str = ""
    warmup_s: float = Field(60.0, gt=0, description="warm-up phase length (training capture)")
    duration_s: float = Field(90.0, gt=0, description="measure phase length")
    settle_s: float = Field(5.0, ge=0, description="wait after the last attack before stopping")
    quick: Quick = Field(default_factory=Quick)
    router: str = Field("router", pattern=_NAME)
    fail2ban_host: str = Field(
        "", description="the one host whose sshd fail2ban watches (default: every sshd host)"
    )
    zones: list[Zone] = Field(min_length=1, max_length=8)
    attacker: AttackerZone = Field(default_factory=AttackerZone)

    def with_quick(self) -> Scenario:
        """The same scenario with the ``quick`` phase lengths; steps that end later are dropped."""
        update: dict[str, object] = {
            k: v for k, v in self.quick.model_dump().items() if v is not None
        }
        length = float(self.quick.duration_s or self.duration_s)
        kept = [s for s in self.attacker.schedule if s.at_s + s.duration_s <= length]
        update["attacker"] = self.attacker.model_copy(update={"schedule": kept})
        return self.model_copy(update=update)

    def host_zone(self) -> dict[str, tuple[Host, Zone]]:
        """Every defended host by name, with its zone."""
        return {h.name: (h, z) for z in self.zones for h in z.hosts}

    def steps(self, phase: Literal["warmup", "measure"]) -> list[AttackStep]:
        """The steps of ``phase``, in time order."""
        return sorted(
            (s for s in self.attacker.schedule if s.phase in ("both", phase)),
            key=lambda s: s.at_s,
        )

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        nets: list[ipaddress.IPv4Network] = []
        for where, subnet in [(f"zones.{z.name}", z.subnet) for z in self.zones] + [
            ("attacker", self.attacker.subnet)
        ]:
            try:
                net = ipaddress.IPv4Network(subnet, strict=True)
            except ValueError as exc:
                raise ValueError(f"{where}.subnet: {exc}") from None
            if not (net.network_address >= _LOW and net.broadcast_address <= _HIGH):
                raise ValueError(f"{where}.subnet {subnet} is outside 10.200.0.0-10.209.255.255")
            if net.prefixlen > 26:
                raise ValueError(f"{where}.subnet {subnet}: at most /26")
            if any(net.overlaps(n) for n in nets):
                raise ValueError(f"{where}.subnet {subnet} overlaps another zone")
            nets.append(net)
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names) or "attacker" in names:
            raise ValueError("zone names must be unique and not 'attacker'")
        hosts = self.host_zone()
        if sum(len(z.hosts) for z in self.zones) != len(hosts):
            raise ValueError("host names must be unique across zones")
        if self.router in hosts:
            raise ValueError(f"router: {self.router!r} is also a host name")

        def serving(name: str, what: str, where: str) -> None:
            if name not in hosts:
                raise ValueError(f"{where}: unknown host {name!r}")
            need = _SERVICE_FOR.get(what)
            if need and need not in hosts[name][0].services:
                raise ValueError(f"{where}: host {name!r} does not run {need}")

        for z in self.zones:
            for i, u in enumerate(z.users):
                where = f"zones.{z.name}.users.{i}"
                if u.host not in {h.name for h in z.hosts}:
                    raise ValueError(f"{where}.host: {u.host!r} is not in zone {z.name}")
                serving(u.target, u.kind, f"{where}.target")
        for i, s in enumerate(self.attacker.schedule):
            where = f"attacker.schedule.{i}"
            if s.tool.startswith("sample:"):
                if s.source not in hosts or hosts[s.source][0].role != "infected":
                    raise ValueError(f"{where}.source: {s.source!r} is not an infected host")
                if not self.dns_server():
                    raise ValueError(f"{where}: samples need a host running dnsmasq")
            else:
                serving(s.target, s.tool, f"{where}.target")
        if len(self.attacker.schedule) > 200:
            raise ValueError("attacker.schedule: at most 200 steps")
        if self.fail2ban_host:
            serving(self.fail2ban_host, "ssh", "fail2ban_host")
        return self

    def fail2ban_targets(self) -> list[str]:
        """Where fail2ban runs: ``fail2ban_host``, else every host running sshd."""
        if self.fail2ban_host:
            return [self.fail2ban_host]
        return [h.name for z in self.zones for h in z.hosts if "sshd" in h.services]

    def dns_server(self) -> str:
        """The first host running dnsmasq (the campus resolver), or ``""``."""
        return next((h.name for z in self.zones for h in z.hosts if "dnsmasq" in h.services), "")


def shipped_scenarios() -> list[str]:
    """Names of the scenarios that ship with swarmguard.

    >>> shipped_scenarios()
    ['campus', 'small']
    """
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read a scenario by shipped name (``small``, ``campus``) or from a YAML file.

    Raises
    ------
    InputError
        The file is missing, is not YAML, or a key is wrong (the message names it).
    """
    text = str(name_or_path)
    path = SCENARIOS_DIR / f"{text}.yaml" if text in shipped_scenarios() else Path(text)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(shipped_scenarios())
        raise InputError(path, f"no such scenario file (shipped: {known})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(path, "not valid YAML", line=None if line is None else line + 1) from None
    if not isinstance(raw, dict):
        raise InputError(path, "a scenario is a YAML mapping (name:, zones:, attacker: ...)")
    raw.setdefault("name", path.stem)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(path, f"{loc}: {msg}" if loc else msg) from None

r"""The agent's configuration: one TOML file read into typed settings.

Every table has a model with ``extra="forbid"``, so a misspelt key is an error that names it;
``load_agent_config`` turns pydantic's errors into one ``InputError`` line per file
(``agent.toml: sources.0.interface: Field required``). ``examples/agent.toml`` documents every
key; ``docs/agent.md`` explains them.

Examples
--------
>>> cfg = parse_agent_config('''
... agent_id = "edge1"
... [[sources]]
... kind = "live"
... interface = "eth0"
... ''')
>>> cfg.agent_id, cfg.sources[0].interface, [e.name for e in cfg.enforcers], cfg.policy.name
('edge1', 'eth0', ['dryrun'], 'playbook')
>>> parse_agent_config('agent_id = "x"\n[metrics]\nprot = 1\n')
Traceback (most recent call last):
...
swarmguard.errors.InputError: <agent config>: metrics.prot: Extra inputs are not permitted
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from swarmguard.errors import InputError

__all__ = [
    "AgentConfig",
    "AllowListConfig",
    "CoordinatorConfig",
    "DetectorsConfig",
    "EnforcerConfig",
    "MetricsConfig",
    "PolicyConfig",
    "QueueConfig",
    "ResponseConfig",
    "SourceConfig",
    "load_agent_config",
    "parse_agent_config",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Strict):
    """One input: a live interface, a capture to replay, a log file or a Suricata EVE file."""

    kind: Literal["live", "pcap", "logs", "eve"]
    interface: str | None = Field(None, description="live: the network interface to sniff")
    path: Path | None = Field(None, description="pcap / logs / eve: the file to read")
    format: str = Field("auto", description="logs: auto, auth, syslog, access, jsonl, evtx ...")
    follow: bool = Field(True, description="logs / eve: keep polling the file for new lines")
    poll_s: float = Field(1.0, gt=0, description="logs / eve: how often the file is polled")
    realtime: bool = Field(False, description="pcap: replay at the capture's own pace")

    @model_validator(mode="after")
    def _needs_target(self) -> SourceConfig:
        if self.kind == "live" and not self.interface:
            raise ValueError("a live source needs 'interface'")
        if self.kind != "live" and self.path is None:
            raise ValueError(f"a {self.kind} source needs 'path'")
        return self


class DetectorsConfig(_Strict):
    """What inspects the traffic: signature rules, per-source counters, a learned detector."""

    rules: bool = Field(True, description="Suricata-syntax rules on every packet")
    rules_file: Path | None = Field(None, description="own rule file (default: the shipped set)")
    home_net: list[str] = Field(
        default_factory=list, description="$HOME_NET for the rules (default: private ranges)"
    )
    packet_rules: bool = Field(True, description="fast per-source sliding-window counters")
    packet_rules_file: Path | None = Field(
        None, description="own packet threshold rules (default: the shipped set)"
    )
    flow_rules: bool = Field(False, description="flow threshold rules over metered flows")
    learned: str | None = Field(None, description="a learned detector by registry name")
    model: Path | None = Field(None, description="the fitted model file of the learned detector")
    threshold: float | None = Field(None, ge=0, le=1, description="override the model threshold")
    flow_batch_s: float = Field(1.0, gt=0, description="flow detectors: batch length")
    flow_idle_timeout_s: float = Field(
        120.0, gt=0, description="flow detectors: a flow ends after this much silence"
    )

    @model_validator(mode="after")
    def _model_for_learned(self) -> DetectorsConfig:
        if self.learned and self.model is None:
            raise ValueError(f"learned detector {self.learned!r} needs 'model' (a model file)")
        return self


class PolicyConfig(_Strict):
    """The local policy: ``playbook``, or ``rl:default`` / ``rl:PATH`` (a trained policy)."""

    name: str = Field("playbook", description="registry name; rl:PATH picks a trained RL policy")
    file: Path | None = Field(None, description="playbook file (TOML or YAML) with its rules")
    options: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments for the policy class"
    )


class ResponseConfig(_Strict):
    """Safety limits of local enforcement (the respond stage's rails)."""

    dry_run: bool = Field(
        True, description="only log decisions; false lets the configured enforcers act"
    )
    max_active: int = Field(10_000, gt=0, description="refuse new decisions beyond this many")
    max_ttl_s: float = Field(86_400.0, gt=0, description="cap on any decision's TTL")
    effect_check_s: float = Field(
        2.0, ge=0, description="after a block, watch this long that the target got no replies"
    )
    shared: bool = Field(True, description="enforce the coordinator's shared decisions too")


class EnforcerConfig(_Strict):
    """One enforcer by registry name, with its own options (passed to its class)."""

    name: str = Field(description="dryrun, nftables, webhook, quarantine, or a plug-in name")
    options: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments for the enforcer class"
    )


class AllowListConfig(_Strict):
    """Targets no decision may touch (own addresses and the coordinator are added)."""

    cidrs: list[str] = Field(default_factory=list, description="networks and addresses")
    own_addresses: bool = Field(True, description="add this host's interface addresses")

    @field_validator("cidrs")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value


class CoordinatorConfig(_Strict):
    """Where alerts go and the shared decisions come from (absent: the agent runs alone)."""

    url: str = Field(description="base URL, http(s)://host:port")
    token: str | None = Field(None, description="this agent's bearer token")
    token_file: Path | None = Field(None, description="file holding the token (preferred)")
    ca: Path | None = Field(None, description="CA certificate that signed the coordinator's")
    batch_size: int = Field(500, ge=1, le=1000, description="alerts per request")
    flush_s: float = Field(0.2, gt=0, description="how often the outbox is sent")
    pull_s: float = Field(1.0, gt=0, description="how often the shared decisions are pulled")
    heartbeat_s: float = Field(10.0, gt=0, description="heartbeat period")
    timeout_s: float = Field(5.0, gt=0, description="HTTP timeout per request")
    backoff_max_s: float = Field(5.0, gt=0, description="longest wait between retries")

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def bearer(self) -> str | None:
        """The token, read from ``token_file`` when given."""
        if self.token_file is not None:
            try:
                return self.token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise InputError(self.token_file, f"cannot read token: {exc.strerror}") from None
        return self.token


class QueueConfig(_Strict):
    """Where the durable outbox and the local decision ledger live."""

    dir: Path = Field(Path("swarmguard-agent"), description="state directory (created)")


class MetricsConfig(_Strict):
    """The local health and Prometheus endpoint (``/healthz``, ``/metrics``)."""

    enabled: bool = Field(True, description="serve the endpoint at all")
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(9464, ge=0, le=65535, description="TCP port; 0 picks a free one")


class AgentConfig(_Strict):
    """The whole agent configuration (see ``examples/agent.toml``)."""

    agent_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    protected: list[str] = Field(
        default_factory=list, description="local hosts this agent protects (quarantine targets)"
    )
    events_file: Path | None = Field(
        None, description="write every alert, decision and feedback here as JSON lines"
    )
    sources: list[SourceConfig] = Field(default_factory=list)
    detectors: DetectorsConfig = Field(default_factory=DetectorsConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    response: ResponseConfig = Field(default_factory=ResponseConfig)
    enforcers: list[EnforcerConfig] = Field(default_factory=lambda: [EnforcerConfig(name="dryrun")])
    allowlist: AllowListConfig = Field(default_factory=AllowListConfig)
    coordinator: CoordinatorConfig | None = None
    queue: QueueConfig = Field(default_factory=QueueConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)

    @field_validator("enforcers")
    @classmethod
    def _some_enforcer(cls, value: list[EnforcerConfig]) -> list[EnforcerConfig]:
        if not value:
            raise ValueError("give at least one enforcer (dryrun logs what it would do)")
        return value


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_agent_config(text: str, source: str = "<agent config>") -> AgentConfig:
    """Read the configuration from TOML text; errors name the file and the bad key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML: {exc}") from None
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = str(first["msg"]).removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(source, f"{_where(first['loc'])}: {msg}{more}") from None


def load_agent_config(path: Path) -> AgentConfig:
    """Read the configuration file at ``path``; relative paths in it are kept as written."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    return parse_agent_config(text, str(path))

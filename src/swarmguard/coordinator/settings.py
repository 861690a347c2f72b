"""Settings of the coordinator service: where it listens, its store, its credentials and limits.

Secrets (the admin token, agent tokens, bouncer keys) are held as given and never logged; the
store keeps only their SHA-256.

Examples
--------
>>> s = ServiceSettings(db="coordinator.db")
>>> s.store_url, s.ledger_path
('sqlite:///coordinator.db', 'coordinator.decisions.db')
>>> ServiceSettings(db=":memory:").store_url
'sqlite://'
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseModel):
    """Everything ``create_app`` and the uvicorn runner need."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8480, ge=0, le=65535, description="TCP port (0: any free port)")
    db: str = Field("coordinator.db", description="SQLite file of the store, or ':memory:'")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store (postgresql+psycopg://...); overrides `db`",
    )
    decisions_db: str | None = Field(
        None, description="SQLite file of the decision ledger (default: beside `db`)"
    )
    admin_token: SecretStr | None = Field(
        None, description="bearer token for revoke, listings and the dashboard"
    )
    agent_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description="pre-seeded agent_id -> token"
    )
    bouncer_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="CrowdSec bouncer name -> X-Api-Key"
    )
    tls_cert: Path | None = Field(None, description="PEM certificate (from `swarmguard certs`)")
    tls_key: Path | None = Field(None, description="PEM private key of that certificate")
    heartbeat_s: float = Field(10.0, gt=0, description="how often agents should heartbeat")
    max_batch: int = Field(1000, ge=1, description="most alerts in one batch (more: 413)")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="largest request body (more: 413)")
    max_active: int = Field(
        10_000,
        ge=1,
        description="most decisions in force at once; more are stored as refused (never served)",
    )
    correlate: bool = Field(True, description="run accepted alerts through the Correlator")
    correlation_window_s: float = Field(60.0, gt=0, description="correlation window")
    enforce: bool = Field(
        False, description="correlation decisions are real (not simulated / dry-run)"
    )
    allowlist: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="CIDRs no decision may target (own addresses, gateways)",
    )
    bouncer_simulated: bool = Field(
        False, description="also serve simulated (dry-run) decisions to CrowdSec bouncers"
    )

    @field_validator("allowlist")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @property
    def store_url(self) -> str:
        """SQLAlchemy URL of the store."""
        if self.database_url:
            return self.database_url
        if self.db == ":memory:":
            return "sqlite://"
        return f"sqlite:///{self.db}"

    @property
    def ledger_path(self) -> str:
        """SQLite path of the decision ledger."""
        if self.decisions_db:
            return self.decisions_db
        if self.db == ":memory:":
            return ":memory:"
        path = Path(self.db)
        return str(path.with_name(f"{path.stem}.decisions{path.suffix or '.db'}"))

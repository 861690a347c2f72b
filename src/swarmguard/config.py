"""Settings: one tree loaded from TOML and ``SWARMGUARD_*`` environment variables.

CLI flags are applied on top by the command that owns them. Settings are passed into the code that
needs them; nothing reads them from a global.

Examples
--------
>>> s = Settings()
>>> s.sensor_id
'local'
>>> s.flow.idle_timeout_s
120.0
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["FlowMeterSettings", "Settings"]


class FlowMeterSettings(BaseModel):
    """How packets are grouped into flows."""

    idle_timeout_s: float = Field(120.0, gt=0, description="end a flow after this much silence")
    active_timeout_s: float = Field(1800.0, gt=0, description="split flows longer than this")
    activity_threshold_s: float = Field(
        5.0, gt=0, description="a gap longer than this ends an active period (CICFlowMeter)"
    )


class Settings(BaseSettings):
    """Top of the settings tree."""

    model_config = SettingsConfigDict(env_prefix="SWARMGUARD_", env_nested_delimiter="__")

    sensor_id: str = Field("local", description="name of this agent or sensor")
    flow: FlowMeterSettings = Field(default_factory=FlowMeterSettings)

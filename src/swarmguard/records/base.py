"""Common fields of every typed record that crosses a process boundary."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["RecordModel", "new_uid"]


def new_uid() -> str:
    """Return a fresh random record id (a UUID4 in hex).

    Examples
    --------
    >>> len(new_uid())
    32
    """
    return uuid.uuid4().hex


class RecordModel(BaseModel):
    """Base of ``LogEvent``, ``Alert`` and later records: ts (UTC), uid, sensor_id, version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: datetime = Field(description="event time, UTC")
    uid: str = Field(default_factory=new_uid, description="unique id of this record")
    sensor_id: str = Field(default="local", description="agent or sensor that produced it")
    schema_version: int = Field(default=1, description="bumped on any field change")

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

"""Generate the committed JSON Schema files for the records.

``python -m swarmguard.records.schema`` rewrites ``records/schemas/*.json``; a test fails when the
committed files differ from what the models generate, so a field change is never silent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from swarmguard.records.alert import Alert
from swarmguard.records.decision import Decision, Feedback
from swarmguard.records.flow import FLOW_FIELDS
from swarmguard.records.log import LogEvent

__all__ = ["SCHEMA_DIR", "generate", "write"]

SCHEMA_DIR = Path(__file__).parent / "schemas"

_ARROW_TO_JSON = {"string": "string", "int32": "integer", "int64": "integer", "double": "number"}


def _flow_schema() -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in FLOW_FIELDS:
        type_name = str(f.type)
        json_type: Any = (
            {"type": "string", "format": "date-time"}
            if type_name.startswith("timestamp")
            else {"type": _ARROW_TO_JSON[type_name]}
        )
        if f.nullable:
            json_type = {"anyOf": [json_type, {"type": "null"}]}
        props[f.name] = {**json_type, "description": f"{f.doc} (arrow: {type_name})"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Flow",
        "description": "One row of a swarmguard flow batch (Arrow); schema_version 1.",
        "type": "object",
        "properties": props,
        "required": [f.name for f in FLOW_FIELDS if not f.nullable],
    }


def generate() -> dict[str, dict[str, Any]]:
    """Return every record's JSON Schema, keyed by file name."""
    return {
        "alert.schema.json": Alert.model_json_schema(),
        "log_event.schema.json": LogEvent.model_json_schema(),
        "decision.schema.json": Decision.model_json_schema(),
        "feedback.schema.json": Feedback.model_json_schema(),
        "flow.schema.json": _flow_schema(),
    }


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write the schemas into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in generate().items():
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in write():
        sys.stdout.write(f"{p}\n")

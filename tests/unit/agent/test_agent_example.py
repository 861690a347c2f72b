"""examples/agent.toml documents every key, and its commented enforcer tables are valid."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

from pydantic import BaseModel

from swarmguard.agent.config import AgentConfig, parse_agent_config
from swarmguard.agent.runtime import build_enforcer

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "agent.toml"


def _models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, info in model.model_fields.items():
        out.append(f"{prefix}{name}")
        for sub in _models(info.annotation):
            out.extend(_keys(sub, f"{prefix}{name}."))
    return out


def test_example_names_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = []
    for key in _keys(AgentConfig):
        name = key.rsplit(".", 1)[-1]
        pattern = rf"^#?\s*(\[\[?{re.escape(key)}\]\]?|{re.escape(name)}\s*=)"
        if not re.search(pattern, text, re.MULTILINE):
            missing.append(key)
    assert missing == []


def _uncommented_enforcers(text: str) -> str:
    """The example with its commented ``[[enforcers]]`` blocks switched on."""
    out: list[str] = []
    block = False
    for line in text.splitlines():
        if line.strip() == "# [[enforcers]]":
            block = True
        elif block and not line.startswith("# "):
            block = False
        if block and not re.match(r"#\s+[A-Z]", line):  # keep prose comments as they are
            line = line[2:]
        out.append(line)
    return "\n".join(out) + "\n"


def test_commented_enforcer_tables_are_valid() -> None:
    text = _uncommented_enforcers(EXAMPLE.read_text(encoding="utf-8"))
    cfg = parse_agent_config(text, "agent.toml")
    assert [e.name for e in cfg.enforcers] == ["dryrun", "nftables", "webhook", "quarantine"]
    webhook, quarantine = cfg.enforcers[2], cfg.enforcers[3]
    assert webhook.options["url"].startswith("https://") and webhook.options["token"]
    assert quarantine.options["management"]
    hook = build_enforcer(webhook, 2)
    assert hook.name == "webhook"
    cut = build_enforcer(quarantine, 3)  # builds without touching the firewall (no I/O yet)
    assert cut.name == "quarantine"

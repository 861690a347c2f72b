"""Run one suricata-verify style test folder and check its alert expectations.

A folder holds one capture (``.pcap`` / ``.pcapng``, or the one ``test.yaml`` names with
``pcap:``), one or more ``*.rules`` files and ``test.yaml``. ``args`` are honoured where they
concern detection: ``-k none`` turns checksum validation off (it is on otherwise, as in
Suricata), ``--set stream.midstream=true`` picks up sessions already under way; a
``suricata.yaml`` ``vars:`` section overrides address and port variables.

Checks are the ``filter`` blocks that concern alerts: ``event_type: alert``, or no event type
and keys under ``alert`` (such as ``alert.signature_id``). Each has a ``count`` of EVE events
whose fields ``match``: dotted keys reach into nested objects, a nested mapping matches
field by field, ``has-key`` / ``not-has-key`` test presence, and the suite's ``__len``,
``__contains``, ``__startswith``, ``__endswith`` and ``__find`` suffixes are supported. Checks
on other event types (http, flow, stats) and ``shell`` checks are reported as skipped. Checks
or tests whose ``min-version`` / ``lt-version`` exclude the Suricata version this engine
follows (``ENGINE_VERSION``) are skipped with that reason.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swarmguard.acquire.rawpackets import iter_packets
from swarmguard.detect.rules.engine import EngineConfig, RuleEngine
from swarmguard.detect.rules.model import Rule
from swarmguard.detect.rules.parser import parse_rules
from swarmguard.detect.rules.variables import RuleVars
from swarmguard.errors import InputError

__all__ = ["ENGINE_VERSION", "CheckResult", "VerifyResult", "match_event", "run_test_dir"]

#: The Suricata version whose behaviour the engine follows, for min-version / lt-version.
ENGINE_VERSION = (8, 0, 0)


@dataclass
class CheckResult:
    """One check of a test: what was expected, what was found, and whether it held."""

    index: int
    kind: str
    passed: bool | None  # None: skipped
    description: str
    expected: int | None = None
    got: int | None = None
    reason: str | None = None


@dataclass
class VerifyResult:
    """The outcome of one test folder."""

    test: str
    passed: bool
    alerts: int
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return asdict(self)


def _version(text: Any) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts[:3])


def _version_skip(spec: dict[str, Any]) -> str | None:
    if "min-version" in spec and _version(spec["min-version"]) > ENGINE_VERSION:
        return f"needs Suricata >= {spec['min-version']}"
    if "lt-version" in spec and _version(spec["lt-version"]) <= ENGINE_VERSION:
        return f"only for Suricata < {spec['lt-version']}"
    if "version" in spec and _version(spec["version"])[:1] != ENGINE_VERSION[:1]:
        return f"only for Suricata {spec['version']}"
    return None


_MISSING = object()


def _lookup(event: Any, dotted: str) -> Any:
    cur = event
    for part in dotted.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def _equal(val: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(val, dict) and all(_match_key(val, k, v) for k, v in expected.items())
    if val == expected:
        return True
    if isinstance(val, bool) or isinstance(expected, bool):
        return False
    return str(val) == str(expected)


def _match_key(event: Any, key: str, expected: Any) -> bool:
    for suffix in ("__len", "__contains", "__startswith", "__endswith", "__find"):
        if key.endswith("." + suffix):
            val = _lookup(event, key[: -len(suffix) - 1])
            if val is _MISSING:
                return False
            if suffix == "__len":
                return hasattr(val, "__len__") and len(val) == expected
            if suffix == "__contains":
                return expected in val if isinstance(val, list | dict) else str(expected) in val
            if suffix == "__startswith":
                return str(val).startswith(str(expected))
            if suffix == "__endswith":
                return str(val).endswith(str(expected))
            return str(expected) in str(val)
    val = _lookup(event, key)
    if val is _MISSING:
        return False
    return _equal(val, expected)


def match_event(event: dict[str, Any], match: dict[str, Any]) -> bool:
    """Whether an EVE event satisfies a suricata-verify ``match`` mapping.

    >>> e = {"event_type": "alert", "alert": {"signature_id": 3}, "src_port": 80}
    >>> match_event(e, {"alert.signature_id": 3, "src_port": "80"})
    True
    >>> match_event(e, {"has-key": "alert.engine"})
    False
    """
    for key, expected in match.items():
        if key == "has-key":
            if _lookup(event, str(expected)) is _MISSING:
                return False
        elif key == "not-has-key":
            if _lookup(event, str(expected)) is not _MISSING:
                return False
        elif not _match_key(event, key, expected):
            return False
    return True


def _is_alert_check(match: dict[str, Any]) -> bool:
    et = match.get("event_type")
    if et is not None:
        return str(et) == "alert"
    keys = [str(k) for k in match]
    keys += [str(v) for k, v in match.items() if k in ("has-key", "not-has-key")]
    return any(k == "alert" or k.startswith("alert.") for k in keys)


def _find_one(folder: Path, patterns: tuple[str, ...], what: str) -> list[Path]:
    found = sorted(p for pat in patterns for p in folder.glob(pat) if p.is_file())
    if not found:
        raise InputError(folder, f"no {what} in the test folder")
    return found


def _config(folder: Path, spec: dict[str, Any]) -> tuple[EngineConfig, RuleVars, list[str]]:
    notes: list[str] = []
    cfg = EngineConfig(checksum_validation=True, eve_packet=True, eve_ethernet=True)
    args = spec.get("args") or []
    if isinstance(args, str):
        args = [args]
    tokens: list[str] = []
    for a in args:
        tokens.extend(shlex.split(str(a)))
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok == "-k":
            cfg.checksum_validation = nxt != "none"
            i += 2
            continue
        if tok == "--set":
            name, _, value = nxt.partition("=")
            if name == "stream.midstream":
                cfg.midstream = value.lower() in ("true", "yes", "1")
            else:
                notes.append(f"--set {nxt} ignored")
            i += 2
            continue
        notes.append(f"argument {tok} ignored")
        i += 1
    variables = RuleVars()
    syaml = folder / "suricata.yaml"
    if syaml.is_file():
        try:
            text = syaml.read_text(encoding="utf-8")
            if text.startswith("%YAML"):
                text = text.split("\n", 1)[1]
            conf = yaml.safe_load(text) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InputError(syaml, f"cannot parse: {exc}") from None
        groups = (conf.get("vars") or {}) if isinstance(conf, dict) else {}
        for name, value in (groups.get("address-groups") or {}).items():
            variables.addresses[str(name)] = str(value)
        for name, value in (groups.get("port-groups") or {}).items():
            variables.ports[str(name)] = str(value)
        stream = conf.get("stream") if isinstance(conf, dict) else None
        if isinstance(stream, dict) and "midstream" in stream:
            cfg.midstream = bool(stream["midstream"])
    return cfg, variables, notes


def load_test(folder: Path) -> tuple[dict[str, Any], Path, list[Path]]:
    """Read ``test.yaml`` and find the capture and rules files of a test folder."""
    ty = folder / "test.yaml"
    if not ty.is_file():
        raise InputError(folder, "no test.yaml in the test folder")
    try:
        spec = yaml.safe_load(ty.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(ty, f"cannot parse: {exc}") from None
    if not isinstance(spec, dict):
        raise InputError(ty, "expected a mapping")
    if spec.get("pcap"):
        pcap = folder / str(spec["pcap"])
        if not pcap.is_file():
            raise InputError(ty, f"capture {spec['pcap']} not found")
    else:
        pcaps = _find_one(folder, ("*.pcap", "*.pcapng"), "capture (.pcap or .pcapng)")
        if len(pcaps) > 1:
            raise InputError(folder, f"{len(pcaps)} captures; name one with 'pcap:'")
        pcap = pcaps[0]
    rules = _find_one(folder, ("*.rules",), "rules file (*.rules)")
    return spec, pcap, rules


def run_test_dir(folder: Path) -> VerifyResult:
    """Run the engine over a test folder and evaluate every alert check."""
    spec, pcap, rule_files = load_test(folder)
    cfg, variables, notes = _config(folder, spec)
    rules: list[Rule] = []
    for rf in rule_files:
        rules.extend(parse_rules(rf, variables))
    engine = RuleEngine(rules, cfg)
    events = [a.to_eve() for a in engine.run(iter_packets(pcap, stop_at_bad=True))]
    result = VerifyResult(test=folder.name, passed=True, alerts=len(events), notes=notes)
    test_skip = _version_skip(spec.get("requires") or {})
    if test_skip is not None:
        result.notes.append(f"test requires: {test_skip} (checks run anyway)")
    for i, check in enumerate(spec.get("checks") or [], start=1):
        if not isinstance(check, dict):
            continue
        if "filter" not in check:
            kind = next(iter(check), "?")
            result.checks.append(
                CheckResult(i, str(kind), None, str(kind), reason="not an alert check")
            )
            continue
        flt = check["filter"] or {}
        match = flt.get("match") or {}
        desc = ", ".join(f"{k}={v}" for k, v in match.items())
        if not _is_alert_check(match):
            et = match.get("event_type", "?")
            result.checks.append(
                CheckResult(i, "filter", None, desc, reason=f"event_type {et}, not alert")
            )
            continue
        skip = _version_skip(flt)
        if skip is not None:
            result.checks.append(CheckResult(i, "filter", None, desc, reason=skip))
            continue
        expected = int(flt.get("count", 1))
        got = sum(1 for e in events if match_event(e, match))
        ok = got == expected
        result.passed &= ok
        result.checks.append(CheckResult(i, "filter", ok, desc, expected, got))
    return result


def write_json(result: VerifyResult, path: Path) -> None:
    """Write a result as one JSON object."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=1) + "\n", encoding="utf-8")

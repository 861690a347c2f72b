"""Load MITRE CALDERA data (abilities, adversary profiles, planners, fact sources) as CALDERA does.

Accepts both ability formats (stockpile's "v0" ``platforms:`` lists with one element per file, and
the core ``executors:`` list), both profile spellings (``id`` / ``adversary_id``), comma lists of
platforms and executors, requirements, parsers, planners and fact sources. Abilities a profile
names but the folder lacks are reported; :func:`resolve` then runs the profile with the abilities
present plus, where the profile's YAML comment names the step, a surrogate mapped to an ATT&CK
tactic and technique by keyword.

Examples
--------
>>> ab = parse_ability({"id": "x1", "name": "Find files", "tactic": "collection",
...     "technique": {"attack_id": "T1005", "name": "Data from Local System"},
...     "platforms": {"linux,darwin": {"sh": {"command": "find / -name '*.#{file.ext}' #{server}",
...         "parsers": {"p.basic": [{"source": "host.file.path", "edge": "has_ext"}]}}}}},
...     "x.yml")
>>> [(e.platform, e.name) for e in ab.executors], sorted(ab.needs), sorted(ab.produces)
([('linux', 'sh'), ('darwin', 'sh')], ['file.ext'], ['host.file.path', 'host.file.path|has_ext'])
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swarmguard.errors import InputError

__all__ = [
    "RESERVED",
    "SUPPORTED_PLANNERS",
    "TACTIC_ORDER",
    "Ability",
    "Adversary",
    "CalderaLibrary",
    "Executor",
    "FactSource",
    "Planner",
    "Requirement",
    "ResolvedProfile",
    "load_adversary",
    "load_library",
    "parse_ability",
    "resolve",
]

log = logging.getLogger(__name__)

RESERVED = frozenset(
    {"server", "group", "paw", "location", "exe_name", "upstream_dest", "origin_link_id"}
)
"""Agent / link variables CALDERA substitutes itself; they are not facts."""

TACTIC_ORDER = (
    "initial-access",
    "defense-evasion",
    "command-and-control",
    "discovery",
    "execution",
    "credential-access",
    "privilege-escalation",
    "persistence",
    "lateral-movement",
    "collection",
    "exfiltration",
    "impact",
)
"""The buckets planner's tactic order (stockpile ``buckets.py``)."""
SUPPORTED_PLANNERS = ("atomic", "batch", "buckets")
"""Planner modules the simulator implements (others are reported as problems)."""

_VAR = re.compile(r"#\{([^}\[]+)(?:\[[^\]]*\])?\}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-zA-Z]{12}")

# Keyword -> (tactic, technique) for surrogate steps of abilities missing from the folder.
_SURROGATES: tuple[tuple[str, str, str], ...] = (
    ("exfil", "exfiltration", "T1041"),
    ("upload", "exfiltration", "T1041"),
    ("encrypt", "impact", "T1486"),
    ("wipe", "impact", "T1485"),
    ("disrupt", "impact", "T1499"),
    ("lateral", "lateral-movement", "T1021"),
    ("sandcat", "lateral-movement", "T1021"),
    ("remote", "lateral-movement", "T1021"),
    ("persist", "persistence", "T1053"),
    ("escalat", "privilege-escalation", "T1548"),
    ("bypass", "defense-evasion", "T1562"),
    ("disable", "defense-evasion", "T1562"),
    ("hide", "defense-evasion", "T1564"),
    ("clear", "defense-evasion", "T1070"),
    ("stage", "collection", "T1074"),
    ("package", "collection", "T1560"),
    ("compress", "collection", "T1560"),
    ("archive", "collection", "T1560"),
    ("capture", "collection", "T1113"),
    ("clipboard", "collection", "T1115"),
    ("record", "collection", "T1123"),
    ("copy", "collection", "T1005"),
    ("search", "collection", "T1005"),
    ("collect", "collection", "T1005"),
    ("credential", "credential-access", "T1003"),
    ("password", "credential-access", "T1003"),
    ("dump", "credential-access", "T1003"),
    ("execut", "execution", "T1059"),
    ("start", "execution", "T1059"),
    ("run", "execution", "T1059"),
    ("discover", "discovery", "T1082"),
    ("find", "discovery", "T1083"),
    ("scan", "discovery", "T1046"),
    ("list", "discovery", "T1082"),
    ("enumerat", "discovery", "T1087"),
    ("identify", "discovery", "T1082"),
    ("local", "discovery", "T1082"),
    ("sniff", "credential-access", "T1040"),
)


@dataclass(frozen=True)
class Requirement:
    """One requirement-module clause (``basic``, ``paw_provenance``, ``not_exists`` ...)."""

    module: str
    source: str
    edge: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Executor:
    """One (platform, executor) pair of an ability, with what its parsers produce."""

    platform: str
    name: str
    command: str = ""
    timeout: int = 60
    parsers: tuple[Requirement, ...] = ()
    """Parser outputs as (module, source, edge, target) clauses."""


@dataclass(frozen=True)
class Ability:
    """A CALDERA ability: one ATT&CK technique implementation."""

    ability_id: str
    name: str
    tactic: str
    technique_id: str
    technique_name: str
    executors: tuple[Executor, ...]
    requirements: tuple[Requirement, ...] = ()
    privilege: str = ""
    repeatable: bool = False
    singleton: bool = False
    buckets: tuple[str, ...] = ()
    path: str = ""
    surrogate: bool = False

    @property
    def platforms(self) -> frozenset[str]:
        """Platforms with at least one executor."""
        return frozenset(e.platform for e in self.executors)

    @property
    def needs(self) -> frozenset[str]:
        """Fact traits the commands use (``#{trait}``), reserved variables excluded."""
        out: set[str] = set()
        for ex in self.executors:
            for var in _VAR.findall(ex.command):
                var = var.strip()
                if var not in RESERVED and not var.startswith("payload:"):
                    out.add(var)
        return frozenset(out)

    @property
    def produces(self) -> frozenset[str]:
        """Traits (and ``source|edge`` relationships) the parsers yield."""
        out: set[str] = set()
        for ex in self.executors:
            for p in ex.parsers:
                out.add(p.source)
                if p.edge:
                    out.add(f"{p.source}|{p.edge}")
                if p.target:
                    out.add(p.target)
        return frozenset(out)

    @property
    def timeout(self) -> int:
        """Longest executor timeout in seconds (CALDERA default 60)."""
        return max((e.timeout for e in self.executors), default=60)


@dataclass(frozen=True)
class Adversary:
    """An adversary profile: an ordered list of ability ids and an objective."""

    adversary_id: str
    name: str
    description: str
    atomic_ordering: tuple[str, ...]
    objective: str = ""
    tags: tuple[str, ...] = ()
    path: str = ""
    comments: Mapping[str, str] = field(default_factory=dict)
    """Ability id -> the YAML comment on its line (a human name), where the file has one."""


@dataclass(frozen=True)
class Planner:
    """A planner definition (module, params, repeatable abilities, stopping conditions)."""

    planner_id: str
    name: str
    module: str
    params: Mapping[str, Any] = field(default_factory=dict)
    allow_repeatable_abilities: bool = False
    stopping_conditions: tuple[tuple[str, str], ...] = ()
    path: str = ""


@dataclass(frozen=True)
class FactSource:
    """A fact source: seeded facts (trait, value) and relationships."""

    source_id: str
    name: str
    facts: tuple[tuple[str, str], ...]
    relationships: tuple[tuple[str, str, str], ...] = ()


@dataclass
class CalderaLibrary:
    """Everything loaded from a CALDERA ``data/`` folder, and what could not be loaded."""

    root: str = ""
    abilities: dict[str, Ability] = field(default_factory=dict)
    adversaries: dict[str, Adversary] = field(default_factory=dict)
    planners: dict[str, Planner] = field(default_factory=dict)
    sources: dict[str, FactSource] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(file, reason) for every file that did not load or cannot fully run."""

    @property
    def seeded_facts(self) -> frozenset[str]:
        """Traits seeded by all fact sources."""
        return frozenset(t for s in self.sources.values() for t, _ in s.facts)


@dataclass(frozen=True)
class ResolvedProfile:
    """A profile's steps as abilities, with the ids that were missing from the folder."""

    adversary: Adversary
    steps: tuple[Ability, ...]
    missing: tuple[str, ...]
    surrogates: tuple[str, ...]

    @property
    def runnable(self) -> bool:
        """True when at least one step can run."""
        return bool(self.steps)


def _split(key: Any) -> list[str]:
    return [p.strip() for p in str(key).split(",") if p.strip()]


def _clauses(module: str, items: Any) -> list[Requirement]:
    out = []
    for item in items or []:
        if not isinstance(item, Mapping) or "source" not in item:
            continue
        edge = item.get("edge")
        target = item.get("target")
        out.append(
            Requirement(module, str(item["source"]), edge and str(edge), target and str(target))
        )
    return out


def _parsers(spec: Any) -> tuple[Requirement, ...]:
    out: list[Requirement] = []
    if isinstance(spec, Mapping):
        for module, items in spec.items():
            out += _clauses(str(module).rsplit(".", 1)[-1], items)
    elif isinstance(spec, list):  # core format: [{module, parserconfigs: [...]}]
        for p in spec:
            if isinstance(p, Mapping):
                mod = str(p.get("module", "")).rsplit(".", 1)[-1]
                out += _clauses(mod, p.get("parserconfigs") or p.get("relationships"))
    return tuple(out)


def _requirements(spec: Any) -> tuple[Requirement, ...]:
    out: list[Requirement] = []
    for item in spec or []:
        if not isinstance(item, Mapping):
            continue
        if "module" in item:  # core format
            mod = str(item["module"]).rsplit(".", 1)[-1]
            out += _clauses(mod, item.get("relationship_match"))
        else:
            for module, clauses in item.items():
                out += _clauses(str(module).rsplit(".", 1)[-1], clauses)
    return tuple(out)


def _executor(platform: str, name: str, spec: Mapping[str, Any]) -> Executor:
    command = spec.get("command") or ""
    cleanup = spec.get("cleanup") or ""
    if isinstance(cleanup, list):
        cleanup = "\n".join(str(c) for c in cleanup)
    try:
        timeout = int(spec.get("timeout", 60))
    except (TypeError, ValueError):
        timeout = 60
    return Executor(platform, name, f"{command}\n{cleanup}", timeout, _parsers(spec.get("parsers")))


def parse_ability(data: Any, path: str | Path) -> Ability:
    """Build an :class:`Ability` from one YAML mapping (v0 ``platforms:`` or ``executors:``)."""
    if not isinstance(data, Mapping):
        raise InputError(path, "an ability must be a mapping")
    ability_id = data.get("id") or data.get("ability_id")
    if not ability_id:
        raise InputError(path, "ability has no id")
    technique = data.get("technique") or {}
    tech_id = str(data.get("technique_id") or technique.get("attack_id") or "")
    tech_name = str(data.get("technique_name") or technique.get("name") or "")
    tactic = str(data.get("tactic") or "").strip().lower()
    if not tactic:
        raise InputError(path, f"ability {ability_id} has no tactic")
    executors: list[Executor] = []
    platforms = data.get("platforms")
    if isinstance(platforms, Mapping):
        for plat_key, by_exec in platforms.items():
            if not isinstance(by_exec, Mapping):
                continue
            for plat in _split(plat_key):
                for exec_key, spec in by_exec.items():
                    for name in _split(exec_key):
                        executors.append(_executor(plat, name, spec or {}))
    for spec in data.get("executors") or []:
        if isinstance(spec, Mapping):
            for plat in _split(spec.get("platform", "")):
                for name in _split(spec.get("name", "")):
                    executors.append(_executor(plat, name, spec))
    if not executors:
        raise InputError(path, f"ability {ability_id} has no executor")
    buckets = data.get("buckets") or [tactic]
    return Ability(
        ability_id=str(ability_id),
        name=str(data.get("name") or ability_id),
        tactic=tactic,
        technique_id=tech_id,
        technique_name=tech_name,
        executors=tuple(executors),
        requirements=_requirements(data.get("requirements")),
        privilege=str(data.get("privilege") or ""),
        repeatable=bool(data.get("repeatable", False)),
        singleton=bool(data.get("singleton", False)),
        buckets=tuple(str(b) for b in buckets),
        path=str(path),
    )


def _yaml_docs(path: Path) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid YAML: {' '.join(str(exc).split())}") from exc


def _comments(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        m = _UUID.search(line)
        if m and "#" in line[m.end() :]:
            out[m.group(0)] = line[m.end() :].split("#", 1)[1].strip()
    return out


def load_adversary(path: str | Path) -> Adversary:
    r"""Load one adversary profile; raise :class:`InputError` with the reason if malformed.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.yml"
    >>> _ = p.write_text("adversary_id: a1\nname: T\natomic_ordering:\n- b1 # Find\n")
    >>> adv = load_adversary(p)
    >>> adv.adversary_id, adv.atomic_ordering, adv.comments
    ('a1', ('b1',), {})
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "adversary profile not found")
    docs = _yaml_docs(path)
    if len(docs) != 1 or not isinstance(docs[0], Mapping):
        raise InputError(path, "an adversary profile must be one YAML mapping")
    data = docs[0]
    adv_id = data.get("id") or data.get("adversary_id")
    if not adv_id:
        raise InputError(path, "adversary profile has no id or adversary_id")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(path, "adversary profile has no name")
    ordering = data.get("atomic_ordering")
    if isinstance(ordering, Mapping):  # very old format: {phase: [ids]}
        ordering = [a for k in sorted(ordering) for a in (ordering[k] or [])]
    if not isinstance(ordering, list) or not all(isinstance(a, str | int) for a in ordering):
        raise InputError(path, "atomic_ordering must be a list of ability ids")
    tags = data.get("tags") or []
    return Adversary(
        adversary_id=str(adv_id),
        name=" ".join(name.split()),
        description=" ".join(str(data.get("description") or "").split()),
        atomic_ordering=tuple(str(a) for a in ordering),
        objective=str(data.get("objective") or ""),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        path=str(path),
        comments=_comments(path.read_text(encoding="utf-8")),
    )


def _load_planner(data: Mapping[str, Any], path: Path) -> Planner:
    if "id" not in data or "module" not in data:
        raise InputError(path, "a planner needs id and module")
    stops = tuple(
        (str(s.get("trait")), str(s.get("value")))
        for s in data.get("stopping_conditions") or []
        if isinstance(s, Mapping)
    )
    return Planner(
        planner_id=str(data["id"]),
        name=str(data.get("name") or data["id"]),
        module=str(data["module"]),
        params=dict(data.get("params") or {}),
        allow_repeatable_abilities=bool(data.get("allow_repeatable_abilities", False)),
        stopping_conditions=stops,
        path=str(path),
    )


def _load_source(data: Mapping[str, Any], path: Path) -> FactSource:
    if "id" not in data:
        raise InputError(path, "a fact source needs an id")
    facts = tuple(
        (str(f["trait"]), str(f.get("value", "")))
        for f in data.get("facts") or []
        if isinstance(f, Mapping) and "trait" in f
    )
    rels = []
    for r in data.get("relationships") or []:
        if isinstance(r, Mapping) and isinstance(r.get("source"), Mapping):
            tgt = r.get("target") or {}
            rels.append(
                (str(r["source"].get("trait")), str(r.get("edge", "")), str(tgt.get("trait", "")))
            )
    return FactSource(str(data["id"]), str(data.get("name") or data["id"]), facts, tuple(rels))


def _files(root: Path, sub: str) -> Iterable[Path]:
    folder = root / sub
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def load_library(root: str | Path) -> CalderaLibrary:
    """Load ``abilities/``, ``adversaries/``, ``planners/`` and ``sources/`` under ``root``.

    Files that fail to load are recorded in ``problems`` with the reason; so are profiles that
    name abilities the folder lacks.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "CALDERA data folder not found")
    lib = CalderaLibrary(root=str(root))
    for path in _files(root, "abilities"):
        try:
            docs = _yaml_docs(path)
            items = docs[0] if len(docs) == 1 and isinstance(docs[0], list) else docs
            for item in items:
                ab = parse_ability(item, path)
                if ab.tactic not in str(path) and ab.tactic.replace("_", "-") not in str(path):
                    log.debug("%s: tactic %s not in file path", path, ab.tactic)
                lib.abilities[ab.ability_id] = ab
        except InputError as exc:
            lib.problems.append((str(path), exc.message))
    for path in _files(root, "adversaries"):
        try:
            adv = load_adversary(path)
            lib.adversaries[adv.adversary_id] = adv
        except InputError as exc:
            lib.problems.append((str(path), exc.message))
    for sub, loader in (("planners", _load_planner), ("sources", _load_source)):
        for path in _files(root, sub):
            try:
                docs = _yaml_docs(path)
                if len(docs) != 1 or not isinstance(docs[0], Mapping):
                    raise InputError(path, f"a {sub[:-1]} file must be one YAML mapping")
                obj = loader(docs[0], path)
                if isinstance(obj, Planner):
                    lib.planners[obj.name] = obj
                else:
                    assert isinstance(obj, FactSource)
                    lib.sources[obj.source_id] = obj
            except InputError as exc:
                lib.problems.append((str(path), exc.message))
    for planner in lib.planners.values():
        short = planner.module.rsplit(".", 1)[-1]
        if short not in SUPPORTED_PLANNERS:
            lib.problems.append(
                (
                    planner.path,
                    f"planner {planner.name!r} ({planner.module}) is not simulated: "
                    f"use one of {', '.join(SUPPORTED_PLANNERS)}",
                )
            )
    for adv in lib.adversaries.values():
        missing = [a for a in dict.fromkeys(adv.atomic_ordering) if a not in lib.abilities]
        if not missing:
            continue
        head = (
            f"profile {adv.name!r}: {len(missing)} of {len(set(adv.atomic_ordering))} "
            f"abilities not in this folder ({', '.join(m[:8] for m in missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''})"
        )
        resolved = resolve(adv, lib)
        if not resolved.runnable:
            tail = "cannot run: no step is in this folder or mappable by ATT&CK technique"
        elif len(resolved.surrogates) == len(resolved.steps):
            tail = (
                "runs only on stand-in steps mapped by ATT&CK technique from the names "
                "of the missing abilities"
            )
        else:
            tail = "runs with the rest, missing steps mapped by ATT&CK technique where named"
        lib.problems.append((adv.path, f"{head}; {tail}"))
    return lib


def surrogate(ability_id: str, comment: str) -> Ability | None:
    """A stand-in for a missing ability, mapped by keyword to a tactic and ATT&CK technique.

    Examples
    --------
    >>> s = surrogate("abc", "Exfil Compressed Archive to DropBox")
    >>> s.tactic, s.technique_id, sorted(s.platforms)
    ('exfiltration', 'T1041', ['darwin', 'linux', 'windows'])
    >>> surrogate("abc", "") is None
    True
    """
    text = comment.lower()
    for word, tactic, technique in _SURROGATES:
        if word in text:
            execs = tuple(Executor(p, "sh", "") for p in ("windows", "linux", "darwin"))
            return Ability(
                ability_id=ability_id,
                name=comment,
                tactic=tactic,
                technique_id=technique,
                technique_name=f"mapped from {comment!r}",
                executors=execs,
                surrogate=True,
            )
    return None


def resolve(adversary: Adversary, library: CalderaLibrary) -> ResolvedProfile:
    """Map a profile's ability ids to abilities (surrogates by technique where missing)."""
    steps: list[Ability] = []
    missing: list[str] = []
    surrogates: list[str] = []
    for aid in adversary.atomic_ordering:
        ab = library.abilities.get(aid)
        if ab is None:
            missing.append(aid)
            ab = surrogate(aid, adversary.comments.get(aid, ""))
            if ab is not None:
                surrogates.append(aid)
        if ab is not None:
            steps.append(ab)
    return ResolvedProfile(adversary, tuple(steps), tuple(missing), tuple(surrogates))

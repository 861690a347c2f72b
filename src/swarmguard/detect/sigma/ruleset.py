r"""Loading a folder of Sigma rules into compiled rules, with a report of what was skipped.

Each ``.yml``/``.yaml`` file under the folder is parsed by pySigma (YAML, schema, modifiers,
value types), then compiled by ``compile.compile_rule``. A file that cannot be used raises
``UnsupportedRule`` naming the file and a reason category; with ``skip_unsupported`` it is
counted under that reason instead (``LoadReport.skipped``). Correlation rules (``correlation:``
documents) and multi-document files are reported as ``correlation`` / ``multi-document``: the
shipped SigmaHQ rule set has none.

Examples
--------
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     _ = pathlib.Path(tmp, "a.yml").write_text(
...         "title: A\nid: 0e1b3c3e-0000-4000-8000-000000000001\nlevel: high\n"
...         "logsource: {product: windows, category: process_creation}\n"
...         "detection: {sel: {Image|endswith: '\\\\evil.exe'}, condition: sel}\n")
...     _ = pathlib.Path(tmp, "b.yml").write_text("title: B\ndetection: [")
...     rules, report = load_rules(pathlib.Path(tmp), skip_unsupported=True)
>>> [r.title for r in rules], report.loaded, dict(report.skipped)
(['A'], 1, {'yaml': 1})
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.rule.base import SigmaYAMLLoader

from swarmguard.detect.sigma.anchors import Anchor, rule_anchors
from swarmguard.detect.sigma.compile import ViewTest, compile_rule
from swarmguard.detect.sigma.errors import UnsupportedRule
from swarmguard.detect.sigma.logsource import IndexKey, rule_key
from swarmguard.errors import InputError

__all__ = ["CompiledRule", "LoadReport", "load_rule_file", "load_rules"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompiledRule:
    """One loaded rule: its metadata and its compiled predicate."""

    id: str
    title: str
    level: str
    status: str
    tags: tuple[str, ...]
    product: str | None
    category: str | None
    service: str | None
    key: IndexKey
    path: str
    author: str
    test: ViewTest = field(repr=False, compare=False)
    anchors: frozenset[Anchor] | None = field(default=None, repr=False, compare=False)

    @property
    def logsource(self) -> str:
        """``product/category/service`` with the parts the rule names."""
        return "/".join(p for p in (self.product, self.category, self.service) if p)

    @property
    def techniques(self) -> tuple[str, ...]:
        """ATT&CK technique ids from the tags (``attack.t1059.001`` -> ``T1059.001``)."""
        out = []
        for tag in self.tags:
            name = tag.removeprefix("attack.")
            if name != tag and name[:1] == "t" and name[1:2].isdigit():
                out.append(name.upper())
        return tuple(out)

    @property
    def tactics(self) -> tuple[str, ...]:
        """ATT&CK tactic names from the tags (``attack.credential-access``)."""
        return tuple(
            t.removeprefix("attack.")
            for t in self.tags
            if t.startswith("attack.") and not t[7:8].isdigit() and t[7:8] not in ("t", "g", "s")
        )


@dataclass
class LoadReport:
    """How many rule files loaded, and the skipped ones per reason (with one example each)."""

    loaded: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add_skip(self, exc: UnsupportedRule) -> None:
        """Count one skipped rule under its reason."""
        self.skipped[exc.reason] += 1
        self.examples.setdefault(exc.reason, str(exc))

    def summary(self) -> str:
        """One line: loaded and skipped per reason."""
        if not self.skipped:
            return f"{self.loaded} rules loaded, none skipped"
        parts = ", ".join(f"{reason}: {n}" for reason, n in self.skipped.most_common())
        return f"{self.loaded} rules loaded, {sum(self.skipped.values())} skipped ({parts})"


def load_rule_file(path: Path) -> CompiledRule:
    """Parse and compile one rule file.

    Raises
    ------
    UnsupportedRule
        If the file is not valid YAML, not a valid Sigma rule, or uses an unsupported
        construct.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnsupportedRule(name, "unreadable", str(exc)) from None
    try:
        documents = [d for d in yaml.load_all(text, SigmaYAMLLoader) if d is not None]  # noqa: S506 - a safe loader (libyaml)
    except yaml.YAMLError as exc:
        raise UnsupportedRule(name, "yaml", " ".join(str(exc).split())[:200]) from None
    if len(documents) != 1:
        raise UnsupportedRule(name, "multi-document", f"{len(documents)} YAML documents")
    doc = documents[0]
    if not isinstance(doc, dict):
        raise UnsupportedRule(name, "invalid-rule", "not a YAML mapping")
    if "correlation" in doc:
        raise UnsupportedRule(name, "correlation", "correlation rules are not evaluated")
    if "detection" not in doc and ("regression_tests_info" in doc or "rule_metadata" in doc):
        raise UnsupportedRule(name, "not-a-rule", "a regression test description (info.yml)")
    if doc.get("action") is not None or "detection" not in doc:
        raise UnsupportedRule(name, "invalid-rule", "no detection section")
    try:
        rule = SigmaRule.from_dict(doc, collect_errors=True)
    except SigmaError as exc:
        raise UnsupportedRule(name, "invalid-rule", str(exc)[:200]) from None
    if rule.errors:
        raise UnsupportedRule(name, "invalid-rule", str(rule.errors[0])[:200])
    test = compile_rule(rule, name)
    logsource = rule.logsource
    level = rule.level.name.lower() if rule.level is not None else "medium"
    return CompiledRule(
        id=str(rule.id) if rule.id is not None else name,
        title=rule.title,
        level=level,
        status=rule.status.name.lower() if rule.status is not None else "unknown",
        tags=tuple(f"{t.namespace}.{t.name}".lower() for t in rule.tags),
        product=logsource.product,
        category=logsource.category,
        service=logsource.service,
        key=rule_key(logsource.product, logsource.category, logsource.service),
        path=name,
        author=rule.author or "",
        test=test,
        anchors=rule_anchors(rule, name),
    )


def load_rules(
    folder: Path, *, skip_unsupported: bool = False
) -> tuple[list[CompiledRule], LoadReport]:
    """Load every rule file under ``folder`` (recursively; a single file is accepted too).

    Raises
    ------
    InputError
        If ``folder`` does not exist or holds no rule file.
    UnsupportedRule
        For the first unusable rule, unless ``skip_unsupported``.
    """
    folder = Path(folder)
    if folder.is_file():
        files = [folder]
    elif folder.is_dir():
        files = sorted(
            p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()
        )
    else:
        raise InputError(folder, "no such rules file or folder")
    if not files:
        raise InputError(folder, "no .yml rule files found")
    rules: list[CompiledRule] = []
    report = LoadReport()
    for path in files:
        try:
            rules.append(load_rule_file(path))
        except UnsupportedRule as exc:
            if not skip_unsupported:
                raise
            report.add_skip(exc)
            logger.debug("skipped %s", exc)
    report.loaded = len(rules)
    return rules, report

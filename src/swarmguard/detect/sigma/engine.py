r"""The Sigma engine: compiled rules indexed by logsource, evaluated over batches of events.

Each rule sits in one index bucket (``logsource.rule_key``); each event is turned once into an
``EventView`` (fields parsed from ``raw``) whose keys select the buckets to evaluate. A Sysmon
process-creation event is therefore checked against the process_creation rules, the
``sysmon`` service rules and the product-only Windows rules, not against all rules. Inside a
bucket, rules with anchors (``anchors.py``: substrings of field values the rule needs) are
found by one Aho-Corasick pass per anchored field; only the rest are always evaluated.

Examples
--------
>>> import tempfile, pathlib
>>> from datetime import datetime, UTC
>>> from swarmguard.records.log import LogEvent
>>> with tempfile.TemporaryDirectory() as tmp:
...     _ = pathlib.Path(tmp, "r.yml").write_text(
...         "title: SSH failure\nid: 11111111-2222-4333-8444-555555555555\nlevel: low\n"
...         "logsource: {product: linux, service: sshd}\n"
...         "detection: {keywords: ['Failed password'], condition: keywords}\n")
...     engine = SigmaEngine.from_folder(pathlib.Path(tmp))
>>> e = LogEvent(ts=datetime(2024, 1, 1, tzinfo=UTC), program="sshd", product="linux",
...              message="Failed password for root from 1.2.3.4 port 22 ssh2")
>>> [(h.rule.title, h.index) for h in engine.match([e])]
[('SSH failure', 0)]
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from swarmguard.detect.sigma.anchors import Anchor
from swarmguard.detect.sigma.fields import EventView, event_view
from swarmguard.detect.sigma.logsource import IndexKey
from swarmguard.detect.sigma.ruleset import CompiledRule, LoadReport, load_rules
from swarmguard.records.log import LogEvent

__all__ = ["SigmaEngine", "SigmaHit"]

logger = logging.getLogger(__name__)


class _Bucket:
    """The rules of one logsource key: always-evaluated ones and anchored ones."""

    def __init__(self, rules: Sequence[CompiledRule], use_anchors: bool) -> None:
        self.rules = list(rules)
        self.always: list[CompiledRule] = []
        by_anchor: dict[Anchor, list[int]] = defaultdict(list)
        for i, rule in enumerate(self.rules):
            if not use_anchors or rule.anchors is None:
                self.always.append(rule)
                continue
            for anchor in rule.anchors:
                by_anchor[anchor].append(i)
        per_field: dict[str, dict[str, tuple[int, ...]]] = defaultdict(dict)
        for (name, needle), ids in by_anchor.items():
            per_field[name][needle] = tuple(ids)
        self.automata: list[tuple[str, ahocorasick.Automaton]] = []
        for name, needles in sorted(per_field.items()):
            automaton = ahocorasick.Automaton()
            for needle, rule_ids in needles.items():
                automaton.add_word(needle, rule_ids)
            automaton.make_automaton()
            self.automata.append((name, automaton))

    def candidates(self, view: EventView) -> list[CompiledRule]:
        if not self.automata:
            return self.always
        found: set[int] = set()
        for name, automaton in self.automata:
            got = view.fields.get(name)
            if got is not None:
                for _, ids in automaton.iter(got.lower):
                    found.update(ids)
        if not found:
            return self.always
        return [*self.always, *(self.rules[i] for i in sorted(found))]


@dataclass(frozen=True)
class SigmaHit:
    """One rule that fired on one event (``index`` is the event's position in the batch)."""

    rule: CompiledRule
    event: LogEvent
    index: int


class SigmaEngine:
    """Compiled Sigma rules indexed by logsource.

    Parameters
    ----------
    rules
        Compiled rules (``ruleset.load_rules``).
    report
        The load report kept for the caller (how many rules were skipped and why).
    indexed
        Evaluate only the rules of the event's logsource keys (``False``: every rule on every
        event, the baseline the benchmark compares against).
    anchored
        Inside a logsource bucket, look anchored rules up by the event's values.
    """

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        report: LoadReport | None = None,
        *,
        indexed: bool = True,
        anchored: bool = True,
    ) -> None:
        self.rules = list(rules)
        self.report = report if report is not None else LoadReport(loaded=len(self.rules))
        self.indexed = indexed
        grouped: dict[IndexKey, list[CompiledRule]] = defaultdict(list)
        for rule in self.rules:
            grouped[rule.key].append(rule)
        self._index = {key: _Bucket(rules, anchored) for key, rules in grouped.items()}

    @classmethod
    def from_folder(
        cls,
        folder: Path,
        *,
        skip_unsupported: bool = False,
        indexed: bool = True,
        anchored: bool = True,
    ) -> SigmaEngine:
        """Load and compile every rule under ``folder`` (see ``ruleset.load_rules``)."""
        rules, report = load_rules(folder, skip_unsupported=skip_unsupported)
        return cls(rules, report, indexed=indexed, anchored=anchored)

    def candidates(self, view: EventView) -> Iterable[CompiledRule]:
        """The rules to evaluate for one event."""
        if not self.indexed:
            return self.rules
        found: list[CompiledRule] = []
        for key in view.keys:
            bucket = self._index.get(key)
            if bucket is not None:
                found.extend(bucket.candidates(view))
        return found

    def match_view(self, view: EventView) -> list[CompiledRule]:
        """Every rule whose condition holds on ``view``."""
        fired = []
        for rule in self.candidates(view):
            if rule.test(view):
                fired.append(rule)
        return fired

    def match(self, events: Sequence[LogEvent]) -> list[SigmaHit]:
        """Every (rule, event) pair that fires, in event order."""
        hits: list[SigmaHit] = []
        for i, event in enumerate(events):
            view = event_view(event)
            for rule in self.match_view(view):
                hits.append(SigmaHit(rule, event, i))
        return hits

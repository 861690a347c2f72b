r"""Anchors: substrings a rule needs, found for all rules at once with Aho-Corasick.

An anchor is ``(field, needle)``: the rule can fire only if ``needle`` occurs in the event's
lower-cased ``field`` value. Every plain string test implies one (exact, ``contains``,
``startswith``, ``endswith``: the string itself; a wildcard pattern: its longest literal part;
``windash`` / ``base64offset`` expansions: each alternative). A rule's anchor set is
*necessary*: derived from the condition tree, ``and`` takes the smallest anchor set of its
parts, ``or`` / ``1 of`` the union of all parts (none if one part has none), ``not`` has
none. Regular expressions, numbers, keywords, ``exists``, ``null``, ``cidr`` and non-ASCII
strings give none (lower-casing is only safe for ASCII). Rules without anchors are always
evaluated; the others only when one automaton pass over the event's field values finds one of
their needles.

Examples
--------
>>> from sigma.rule import SigmaRule
>>> rule = SigmaRule.from_yaml('''
... title: t
... logsource: {product: windows, category: process_creation}
... detection:
...   img: [{Image|endswith: '\\rundll32.exe'}, {OriginalFileName: 'RUNDLL32.EXE'}]
...   cli: {CommandLine|contains: ',#1'}
...   condition: img and cli
... ''')
>>> sorted(rule_anchors(rule, "r.yml"))
[('commandline', ',#1')]
"""

from __future__ import annotations

from collections.abc import Mapping

from sigma.conditions import ConditionAND, ConditionOR
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaExpansion, SigmaString, SpecialChars

from swarmguard.detect.sigma.condition import (
    CondAll,
    CondAny,
    Condition,
    CondNot,
    CondRef,
    parse_condition,
)

__all__ = ["Anchor", "rule_anchors"]

Anchor = tuple[str, str]
_Set = frozenset[Anchor] | None


def _value_anchors(field: str, value: object) -> frozenset[Anchor] | None:
    if isinstance(value, SigmaExpansion):
        found: set[Anchor] = set()
        for alternative in value.values:
            got = _value_anchors(field, alternative)
            if got is None:
                return None
            found |= got
        return frozenset(found)
    if not isinstance(value, SigmaString) or value.contains_placeholder():
        return None
    literals = [p for p in value.s if isinstance(p, str)]
    if not literals or any(not isinstance(p, str | SpecialChars) for p in value.s):
        return None
    needle = max(literals, key=len).lower()
    if not needle or not needle.isascii():
        return None
    return frozenset({(field, needle)})


def _item(item: SigmaDetectionItem) -> _Set:
    if item.field is None or item.value_linking is not ConditionOR or not item.value:
        return None
    field = item.field.lower()
    found: set[Anchor] = set()
    for value in item.value:
        anchors = _value_anchors(field, value)
        if anchors is None:
            return None
        found |= anchors
    return frozenset(found)


def _smallest(sets: list[_Set]) -> _Set:
    known = [s for s in sets if s is not None]
    return min(known, key=len) if known else None


def _union(sets: list[_Set]) -> _Set:
    if not sets or any(s is None for s in sets):
        return None
    out: set[Anchor] = set()
    for s in sets:
        assert s is not None
        out |= s
    return frozenset(out)


def _detection(det: SigmaDetection) -> _Set:
    parts: list[_Set] = [
        _detection(i) if isinstance(i, SigmaDetection) else _item(i) for i in det.detection_items
    ]
    if len(parts) == 1:
        return parts[0]
    return _smallest(parts) if det.item_linking is ConditionAND else _union(parts)


def _tree(tree: Condition, dets: Mapping[str, _Set]) -> _Set:
    if isinstance(tree, CondRef):
        return dets[tree.name]
    if isinstance(tree, CondNot):
        return None
    parts = [_tree(a, dets) for a in tree.args]
    if isinstance(tree, CondAll):
        return _smallest(parts)
    assert isinstance(tree, CondAny)
    return _union(parts)


def rule_anchors(rule: SigmaRule, name: str) -> frozenset[Anchor] | None:
    """The rule's necessary anchor set, or ``None`` when it has none (always evaluate)."""
    dets = {key: _detection(det) for key, det in rule.detection.detections.items()}
    trees = [parse_condition(text, list(dets), name) for text in rule.detection.condition]
    return _union([_tree(t, dets) for t in trees])

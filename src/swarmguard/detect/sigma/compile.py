r"""Compiling one parsed Sigma rule (pySigma ``SigmaRule``) into a predicate over ``EventView``.

A detection (map of field -> values, list of maps, or keyword list) becomes a conjunction or
disjunction of item tests; each item is one field tested against its values (``or``, or
``and`` with ``|all``). String values of one item are grouped by kind so that an item with
fifty ``endswith`` values is one ``str.endswith(tuple)`` call and a list of exact values one
set lookup. Keyword items (no field) search the event's keyword values, a plain string as a
substring.

Examples
--------
>>> from sigma.rule import SigmaRule
>>> rule = SigmaRule.from_yaml('''
... title: t
... logsource: {product: windows, category: process_creation}
... detection:
...   sel: {Image|endswith: ['\\cmd.exe', '\\pwsh.exe'],
...         CommandLine|contains|all: [' /c ', 'whoami']}
...   filter: {User|startswith: 'NT AUTHORITY'}
...   condition: sel and not filter
... ''')
>>> from swarmguard.detect.sigma.values import FieldValue
>>> from swarmguard.detect.sigma.fields import EventView
>>> check = compile_rule(rule, "r.yml")
>>> view = EventView({"image": FieldValue.of("C:\\x\\CMD.exe"),
...                   "commandline": FieldValue.of("cmd /c whoami")}, (), frozenset())
>>> check(view)
True
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaExpansion, SigmaFieldReference, SigmaString, SigmaType, SpecialChars

from swarmguard.detect.sigma.condition import compile_condition, parse_condition
from swarmguard.detect.sigma.errors import UnsupportedRule
from swarmguard.detect.sigma.fields import EventView
from swarmguard.detect.sigma.values import FieldValue, ValueTest, compile_value

__all__ = ["ViewTest", "compile_rule"]

#: A predicate over one event's field view.
ViewTest = Callable[[EventView], bool]


def _plain_kind(value: SigmaString) -> tuple[str, str] | None:
    """``("eq"|"contains"|"startswith"|"endswith", lower needle)`` for simple strings."""
    if type(value) is not SigmaString or value.contains_placeholder():
        return None
    parts = value.s
    plain = [p for p in parts if isinstance(p, str)]
    specials = [p for p in parts if not isinstance(p, str)]
    if len(plain) != 1 or any(p is not SpecialChars.WILDCARD_MULTI for p in specials):
        return None
    needle = plain[0].lower()
    head = parts[0] is SpecialChars.WILDCARD_MULTI
    tail = parts[-1] is SpecialChars.WILDCARD_MULTI
    if head and tail:
        return ("contains", needle)
    if head:
        return ("endswith", needle)
    if tail:
        return ("startswith", needle)
    return ("eq", needle)


def _grouped_or(values: list[ValueTest], kinds: dict[str, list[str]]) -> ValueTest:
    """One test for ``any`` over the values, with simple strings grouped by kind.

    Exact values become one set lookup, prefixes and suffixes one ``startswith``/``endswith``
    call on a tuple, substrings one regular-expression alternation (C speed for long lists).
    """
    tests = list(values)
    checks: list[Callable[[str], bool]] = []
    eq = frozenset(kinds.get("eq", ()))
    if eq:
        checks.append(eq.__contains__)
    starts = tuple(kinds.get("startswith", ()))
    if starts:
        checks.append(lambda low: low.startswith(starts))
    ends = tuple(kinds.get("endswith", ()))
    if ends:
        checks.append(lambda low: low.endswith(ends))
    contains = tuple(kinds.get("contains", ()))
    if len(contains) == 1:
        needle = contains[0]
        checks.append(lambda low: needle in low)
    elif contains:
        search = re.compile("|".join(re.escape(n) for n in contains), re.DOTALL).search
        checks.append(lambda low: search(low) is not None)
    if not tests and len(checks) == 1:
        (only,) = checks

        def single(v: FieldValue | None) -> bool:
            return v is not None and only(v.lower)

        return single

    def test(v: FieldValue | None) -> bool:
        if v is None:
            return any(t(None) for t in tests)
        low = v.lower
        for check in checks:
            if check(low):
                return True
        for t in tests:  # noqa: SIM110 - a loop beats any()/all() over a generator here
            if t(v):
                return True
        return False

    return test


def _substring_test(needle: str) -> ValueTest:
    return lambda v: v is not None and needle in v.lower


def _item_test(item: SigmaDetectionItem, rule: str) -> ViewTest:
    if not item.value:
        raise UnsupportedRule(rule, "empty-value", f"field {item.field!r} has no value")
    all_of = item.value_linking is ConditionAND
    field = item.field.lower() if item.field is not None else None
    if any(isinstance(v, SigmaFieldReference) for v in item.value):
        if field is None:
            raise UnsupportedRule(rule, "fieldref", "field reference without a field")
        refs = [v.field.lower() for v in item.value if isinstance(v, SigmaFieldReference)]
        if len(refs) != len(item.value):
            raise UnsupportedRule(rule, "fieldref", "field reference mixed with values")

        def ref_test(view: EventView) -> bool:
            mine = view.fields.get(field)
            if mine is None:
                return False
            hits = (
                (other := view.fields.get(ref)) is not None and other.lower == mine.lower
                for ref in refs
            )
            return all(hits) if all_of else any(hits)

        return ref_test
    if field is None:  # keywords: substring search over the event's values
        tests: list[ValueTest] = []
        for value in item.value:
            if (
                isinstance(value, SigmaString)
                and not value.contains_special()
                and not value.contains_placeholder()
            ):
                tests.append(_substring_test(str(value).lower()))
            else:
                tests.append(compile_value(value, rule))

        def keyword_test(view: EventView) -> bool:
            found = (any(t(kv) for kv in view.keywords) for t in tests)
            return all(found) if all_of else any(found)

        return keyword_test
    if all_of:
        value_tests = [compile_value(v, rule) for v in item.value]

        def all_test(view: EventView) -> bool:
            got = view.fields.get(field)
            return all(t(got) for t in value_tests)

        return all_test
    kinds: dict[str, list[str]] = {}
    others: list[ValueTest] = []
    flat: list[SigmaType] = []
    for value in item.value:  # an expansion (windash, base64offset) is an "or" of values
        flat.extend(value.values if isinstance(value, SigmaExpansion) else [value])
    for value in flat:
        kind = _plain_kind(value) if isinstance(value, SigmaString) else None
        if kind is None:
            others.append(compile_value(value, rule))
        else:
            kinds.setdefault(kind[0], []).append(kind[1])
    if not others and list(kinds) == ["eq"] and len(kinds["eq"]) == 1:
        needle = kinds["eq"][0]

        def eq_test(view: EventView) -> bool:
            got = view.fields.get(field)
            return got is not None and got.lower == needle

        return eq_test
    combined = _grouped_or(others, kinds)

    def any_test(view: EventView) -> bool:
        return combined(view.fields.get(field))

    return any_test


def _detection_test(detection: SigmaDetection, rule: str) -> ViewTest:
    parts: list[ViewTest] = []
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            parts.append(_detection_test(item, rule))
        else:
            parts.append(_item_test(item, rule))
    if not parts:
        raise UnsupportedRule(rule, "empty-detection", "a detection without items")
    if len(parts) == 1:
        return parts[0]
    if detection.item_linking is ConditionAND:
        if len(parts) == 2:
            first, second = parts
            return lambda view: first(view) and second(view)

        def all_parts(view: EventView) -> bool:
            for part in parts:  # noqa: SIM110 - a loop beats any()/all() over a generator here
                if not part(view):
                    return False
            return True

        return all_parts

    def any_part(view: EventView) -> bool:
        for part in parts:  # noqa: SIM110 - a loop beats any()/all() over a generator here
            if part(view):
                return True
        return False

    return any_part


def compile_rule(rule: SigmaRule, name: str) -> ViewTest:
    """Compile a parsed rule's detections and condition(s) into one predicate.

    Raises
    ------
    UnsupportedRule
        For constructs this engine does not evaluate (see ``values.compile_value``) and
        condition errors; the message names ``name`` (the rule file).
    """
    detections = rule.detection.detections
    tests = {key: _detection_test(det, name) for key, det in detections.items()}
    conditions = rule.detection.condition
    if not conditions:
        raise UnsupportedRule(name, "condition", "no condition")
    checks = [
        compile_condition(parse_condition(text, list(detections), name), tests)
        for text in conditions
    ]
    if len(checks) == 1:
        return checks[0]
    return lambda view: any(c(view) for c in checks)

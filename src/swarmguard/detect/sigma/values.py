r"""Compiling Sigma values (after pySigma applied the modifiers) into Python predicates.

pySigma turns each detection item's value and modifiers into typed values: ``SigmaString``
with wildcards (``contains``/``startswith``/``endswith`` add ``*``; ``windash``,
``base64offset`` give a ``SigmaExpansion`` of alternatives; ``wide``/``base64`` re-encode the
string), ``SigmaRegularExpression`` (``re`` with ``i``/``m``/``s``), ``SigmaCIDRExpression``
(``cidr``), ``SigmaCompareExpression`` (``gt``, ``gte``, ``lt``, ``lte``), ``SigmaExists``
(``exists``), ``SigmaNull``, ``SigmaNumber``, ``SigmaBool`` and ``SigmaFieldReference``
(``fieldref``). Each becomes a ``ValueTest``: a function of one field's value (``None`` when
the field is absent), or, for ``fieldref``, of the whole event.

Strings compare case-insensitively (Sigma's default; ``cased`` keeps case); a string
without wildcards is an exact match, ``*x*``/``x*``/``*x`` become ``in``/``startswith``/
``endswith`` on the lower-cased value, anything else a compiled regular expression.

Examples
--------
>>> from sigma.types import SigmaString
>>> test = compile_value(SigmaString("*\\cmd.exe"), "r.yml")
>>> test(FieldValue.of("C:\\Windows\\System32\\CMD.EXE")), test(FieldValue.of("cmd.exe"))
(True, False)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from swarmguard.detect.sigma.errors import UnsupportedRule

__all__ = ["FieldValue", "ValueTest", "compile_value"]


@dataclass(frozen=True, slots=True)
class FieldValue:
    """One field value of an event: its text and its lower-cased text."""

    text: str
    lower: str

    @classmethod
    def of(cls, value: object) -> FieldValue:
        """Wrap a scalar (numbers and booleans as their JSON text).

        Examples
        --------
        >>> FieldValue.of(True), FieldValue.of(4688).text
        (FieldValue(text='true', lower='true'), '4688')
        """
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif value is None:
            text = ""
        else:
            text = str(value)
        return cls(text, text.lower())


#: A predicate over one field's value (``None`` when the event lacks the field).
ValueTest = Callable[[FieldValue | None], bool]


def _string_test(value: SigmaString, rule: str) -> ValueTest:
    if value.contains_placeholder():
        raise UnsupportedRule(rule, "placeholder", f"{value} needs an |expand value list")
    cased = isinstance(value, SigmaCasedString)
    parts = value.s
    plain = [p for p in parts if isinstance(p, str)]
    specials = [p for p in parts if not isinstance(p, str)]
    if any(p is SpecialChars.WILDCARD_SINGLE for p in specials) or len(plain) > 1:
        pattern = "".join(
            re.escape(p)
            if isinstance(p, str)
            else (".*" if p is SpecialChars.WILDCARD_MULTI else ".")
            for p in parts
        )
        compiled = re.compile(pattern, re.DOTALL | (0 if cased else re.IGNORECASE))

        def regex_test(v: FieldValue | None) -> bool:
            return v is not None and compiled.fullmatch(v.text) is not None

        return regex_test
    needle = plain[0] if plain else ""
    if not cased:
        needle = needle.lower()
    head = bool(parts) and parts[0] is SpecialChars.WILDCARD_MULTI
    tail = bool(parts) and parts[-1] is SpecialChars.WILDCARD_MULTI and len(parts) > 1
    if not plain:  # "*" alone: any value present
        return lambda v: v is not None
    if head and tail:
        if cased:
            return lambda v: v is not None and needle in v.text
        return lambda v: v is not None and needle in v.lower
    if head:
        if cased:
            return lambda v: v is not None and v.text.endswith(needle)
        return lambda v: v is not None and v.lower.endswith(needle)
    if tail:
        if cased:
            return lambda v: v is not None and v.text.startswith(needle)
        return lambda v: v is not None and v.lower.startswith(needle)
    if cased:
        return lambda v: v is not None and v.text == needle
    return lambda v: v is not None and v.lower == needle


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else None
        except ValueError:
            return None


def _compare_test(value: SigmaCompareExpression) -> ValueTest:
    bound = float(value.number.number)
    op = value.op

    def compare(v: FieldValue | None) -> bool:
        if v is None:
            return False
        got = _number(v.text)
        if got is None:
            return False
        if op is CompareOperators.LT:
            return got < bound
        if op is CompareOperators.LTE:
            return got <= bound
        if op is CompareOperators.GT:
            return got > bound
        if op is CompareOperators.GTE:
            return got >= bound
        return got != bound

    return compare


def _cidr_test(value: SigmaCIDRExpression) -> ValueTest:
    network = value.network

    def in_network(v: FieldValue | None) -> bool:
        if v is None:
            return False
        try:
            addr = ipaddress.ip_address(v.text.strip().removeprefix("::ffff:"))
        except ValueError:
            return False
        return addr.version == network.version and addr in network

    return in_network


def _regex_test(value: SigmaRegularExpression, rule: str) -> ValueTest:
    flags = 0
    for flag in value.flags:
        if flag is SigmaRegularExpressionFlag.IGNORECASE:
            flags |= re.IGNORECASE
        elif flag is SigmaRegularExpressionFlag.MULTILINE:
            flags |= re.MULTILINE
        elif flag is SigmaRegularExpressionFlag.DOTALL:
            flags |= re.DOTALL
    try:
        compiled = re.compile(str(value.regexp), flags)
    except re.error as exc:
        raise UnsupportedRule(rule, "regex", f"{str(value.regexp)!r:.60}: {exc}") from None
    return lambda v: v is not None and compiled.search(v.text) is not None


def compile_value(value: SigmaType, rule: str) -> ValueTest:
    """Return the predicate for one Sigma value (see the module docs).

    Raises
    ------
    UnsupportedRule
        For placeholders (``expand`` without a value list), a regular expression Python
        cannot compile, a field reference (compiled by the caller) or an unknown value type.
    """
    if isinstance(value, SigmaString):
        return _string_test(value, rule)
    if isinstance(value, SigmaExpansion):
        tests = [compile_value(v, rule) for v in value.values]
        return lambda v: any(t(v) for t in tests)
    if isinstance(value, SigmaNumber):
        number = value.number
        text = str(number)
        integral = isinstance(number, int) and text.isdigit()

        def number_test(v: FieldValue | None) -> bool:
            if v is None:
                return False
            if v.text == text:
                return True
            if integral and v.text.isdigit():  # the common case: EventID 4688 vs 4624
                return False
            got = _number(v.text)
            return got is not None and got == float(number)

        return number_test
    if isinstance(value, SigmaBool):
        wanted = "true" if value.boolean else "false"
        return lambda v: v is not None and v.lower == wanted
    if isinstance(value, SigmaNull):
        return lambda v: v is None or v.text == ""
    if isinstance(value, SigmaExists):
        exists = value.exists
        return lambda v: (v is not None) == exists
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value, rule)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_test(value)
    if isinstance(value, SigmaCompareExpression):
        return _compare_test(value)
    if isinstance(value, SigmaFieldReference):
        raise UnsupportedRule(rule, "fieldref", "field references are compiled per item")
    raise UnsupportedRule(rule, "value-type", f"unsupported value type {type(value).__name__}")

"""Sigma ``condition`` expressions: parsed into a small tree and compiled to a predicate.

Grammar (Sigma specification 2.0; ``not`` binds tighter than ``and``, ``and`` than ``or``)::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | quant "of" target | NAME
    quant  := "1" | "any" | "all" | N
    target := "them" | NAME-PATTERN        (``*`` wildcards over the detection names)

``them`` means every detection (names starting with ``_`` excluded, as the spec says).
The deprecated pipe aggregations (``| count() > 5``) are reported as unsupported: the rule set
expresses counts as correlation rules instead.

Examples
--------
>>> tree = parse_condition("selection and not 1 of filter_*", ["selection", "filter_a",
...                        "filter_b"], "r.yml")
>>> check = compile_condition(tree, {"selection": lambda e: True,
...     "filter_a": lambda e: False, "filter_b": lambda e: e == "x"})
>>> check("y"), check("x")
(True, False)
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from swarmguard.detect.sigma.errors import UnsupportedRule

__all__ = [
    "CondAll",
    "CondAny",
    "CondNot",
    "CondRef",
    "Condition",
    "compile_condition",
    "parse_condition",
]

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9_*\-.]+|\S)")
T = TypeVar("T")


@dataclass(frozen=True)
class CondRef:
    """A detection by name."""

    name: str


@dataclass(frozen=True)
class CondNot:
    """Negation."""

    arg: Condition


@dataclass(frozen=True)
class CondAll:
    """Conjunction (``and``, ``all of``)."""

    args: tuple[Condition, ...]


@dataclass(frozen=True)
class CondAny:
    """At least ``at_least`` of the arguments (``or`` and ``1 of``: 1)."""

    args: tuple[Condition, ...]
    at_least: int = 1


Condition = CondRef | CondNot | CondAll | CondAny


class _Parser:
    def __init__(self, text: str, names: Sequence[str], rule: str) -> None:
        self.rule = rule
        self.names = list(names)
        self.text = text
        self.tokens = [m.group(1) for m in _TOKEN.finditer(text)]
        self.pos = 0

    def error(self, detail: str) -> UnsupportedRule:
        return UnsupportedRule(self.rule, "condition", f"{detail} in {self.text!r:.120}")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end")
        self.pos += 1
        return token

    def parse(self) -> Condition:
        if "|" in self.tokens:
            raise UnsupportedRule(self.rule, "aggregation", "pipe aggregation in condition")
        tree = self.expr()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()!r}")
        return tree

    def expr(self) -> Condition:
        args = [self.term()]
        while (self.peek() or "").lower() == "or":
            self.take()
            args.append(self.term())
        return args[0] if len(args) == 1 else CondAny(tuple(args))

    def term(self) -> Condition:
        args = [self.factor()]
        while (self.peek() or "").lower() == "and":
            self.take()
            args.append(self.factor())
        return args[0] if len(args) == 1 else CondAll(tuple(args))

    def factor(self) -> Condition:
        token = self.take()
        low = token.lower()
        if low == "not":
            return CondNot(self.factor())
        if token == "(":
            inner = self.expr()
            if self.take() != ")":
                raise self.error("missing ')'")
            return inner
        if (self.peek() or "").lower() == "of" and (low in ("all", "any") or low.isdigit()):
            self.take()
            return self.quantified(low, self.take())
        if token in (")", "|") or low in ("and", "or", "of"):
            raise self.error(f"unexpected {token!r}")
        if token not in self.names:
            raise self.error(f"unknown detection {token!r}")
        return CondRef(token)

    def quantified(self, quant: str, target: str) -> Condition:
        if target.lower() == "them":
            matched = [n for n in self.names if not n.startswith("_")]
        else:
            matched = [n for n in self.names if fnmatch.fnmatchcase(n, target)]
        if not matched:
            raise self.error(f"no detection matches {target!r}")
        refs: tuple[Condition, ...] = tuple(CondRef(n) for n in matched)
        if quant == "all":
            return CondAll(refs)
        count = 1 if quant == "any" else int(quant)
        return CondAny(refs, at_least=max(count, 1))


def parse_condition(text: str, names: Sequence[str], rule: str) -> Condition:
    """Parse one condition string over the detection ``names``.

    Raises
    ------
    UnsupportedRule
        On a syntax error, an unknown detection name, or a pipe aggregation.
    """
    return _Parser(text, names, rule).parse()


def compile_condition(
    tree: Condition, detections: Mapping[str, Callable[[T], bool]]
) -> Callable[[T], bool]:
    """Turn a condition tree into one predicate over events, given each detection's predicate."""
    if isinstance(tree, CondRef):
        return detections[tree.name]
    if isinstance(tree, CondNot):
        inner = compile_condition(tree.arg, detections)
        return lambda e: not inner(e)
    parts = [compile_condition(a, detections) for a in tree.args]
    if isinstance(tree, CondAll):
        if len(parts) == 2:
            first, second = parts
            return lambda e: first(e) and second(e)
        return lambda e: all(p(e) for p in parts)
    need = tree.at_least
    if need == 1:
        return lambda e: any(p(e) for p in parts)
    return lambda e: sum(1 for p in parts if p(e)) >= need

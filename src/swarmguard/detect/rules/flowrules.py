"""Threshold rules over flow rows (flow batches, dataset rows), and the ``rules`` detector.

Captures have packets; flow datasets and flow batches do not. For them the rule baseline is a
set of threshold rules in a small YAML format (``default/flow-rules.yaml``). Each rule is a
mapping::

    - sid: 9300001                    # unique id
      msg: SWARMGUARD FLOW port scan  # what fired
      classtype: attempted-recon      # category and severity (classification table)
      family: probe                   # taxonomy class it is meant to catch
      where: "syn == 1 and ack == 0"  # optional row filter: comparisons joined by and / or
      aggregate:                      # optional: a count over a tumbling time window
        by: [src_ip]                  #   group key columns
        distinct: dest_port           #   count distinct values of a column (or rows if absent)
        window_s: 60                  #   window length in seconds (needs the ``ts`` column)
        threshold: 20                 #   fire on every row of a group that reaches this

A row rule (``where`` only) fires on each row that passes the filter; an aggregate rule fires
on every filtered row of a (key, window) group whose count reaches ``threshold``. Column names
are the table's own (NSL-KDD, UNSW-NB15 and CIC-IDS2017 keep their dataset columns); a rule
naming a column the table lacks does not apply to it (reported by ``applicable``). Values in
comparisons are numbers or quoted strings.

``FlowRuleDetector`` (registered as ``rules``) scores a row 1.0 when any applicable rule fires
and 0.0 otherwise; ``fit`` learns nothing and keeps the threshold at 0.5.
``load_flow_rules(None)`` reads the shipped set.

Examples
--------
>>> import pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> rules = parse_flow_rules('''
... - sid: 1
...   msg: many failed logins
...   classtype: attempted-user
...   where: "num_failed_logins >= 3"
... ''')
>>> t = pa.table({"uid": ["a:1", "a:2"], "num_failed_logins": [0, 5],
...               "label": ["benign", "brute_force"], "label_original": ["n", "b"]})
>>> rows = LabeledTable(t, "demo", ("num_failed_logins",), ())
>>> det = FlowRuleDetector(rules)
>>> det.fit(rows)
>>> det.score(rows).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import polars as pl
import pyarrow as pa
import yaml

from swarmguard.detect.base import FloatArray
from swarmguard.detect.persist import load_detector, save_detector
from swarmguard.detect.rules.classification import CLASSIFICATIONS
from swarmguard.errors import InputError
from swarmguard.records.dataset import LabeledTable

__all__ = [
    "DEFAULT_FLOW_RULES",
    "FlowRule",
    "FlowRuleDetector",
    "load_flow_rules",
    "parse_flow_rules",
]

DEFAULT_FLOW_RULES = "flow-rules.yaml"
_TERM = re.compile(r"^\s*(.+?)\s*(>=|<=|==|!=|>|<)\s*(.+?)\s*$")


@dataclass(frozen=True)
class _Term:
    column: str
    op: str
    value: float | str


@dataclass
class FlowRule:
    """One threshold rule (see the module docstring for the format)."""

    sid: int
    msg: str
    classtype: str
    family: str
    where: list[list[_Term]] = field(default_factory=list)  # OR of ANDs
    by: tuple[str, ...] = ()
    distinct: str | None = None
    window_s: float = 0.0
    threshold: int = 0

    @property
    def columns(self) -> set[str]:
        """Columns the rule needs."""
        cols = {t.column for group in self.where for t in group} | set(self.by)
        if self.distinct:
            cols.add(self.distinct)
        if self.by:
            cols.add("ts")
        return cols

    @property
    def aggregates_sources(self) -> bool:
        """True when the rule counts rows of many sources together (``by`` lacks ``src_ip``).

        Its alerts name the target only: no single sender is known to be the attacker.
        """
        return self.threshold > 0 and "src_ip" not in self.by

    @property
    def category(self) -> str:
        """EVE ``alert.category`` of the rule."""
        return CLASSIFICATIONS[self.classtype][0]


def _parse_where(text: str, sid: int) -> list[list[_Term]]:
    groups: list[list[_Term]] = []
    for alt in re.split(r"\s+or\s+", text.strip()):
        terms: list[_Term] = []
        for part in re.split(r"\s+and\s+", alt):
            m = _TERM.match(part)
            if not m:
                raise ValueError(f"flow rule {sid}: cannot read condition {part!r}")
            raw = m.group(3)
            value: float | str
            if raw[:1] in "\"'" and raw[-1:] == raw[:1]:
                value = raw[1:-1]
            else:
                try:
                    value = float(raw)
                except ValueError:
                    raise ValueError(f"flow rule {sid}: {raw!r} is not a number") from None
            terms.append(_Term(m.group(1), m.group(2), value))
        groups.append(terms)
    return groups


def parse_flow_rules(text: str, source: str = "<flow rules>") -> list[FlowRule]:
    """Parse flow threshold rules from YAML text. Raises ``InputError`` naming the rule."""
    try:
        data = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        raise InputError(source, f"not valid YAML: {exc}") from None
    if not isinstance(data, list):
        raise InputError(source, "expected a list of rules")
    rules: list[FlowRule] = []
    seen: set[int] = set()
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise InputError(source, f"rule {i}: expected a mapping")
        try:
            rules.append(_one(item))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(source, f"rule {i} (sid {item.get('sid')}): {exc}") from None
        if rules[-1].sid in seen:
            raise InputError(source, f"rule {i}: duplicate sid {rules[-1].sid}")
        seen.add(rules[-1].sid)
    return rules


def _one(item: dict[str, Any]) -> FlowRule:
    allowed = {"sid", "msg", "classtype", "family", "where", "aggregate"}
    extra = set(item) - allowed
    if extra:
        raise ValueError(f"unknown key(s) {', '.join(sorted(extra))}")
    sid = int(item["sid"])
    classtype = str(item["classtype"])
    if classtype not in CLASSIFICATIONS:
        raise ValueError(f"unknown classtype {classtype!r}")
    rule = FlowRule(sid, str(item["msg"]), classtype, str(item.get("family", "unknown")))
    if item.get("where"):
        rule.where = _parse_where(str(item["where"]), sid)
    agg = item.get("aggregate")
    if agg is not None:
        if not isinstance(agg, dict):
            raise ValueError("aggregate must be a mapping")
        by = agg["by"]
        rule.by = tuple([by] if isinstance(by, str) else [str(b) for b in by])
        rule.distinct = str(agg["distinct"]) if agg.get("distinct") else None
        rule.window_s = float(agg["window_s"])
        rule.threshold = int(agg["threshold"])
        if rule.window_s <= 0 or rule.threshold < 1:
            raise ValueError("aggregate needs window_s > 0 and threshold >= 1")
    if not rule.where and not rule.by:
        raise ValueError("a rule needs 'where' or 'aggregate'")
    return rule


def load_flow_rules(path: Path | None = None) -> list[FlowRule]:
    """Read a flow rule file, or the shipped default set when ``path`` is None."""
    if path is None:
        ref = resources.files("swarmguard.detect.rules") / "default" / DEFAULT_FLOW_RULES
        return parse_flow_rules(ref.read_text(encoding="utf-8"), DEFAULT_FLOW_RULES)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    return parse_flow_rules(text, str(path))


def _term_expr(t: _Term) -> pl.Expr:
    col = pl.col(t.column)
    if isinstance(t.value, str):
        col = col.cast(pl.Utf8)
    ops = {
        ">=": col >= t.value,
        "<=": col <= t.value,
        ">": col > t.value,
        "<": col < t.value,
        "==": col == t.value,
        "!=": col != t.value,
    }
    return ops[t.op].fill_null(False)


def _where_expr(rule: FlowRule) -> pl.Expr:
    if not rule.where:
        return pl.lit(True)
    out: pl.Expr | None = None
    for group in rule.where:
        g = _term_expr(group[0])
        for t in group[1:]:
            g = g & _term_expr(t)
        out = g if out is None else out | g
    assert out is not None
    return out


def evaluate_flow_rules(rules: list[FlowRule], table: pa.Table) -> dict[int, np.ndarray]:
    """Return, per applicable rule sid, a boolean array of the rows it fires on."""
    names = set(table.column_names)
    use = [r for r in rules if r.columns <= names]
    if not use:
        return {}
    needed = sorted(set().union(*(r.columns for r in use)))
    df = pl.from_arrow(table.select(needed))
    assert isinstance(df, pl.DataFrame)
    df = df.with_row_index("_row")
    hits: dict[int, np.ndarray] = {}
    for r in use:
        cond = _where_expr(r)
        if not r.by:
            hits[r.sid] = df.select(cond.alias("h"))["h"].to_numpy().astype(bool)
            continue
        sub = df.filter(cond)
        if sub.height == 0:
            hits[r.sid] = np.zeros(df.height, dtype=bool)
            continue
        ts = pl.col("ts").cast(pl.Datetime("us")).dt.epoch("us")
        sub = sub.with_columns((ts // int(r.window_s * 1e6)).alias("_win"))
        keys = [*r.by, "_win"]
        count = pl.col(r.distinct).n_unique() if r.distinct else pl.len()
        groups = sub.group_by(keys).agg(count.alias("_n")).filter(pl.col("_n") >= r.threshold)
        rows = sub.join(groups, on=keys, how="inner")["_row"].to_numpy()
        mask = np.zeros(df.height, dtype=bool)
        mask[rows] = True
        hits[r.sid] = mask
    return hits


class FlowRuleDetector:
    """The ``rules`` detector over rows: flow threshold rules, nothing learned.

    ``fit`` checks the rows and binds the detector to their format (so scoring rows of another
    format is an error, as for every detector); the threshold stays at 0.5.
    """

    name: ClassVar[str] = "rules"
    learned: ClassVar[bool] = False  # fixed rules: shared checks of learning do not apply

    def __init__(
        self,
        rules: list[FlowRule] | None = None,
        rules_path: Path | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.seed = seed  # nothing is random; kept for the common constructor signature
        self.rules_path = rules_path
        self.rules = rules if rules is not None else load_flow_rules(rules_path)
        self.threshold = 0.5
        self.format: str | None = None
        self.last_hits: dict[int, int] = {}

    def applicable(self, rows: LabeledTable) -> list[FlowRule]:
        """The rules whose columns this table has."""
        names = set(rows.table.column_names)
        return [r for r in self.rules if r.columns <= names]

    def fit(self, train: LabeledTable) -> None:
        """Learn nothing: check the rows, remember their format, keep the threshold at 0.5."""
        mask = train.attack_mask()
        if mask.all() or not mask.any():
            raise ValueError("rules: training rows need both benign and attack rows")
        self.format = train.format
        self.threshold = 0.5

    def score(self, rows: LabeledTable) -> FloatArray:
        """1.0 for rows on which any applicable rule fires, else 0.0."""
        if self.format is None:
            raise RuntimeError("rules: score called before fit")
        if rows.format != self.format:
            raise ValueError(f"rules: trained on {self.format} rows, given {rows.format}")
        hits = evaluate_flow_rules(self.rules, rows.table)
        self.last_hits = {sid: int(m.sum()) for sid, m in hits.items()}
        out = np.zeros(rows.num_rows, dtype=np.float64)
        for mask in hits.values():
            out[mask] = 1.0
        return out

    def save(self, path: Path) -> None:
        """Write the detector (its rules and format) as a swarmguard model file."""
        save_detector(self, self.name, path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a detector written by ``save``."""
        obj = load_detector(path, cls.name)
        if not isinstance(obj, cls):
            raise InputError(path, "not a swarmguard model file for the rules detector")
        return obj

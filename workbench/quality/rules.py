"""Validation rule sets: one YAML file per table under ``conf/rules/``.

A rule set names its table, the columns that identify a unit (``keys``), the
monthly ``period`` column, *lookups* (values from other tables joined to each
record, for cross-source rules) and *previous* (columns whose value in the
unit's previous month is wanted, as ``prev_<column>``, for period rules). Each
rule has an id, a type, a severity, a description in Chinese and English, and
either a Spark SQL boolean ``expression`` or, for cross-record rules, the
columns that must be ``unique`` together.

Outcomes follow the ESS validation-report conventions (and R's ``validate``):
``pass`` when the expression is true, ``fail`` when false, ``na`` when it
cannot be evaluated (a value it needs is missing). A rule with ``when`` is a
conditional rule: ``when`` false means the rule is satisfied, as ``if (A) B``
in ``validate``.

This module only reads and checks the YAML; evaluation is in
:mod:`workbench.quality.validate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.config import REPO_ROOT

RULES_DIR = REPO_ROOT / "conf" / "rules"
RULE_TYPES = ("field", "record", "cross_record", "cross_source", "period")
SEVERITIES = ("error", "warning", "info")
STATUSES = ("pass", "fail", "na")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")
_TOP_KEYS = {"table", "title", "keys", "period", "lookups", "previous", "rules", "screening", "imputation"}
_RULE_KEYS = {"id", "type", "severity", "description", "expression", "when", "unique", "targets", "tags"}
_LOOKUP_KEYS = {"table", "by", "where", "value"}


class RuleError(ValueError):
    """A rule file is malformed; the message names the file and the rule."""


@dataclass(frozen=True)
class Lookup:
    """One value from another table, aggregated to the join keys: ``value`` over ``table`` by ``on``
    (``by`` in the YAML: YAML 1.1 reads a bare ``on`` as a boolean)."""

    name: str
    table: str
    on: tuple[str, ...]
    value: str
    where: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    severity: str
    description_zh: str
    description_en: str
    expression: str | None = None
    when: str | None = None
    unique: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def description(self, lang: str) -> str:
        return self.description_zh if lang == "zh" else self.description_en

    def condition(self) -> str:
        """The SQL boolean whose truth value is the outcome (NULL means ``na``)."""
        if self.expression is None:
            raise RuleError(f"rule {self.id} is a uniqueness rule and has no expression")
        if self.when:
            return f"((NOT ({self.when})) OR ({self.expression}))"
        return f"({self.expression})"


@dataclass(frozen=True)
class RuleSet:
    table: str
    keys: tuple[str, ...]
    period: str | None
    rules: tuple[Rule, ...]
    lookups: tuple[Lookup, ...] = ()
    previous: tuple[str, ...] = ()
    title: str = ""
    screening: dict[str, Any] = field(default_factory=dict)
    imputation: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def short_name(self) -> str:
        return self.table.split(".", 1)[-1]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def tagged(self, tag: str) -> list[Rule]:
        return [r for r in self.rules if tag in r.tags]


def _strings(value: Any, where: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleError(f"{where}: {what} must be a list of names")
    return tuple(value)


def _columns(value: Any, where: str, what: str) -> tuple[str, ...]:
    names = _strings(value, where, what)
    bad = [n for n in names if not _COLUMN.match(n)]
    if bad:
        raise RuleError(f"{where}: {what} {bad} are not column names (lower case, digits, _)")
    return names


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: each rule is a mapping with id, type, severity, description")
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise RuleError(f"{where}: rule id {rid!r} must start with a letter (letters, digits, - and _)")
    here = f"{where}, rule {rid}"
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RuleError(f"{here}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    kind = raw.get("type")
    if kind not in RULE_TYPES:
        raise RuleError(f"{here}: type {kind!r} is not allowed; allowed: {', '.join(RULE_TYPES)}")
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise RuleError(f"{here}: severity {severity!r} is not allowed; allowed: {', '.join(SEVERITIES)}")
    desc = raw.get("description")
    if not isinstance(desc, dict) or not all(isinstance(desc.get(k), str) and desc.get(k) for k in ("zh", "en")):
        raise RuleError(f"{here}: description needs both zh and en texts")
    expression, unique = raw.get("expression"), _columns(raw.get("unique"), here, "unique")
    if kind == "cross_record":
        if not unique or expression is not None:
            raise RuleError(f"{here}: a cross_record rule lists the columns that must be unique (unique: [...]) "
                            "and has no expression")
    elif not isinstance(expression, str) or not expression.strip() or unique:
        raise RuleError(f"{here}: a {kind} rule needs an expression (Spark SQL, true = pass)")
    when = raw.get("when")
    if when is not None and (not isinstance(when, str) or not when.strip()):
        raise RuleError(f"{here}: when must be a Spark SQL condition")
    return Rule(id=rid, type=kind, severity=severity, description_zh=desc["zh"], description_en=desc["en"],
                expression=expression.strip() if isinstance(expression, str) else None,
                when=when.strip() if when else None, unique=unique,
                targets=_columns(raw.get("targets"), here, "targets"), tags=_strings(raw.get("tags"), here, "tags"))


def _lookup(name: str, raw: Any, where: str) -> Lookup:
    here = f"{where}, lookup {name}"
    if not _COLUMN.match(name):
        raise RuleError(f"{here}: the lookup's name is the new column's name (lower case, digits, _)")
    if not isinstance(raw, dict) or set(raw) - _LOOKUP_KEYS or not {"table", "by", "value"} <= set(raw):
        raise RuleError(f"{here}: a lookup has table, by (the join columns), value and optionally where")
    return Lookup(name=name, table=str(raw["table"]), on=_columns(raw["by"], here, "by"), value=str(raw["value"]),
                  where=str(raw["where"]) if raw.get("where") else None)


def parse_rules(data: Any, source: str = "<rules>") -> RuleSet:
    """Check a rule file's content and return the rule set; every problem names *source*."""
    if not isinstance(data, dict):
        raise RuleError(f"{source}: a rule file is a mapping with table, keys and rules")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise RuleError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    table = data.get("table")
    if not isinstance(table, str) or "." not in table:
        raise RuleError(f"{source}: table must be a lake table name such as silver.survey_returns")
    keys = _columns(data.get("keys"), source, "keys")
    if not keys:
        raise RuleError(f"{source}: keys (the columns that identify a unit) are required")
    period = data.get("period")
    if period is not None and (not isinstance(period, str) or not _COLUMN.match(period)):
        raise RuleError(f"{source}: period must be a column name")
    lookups_raw = data.get("lookups") or {}
    if not isinstance(lookups_raw, dict):
        raise RuleError(f"{source}: lookups is a mapping of new column name -> lookup")
    lookups = tuple(_lookup(n, v, source) for n, v in lookups_raw.items())
    previous = _columns(data.get("previous"), source, "previous")
    if previous and period is None:
        raise RuleError(f"{source}: previous values need a period column")
    rules_raw = data.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise RuleError(f"{source}: rules must be a non-empty list")
    rules = tuple(_rule(r, source) for r in rules_raw)
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise RuleError(f"{source}: rule id {r.id} is used twice")
        seen.add(r.id)
        if r.type == "period" and period is None:
            raise RuleError(f"{source}, rule {r.id}: a period rule needs the rule set's period column")
    for section in ("screening", "imputation"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            raise RuleError(f"{source}: {section} must be a mapping")
    return RuleSet(table=table, keys=keys, period=period, rules=rules, lookups=lookups, previous=previous,
                   title=str(data.get("title") or ""), screening=dict(data.get("screening") or {}),
                   imputation=dict(data.get("imputation") or {}), source=source)


def load_rules(path: str | Path) -> RuleSet:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from exc
    return parse_rules(data, str(path))


def rule_files(rules_dir: str | Path = RULES_DIR) -> list[Path]:
    return sorted(Path(rules_dir).glob("*.yaml"))


def all_rule_sets(rules_dir: str | Path = RULES_DIR) -> dict[str, RuleSet]:
    """Every rule set under *rules_dir*, by table name; two files for one table is an error."""
    sets: dict[str, RuleSet] = {}
    for path in rule_files(rules_dir):
        rs = load_rules(path)
        if rs.table in sets:
            raise RuleError(f"{path}: table {rs.table} already has rules in {sets[rs.table].source}")
        sets[rs.table] = rs
    return sets


def rule_set_for(table: str, rules_dir: str | Path = RULES_DIR) -> RuleSet:
    """The rule set of *table* (``silver.survey_returns`` or just ``survey_returns``)."""
    sets = all_rule_sets(rules_dir)
    for name, rs in sets.items():
        if table in (name, rs.short_name):
            return rs
    raise RuleError(f"no rule file for table {table!r} in {rules_dir}; tables with rules: {', '.join(sorted(sets))}")

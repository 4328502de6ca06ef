"""Alert rules as they are in effect: the config file's, with the dashboard's edits on top."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import duckdb
from pydantic import ValidationError

from data.config import AlertRule, Config, _describe
from data.store import _naive_utc

log = logging.getLogger("tidings.alerts")


def in_effect(config: Config, db: duckdb.DuckDBPyConnection) -> list[AlertRule]:
    edited = edits(db)
    rules = [edited.pop(r.name, r) for r in config.alerts]
    return rules + list(edited.values())


def edits(db: duckdb.DuckDBPyConnection) -> dict[str, AlertRule]:
    """The rules edited on the dashboard. One saved under older, looser checks that no longer
    passes them is left out (with a warning naming it and why), never the end of a pass: the
    config file's rule of that name, if any, applies until the rule is saved again."""
    out = {}
    for name, definition in db.execute(
        "SELECT name, definition FROM alert_rules ORDER BY name"
    ).fetchall():
        try:
            out[name] = AlertRule.model_validate(json.loads(definition))
        except (ValidationError, ValueError) as e:
            problem = _describe(e) if isinstance(e, ValidationError) else str(e)
            log.warning("alert rule %r edited on the dashboard is ignored: %s", name, problem)
    return out


def validate(config: Config, definition: dict) -> AlertRule:
    """The rule, or ValueError naming what is wrong, as the config file would."""
    try:
        rule = AlertRule.model_validate(definition)
    except ValidationError as e:
        raise ValueError(_describe(e)) from None
    unknown = [n for n in rule.watch if n not in {w.name for w in config.watch}]
    if unknown:
        raise ValueError(f"watch: {unknown[0]!r} is not a [[watch]] name")
    return rule


def save(db: duckdb.DuckDBPyConnection, rule: AlertRule, actor: str, now: datetime) -> None:
    # Replaced by delete and insert: a DuckLake table has no key to replace on.
    db.execute("DELETE FROM alert_rules WHERE name = ?", [rule.name])
    db.execute(
        "INSERT INTO alert_rules VALUES (?, ?, ?, ?)",
        [rule.name, rule.model_dump_json(), _naive_utc(now), actor],
    )


def reset(db: duckdb.DuckDBPyConnection, name: str) -> None:
    db.execute("DELETE FROM alert_rules WHERE name = ?", [name])

"""Whether a statement is one an xAPI 2.0 LRS must take: the statement rules of xAPI 2.0 (IEEE
9274.1.1) as a JSON Schema (hub/xapi-2.0-statement.schema.json), and the few a schema cannot say.
hub/upstream.py checks every statement with it before it goes to an LRS."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema_rs

SCHEMA_PATH = Path(__file__).with_name("xapi-2.0-statement.schema.json")


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@cache
def validator():
    """jsonschema-rs, formats checked too (uuid, iri, date-time, duration): some 20 µs a statement."""
    return jsonschema_rs.validator_for(schema(), validate_formats=True)


def problem(statement: dict) -> str | None:
    """Why `statement` is not an xAPI 2.0 statement, or None if it is one."""
    checker = validator()
    if not checker.is_valid(statement):
        error = next(iter(checker.iter_errors(statement)))
        where = "/".join(str(p) for p in error.instance_path)
        return f"not an xAPI 2.0 statement: {where + ': ' if where else ''}{error.message[:200]}"
    score = (statement.get("result") or {}).get("score") or {}
    low, high, raw = score.get("min"), score.get("max"), score.get("raw")
    if low is not None and high is not None and low > high:
        return "not an xAPI 2.0 statement: result/score: min is more than max"
    if raw is not None and ((low is not None and raw < low) or (high is not None and raw > high)):
        return "not an xAPI 2.0 statement: result/score: raw is not between min and max"
    target = statement["object"].get("objectType", "Activity")
    context = statement.get("context") or {}
    if target != "Activity" and ("revision" in context or "platform" in context):
        return "not an xAPI 2.0 statement: context: revision and platform are only for a statement about an Activity"
    return None

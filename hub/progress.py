"""Checks a progress file (docs/progress.md) as the learner app does: its JSON Schema, then what a
schema cannot say, then its signature (hub/identity.py). A file is parsed, checked and encoded
whole here, before it joins a group commit, so a bad one gets its own 4xx and never fails the
uploads committed with it. The app's twin of this is checkFile in
theme/assets/satchel/progress-model.js."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

import jsonschema_rs
import orjson
from satchel.builder import ROOT

from . import identity

SCHEMA_PATH = ROOT / "docs" / "progress.schema.json"
FORMAT_VERSION = 2
# A lesson, or a part of one: a quiz or one of its questions, or its video (or audio) number n.
LESSON_PART = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*(#quiz-[0-9]{1,4}(-[0-9]{1,4})?|#video-[0-9]{1,4})?\Z")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # a phone whose clock was reset still counts
AHEAD = timedelta(days=366)  # later than a year from now is no clock, but a forgery
MAX_SECONDS = 86_400  # an 'experienced' statement is at most a day
EXTENSION_DEPTH = 8
EXTENSION_BYTES = 4000


class BadProgress(ValueError):
    """A file the hub refuses; the message says where and why, for the person who sent it."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class Refused(BadProgress):
    """Refused when stored (the learner's key, a conflict of identity, a quota): a 4xx for this file alone."""

    def __init__(self, status: int, message: str):
        super().__init__(message, status)


class StoreFailed(RuntimeError):
    """The database could not store a file (a full disk, a lost connection): nothing of it is stored."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error
        self.disk_full = "full" in str(error).lower() or getattr(error, "sqlstate", None) == "53100"


@dataclass(frozen=True)
class Row:
    id: str
    verb: str
    object: str
    timestamp: str
    body: str  # the statement as stored: JSON text
    statement: dict
    keyed: bool  # a version-8 id: made with a key
    bound: bool  # made with the file's signing key


@dataclass
class Checked:
    curriculum: str
    profile: dict
    rows: list[Row]
    key: str | None = None  # the learner's public key, if the file names one
    signed: bool = False  # the file is signed by `key`, and the signature is right


@dataclass
class Stored:
    new: int
    known: int
    conflicts: list[str] = field(default_factory=list)


@cache
def validator():
    """The schema (draft 2020-12), checked by jsonschema-rs: 0.07 ms for 50 statements, 6 times
    faster than fastjsonschema's generated Python, which made checking most of an upload's time."""
    return jsonschema_rs.validator_for(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def parse(body: bytes):
    """JSON, strictly: no NaN, valid UTF-8 and no lone surrogates, 64-bit integers."""
    try:
        return orjson.loads(body)
    except (ValueError, RecursionError) as error:
        raise BadProgress(f"not JSON: {str(error)[:200]}", 400) from None


def prepare(body: bytes, curricula: set[str], school: bool = False) -> Checked:
    """Parse, check, verify and encode a progress file (`body`, the bytes as sent). `school`: it came
    from a school hub whose credentials were checked, which vouches for it unsigned."""
    data = parse(body)
    check(data, curricula)
    curriculum, profile = data["curriculum"]["id"], data["profile"]
    key = profile.get("key")
    signed = identity.signed_part(body)
    if signed is not None:
        if key is None or "signature" not in data:
            raise BadProgress("the file has a signature but names no key (profile.key): save it again from the app")
        if not identity.verify(key, *signed):
            raise BadProgress("the signature does not match the file: it was changed after the learner's device saved it", 422)
    elif "signature" in data:
        raise BadProgress("the signature must be the file's last member, as the app writes it: save the file again from the app")
    elif not school:
        if identity.is_keyed(profile["id"]):
            raise BadProgress("this learner's files are signed on their device, and this one is not: send it from the app", 401)
        key = None  # an unsigned file proves nothing about a key
    rows = []
    for n, s in enumerate(data["statements"], 1):
        keyed = identity.is_keyed(s["id"])
        if keyed and not key and not school:
            raise BadProgress(f"statement {n} was made with a learner's key, and the file is not signed: send it from the app")
        if identity.is_keyed(profile["id"]) and not keyed and not school:
            raise BadProgress(f"statement {n} has an id that no key made, and this learner records only signed statements")
        try:
            text = orjson.dumps(s).decode()
        except (TypeError, orjson.JSONEncodeError) as error:  # nested too deep, a lone surrogate
            raise BadProgress(f"statement {n} cannot be stored: {str(error)[:100]}", 400) from None
        rows.append(Row(s["id"], s["verb"]["id"].rsplit("/", 1)[-1], s["object"]["id"], s["timestamp"], text, s,
                        keyed, keyed and bool(key) and identity.is_bound(s["id"], key)))
    for text in (profile["name"], profile["picture"], *(item["name"] for item in profile.get("classes", []))):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadProgress("the profile's name, picture or a class's name is not valid text", 400) from None
    if len({item["id"] for item in profile.get("classes", [])}) < len(profile.get("classes", [])):
        raise BadProgress("the profile names a class twice (profile.classes)")
    return Checked(curriculum, profile, rows, key, signed is not None)


def check(data, curricula: set[str]) -> None:
    """Raise BadProgress unless `data` is a progress file of one of `curricula`."""
    if isinstance(data, dict) and isinstance(data.get("version"), int) and data.get("format") == "satchel-progress" \
            and data["version"] > FORMAT_VERSION:
        raise BadProgress(f"progress file format {data['version']} is newer than this hub knows ({FORMAT_VERSION}): update the hub")
    try:
        validator().validate(data)
    except jsonschema_rs.ValidationError as error:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path).lstrip(".")
        raise BadProgress(f"not a valid progress file: {where + ': ' if where else ''}{error.message[:300]}") from None
    except (ValueError, RecursionError) as error:  # jsonschema-rs reads the data into Rust first, and refuses deep nesting
        raise BadProgress(f"not a valid progress file: {str(error)[:200]}") from None
    curriculum = data["curriculum"]["id"]
    if curriculum not in curricula:
        raise BadProgress(f"this hub does not serve the curriculum '{curriculum}' (it serves: {', '.join(sorted(curricula))})")
    home = f"urn:satchel:{curriculum}"
    latest = datetime.now(UTC) + AHEAD
    check_time(data["exported"], "exported", latest)
    for n, statement in enumerate(data["statements"], 1):
        account = statement["actor"]["account"]
        if account["homePage"] != home or account["name"] != data["profile"]["id"]:
            raise BadProgress(f"statement {n} is not the file's learner's")
        object_id = statement["object"]["id"]
        prefix = f"{home}:lesson:"
        if not object_id.startswith(prefix) or not LESSON_PART.match(object_id[len(prefix):]):
            raise BadProgress(f"statement {n} is about another curriculum or no lesson: {object_id[:100]}")
        check_time(statement["timestamp"], f"statement {n}: timestamp", latest)
        duration = statement.get("result", {}).get("duration")
        if duration is not None and int(duration[2:-1]) > MAX_SECONDS:
            raise BadProgress(f"statement {n}: a duration of {duration} is more than a day (PT{MAX_SECONDS}S)")
        for where, extensions in (("context", statement["context"].get("extensions")), ("result", statement.get("result", {}).get("extensions"))):
            if extensions is not None and (depth(extensions) > EXTENSION_DEPTH or len(orjson.dumps(extensions)) > EXTENSION_BYTES):
                raise BadProgress(f"statement {n}: {where}.extensions is nested more than {EXTENSION_DEPTH} deep "
                                  f"or longer than {EXTENSION_BYTES:,} bytes")


def check_time(text: str, where: str, latest: datetime) -> None:
    """A real instant (the schema has checked the shape), from 1970 to a year from now."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadProgress(f"{where} {text!r} is not a date and time") from None
    if not EARLIEST <= when <= latest:
        raise BadProgress(f"{where} {text!r} is outside 1970 to a year from now: the device's clock is wrong")


def depth(value, limit: int = EXTENSION_DEPTH + 1) -> int:
    """How deep `value` nests (at most `limit`: no need to walk further)."""
    if limit <= 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((depth(child, limit - 1) for child in children), default=0)

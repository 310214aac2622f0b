"""Forwarding upstream: what this hub received and has not yet forwarded goes to a central hub
(its POST /api/progress) or to any xAPI Learning Record Store (POST .../statements). At least
once and in order of arrival; a statement is marked forwarded only after the upstream said 2xx,
so a failure or a crash means it is sent again, and both a hub and an LRS keep one copy per id.

What the upstream refuses for its content (a 4xx) does not hold up the rest: the refused batch is
split in halves until the refused statements are alone, and those are set aside (quarantined,
with the reason) until `satchel hub sync --retry-quarantined`."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass

from .store import Store, now

BATCH = 500
XAPI_VERSION = "2.0.0"
HUB_EXTENSION = "urn:satchel:hub"  # in context.extensions of what goes to an LRS: the school hub it came from
CONFLICT = "conflict at upstream"
# 4xx answers about the request, not about a statement in it: the run stops, and nothing is set aside.
STOP = {401: "the upstream refused the credentials: check --user and --password-file (a central issues them: satchel hub schools add)",
        403: "the upstream refused the credentials: check --user and --password-file (a central issues them: satchel hub schools add)",
        404: "there is no such address at the upstream: check --upstream",
        405: "the upstream takes no POST at this address: check --upstream",
        407: "a proxy wants credentials",
        408: "the upstream is busy: try again later",
        429: "the upstream is busy: try again later"}


class UpstreamError(RuntimeError):
    pass


class Refused(Exception):
    """A 4xx about what was sent: a statement in it is refused (or, from a Satchel hub, a 409
    that lists the conflicting statements: the others were stored)."""

    def __init__(self, status: int, detail: str, body: bytes):
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.body = status, detail, body

    @property
    def reason(self) -> str:
        return f"upstream answered {self.status}: {self.detail}"


@dataclass
class Forwarded:
    sent: int = 0
    quarantined: int = 0


def _post(url: str, body: bytes, user: str | None, password: str | None, timeout: float) -> int:
    headers = {"content-type": "application/json", "x-experience-api-version": XAPI_VERSION, "user-agent": "satchel-hub"}
    if user is not None:
        headers["authorization"] = "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        answer = error.read()
        detail = answer[:300].decode("utf-8", "replace").strip()
        if 400 <= error.code < 500 and error.code not in STOP:
            raise Refused(error.code, detail[:200], answer) from None
        why = f" ({STOP[error.code]})" if error.code in STOP else ""
        raise UpstreamError(f"{url} answered {error.code}{why}: {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise UpstreamError(f"{url} cannot be reached: {getattr(error, 'reason', error)}") from None


def _conflicts(refusal: Refused) -> set[str] | None:
    """The statements a Satchel hub's 409 names as conflicting (it stored the others), or None."""
    if refusal.status != 409:
        return None
    try:
        answer = json.loads(refusal.body)
    except ValueError:
        return None
    conflicts = answer.get("conflicts") if isinstance(answer, dict) else None
    if not isinstance(conflicts, list) or not all(isinstance(c, str) for c in conflicts):
        return None
    return set(conflicts)


def _deliver(store: Store, upstream: str, rows: list[tuple], post, done: Forwarded) -> None:
    """Post `rows` (first element: the statement id); on a refusal, each half on its own, down to
    single statements, which are quarantined: k refused among n cost about 2k·log2(n/k) posts."""
    ids = [row[0] for row in rows]
    try:
        post(rows)
    except Refused as refusal:
        conflicts = _conflicts(refusal)
        if conflicts is not None:
            refused = [i for i in ids if i in conflicts]
            store.mark_forwarded([i for i in ids if i not in conflicts], now())
            store.quarantine(refused, upstream, refusal.status, CONFLICT)
            done.sent += len(ids) - len(refused)
            done.quarantined += len(refused)
            return
        if len(rows) == 1:
            store.quarantine(ids, upstream, refusal.status, refusal.reason)
            done.quarantined += 1
            return
        half = len(rows) // 2
        _deliver(store, upstream, rows[:half], post, done)
        _deliver(store, upstream, rows[half:], post, done)
        return
    store.mark_forwarded(ids, now())
    done.sent += len(ids)


def stamped(body: str, origin: str) -> str:
    """A statement as an LRS gets it: with the school hub it came from in context.extensions.
    The same statement gets the same stamp every time (an LRS refuses an id with other content)."""
    statement = json.loads(body)
    context = statement.get("context") if isinstance(statement.get("context"), dict) else {}
    extensions = context.get("extensions") if isinstance(context.get("extensions"), dict) else {}
    statement["context"] = {**context, "extensions": {**extensions, HUB_EXTENSION: origin}}
    return json.dumps(statement, ensure_ascii=False, separators=(",", ":"))


def forward(store: Store, upstream: str, user: str | None = None, password: str | None = None, timeout: float = 60) -> Forwarded:
    """Forward every statement neither forwarded nor quarantined; returns how many were, and how
    many were set aside. Raises UpstreamError, with what was forwarded before it kept as forwarded."""
    to_hub = upstream.rstrip("/").endswith("/api/progress")
    own_id = store.hub_id()
    done = Forwarded()

    def to_lrs(rows):
        body = "[" + ",".join(stamped(row[3], row[4] or own_id) for row in rows) + "]"
        _post(upstream, body.encode(), user, password, timeout)

    while True:
        rows = store.query("SELECT id, curriculum, learner, body, source FROM statements s WHERE forwarded IS NULL "
                           "AND NOT EXISTS (SELECT 1 FROM upstream_quarantine q WHERE q.id = s.id) "
                           "ORDER BY received, id LIMIT ?", BATCH)
        if not rows:
            return done
        if not to_hub:
            _deliver(store, upstream, rows, to_lrs, done)
            continue
        # A hub takes progress files: one per learner, with the learner's profile. It knows the
        # school from the credentials.
        groups = defaultdict(list)
        for row in rows:
            groups[(row[1], row[2])].append(row)
        for (curriculum, learner), group in groups.items():
            found = store.query("SELECT name, colour, picture FROM learners WHERE curriculum = ? AND id = ?", curriculum, learner)
            name, colour, picture = found[0] if found else ("?", "#1f6f5c", "?")
            # The learner's key (the one their id is derived from, else the first bound): the central
            # checks statement ids against it, and vouches for the file on these credentials.
            keys = store.query("SELECT key FROM learner_keys WHERE curriculum = ? AND learner = ? "
                               "ORDER BY CASE how WHEN 'derived' THEN 0 ELSE 1 END, added LIMIT 1", curriculum, learner)

            def to_central(rows, curriculum=curriculum, learner=learner, profile=(name, colour, picture), keys=keys):
                who = dict(zip(("id", "name", "colour", "picture"), (learner, *profile), strict=True))
                if keys:
                    who["key"] = keys[0][0]
                data = {"format": "satchel-progress", "version": 2, "curriculum": {"id": curriculum}, "exported": now(),
                        "profile": who, "statements": [json.loads(row[3]) for row in rows]}
                _post(upstream, json.dumps(data, ensure_ascii=False).encode(), user, password, timeout)

            _deliver(store, upstream, group, to_central, done)


def forward_forever(store: Store, upstream: str, every: float, user: str | None, password: str | None, log=print) -> None:
    """Forward, then again every `every` seconds; after a failure, retry sooner (30 s, doubling)."""
    wait = every
    while True:
        try:
            done = forward(store, upstream, user, password)
            if done.sent or done.quarantined:
                log(f"forwarded {done.sent} statements to {upstream}"
                    + (f"; {done.quarantined} refused and set aside (satchel hub sync --status)" if done.quarantined else ""))
            wait = every
        except UpstreamError as error:
            log(f"not forwarded, will try again: {error}")
            wait = min(every, 30 if wait >= every else wait * 2)
        time.sleep(wait)

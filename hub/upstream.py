"""Forwarding upstream: what this hub received and has not yet forwarded goes to a central hub
(its POST /api/progress) or to any xAPI Learning Record Store (POST .../statements). At least
once and in order of arrival; a statement is marked forwarded only after the upstream said 2xx,
so a failure or a crash means it is sent again, and both a hub and an LRS keep one copy per id."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections import defaultdict

from .store import Store, now

BATCH = 500
XAPI_VERSION = "2.0.0"


class UpstreamError(RuntimeError):
    pass


def _post(url: str, body: bytes, user: str | None, password: str | None, timeout: float) -> int:
    headers = {"content-type": "application/json", "x-experience-api-version": XAPI_VERSION, "user-agent": "satchel-hub"}
    if user is not None:
        headers["authorization"] = "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        detail = error.read()[:300].decode("utf-8", "replace")
        raise UpstreamError(f"{url} answered {error.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise UpstreamError(f"{url} cannot be reached: {getattr(error, 'reason', error)}") from None


def forward(store: Store, upstream: str, user: str | None = None, password: str | None = None, timeout: float = 60) -> int:
    """Forward every statement not yet forwarded; returns how many were. Raises UpstreamError,
    with what was forwarded before it kept as forwarded."""
    to_hub = upstream.rstrip("/").endswith("/api/progress")
    sent = 0
    while True:
        rows = store.query("SELECT id, curriculum, learner, body FROM statements WHERE forwarded IS NULL "
                           "ORDER BY received, id LIMIT ?", BATCH)
        if not rows:
            return sent
        if to_hub:
            # A hub takes progress files: one per learner, with the learner's profile.
            groups = defaultdict(list)
            for _, curriculum, learner, body in rows:
                groups[(curriculum, learner)].append(json.loads(body))
            for (curriculum, learner), statements in groups.items():
                found = store.query("SELECT name, colour, picture FROM learners WHERE curriculum = ? AND id = ?", curriculum, learner)
                name, colour, picture = found[0] if found else ("?", "#1f6f5c", "?")
                data = {"format": "satchel-progress", "version": 1, "curriculum": {"id": curriculum}, "exported": now(),
                        "profile": {"id": learner, "name": name, "colour": colour, "picture": picture}, "statements": statements}
                _post(upstream, json.dumps(data, ensure_ascii=False).encode(), user, password, timeout)
        else:
            body = "[" + ",".join(row[3] for row in rows) + "]"
            _post(upstream, body.encode(), user, password, timeout)
        store.mark_forwarded([row[0] for row in rows], now())
        sent += len(rows)


def forward_forever(store: Store, upstream: str, every: float, user: str | None, password: str | None, log=print) -> None:
    """Forward, then again every `every` seconds; after a failure, retry sooner (30 s, doubling)."""
    wait = every
    while True:
        try:
            sent = forward(store, upstream, user, password)
            if sent:
                log(f"forwarded {sent} statements to {upstream}")
            wait = every
        except UpstreamError as error:
            log(f"not forwarded, will try again: {error}")
            wait = min(every, 30 if wait >= every else wait * 2)
        time.sleep(wait)

"""School hubs' credentials at a central hub: issued by its operator (`satchel hub schools add`),
sent by a school hub as HTTP basic auth (user: the school's id, password: its token), revocable.
A hub that has issued any is a central, and takes uploads only with them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
import unicodedata
import weakref

from starlette.responses import JSONResponse

from .store import Store

# How long a process trusts what it read of the schools table: a revocation takes effect within
# this many seconds in every process of a central. SATCHEL_SCHOOLS_CACHE_SECONDS changes it.
CACHE_SECONDS = 30.0
REALM = 'Basic realm="satchel-central"'
_ANY_HASH = hashlib.sha256(b"no such school").hexdigest()  # compared against for an unknown id, in the same time


class NotAllowed(Exception):
    """An upload this hub refuses for its credentials; `response()` is the 401 to send."""

    def response(self) -> JSONResponse:
        return JSONResponse({"error": str(self)}, status_code=401, headers={"www-authenticate": REALM})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_school(name: str) -> tuple[str, str]:
    """A new school's id (a slug of its name and a short random suffix) and its secret token."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:40].strip("-") or "school"
    return f"{slug}-{secrets.token_hex(3)}", secrets.token_urlsafe(32)


def cache_seconds() -> float:
    try:
        return float(os.environ.get("SATCHEL_SCHOOLS_CACHE_SECONDS", CACHE_SECONDS))
    except ValueError:
        return CACHE_SECONDS


_read: weakref.WeakKeyDictionary[Store, tuple[float, dict[str, str | None]]] = weakref.WeakKeyDictionary()
_reading = threading.Lock()


def _credentials(store: Store) -> dict[str, str | None]:
    """{school id: token hash, or None once revoked}, read again after cache_seconds()."""
    with _reading:
        cached = _read.get(store)
        if cached is not None and time.monotonic() - cached[0] < cache_seconds():
            return cached[1]
        credentials = store.school_credentials()
        _read[store] = (time.monotonic(), credentials)
        return credentials


def school_of(request_headers, store: Store) -> str | None:
    """The school hub an upload comes from (None: a device, on a hub that is no central).
    Raises NotAllowed for credentials that are wrong or revoked, and for no credentials at a central."""
    authorization = request_headers.get("authorization")
    credentials = _credentials(store)
    if authorization is None:
        if credentials:
            raise NotAllowed("this is a central hub: uploads need a school hub's credentials: satchel hub schools add")
        return None
    kind, _, encoded = authorization.partition(" ")
    try:
        school, colon, token = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise NotAllowed("send a school hub's credentials as HTTP basic auth (user: its id, password: its token)") from None
    if kind.lower() != "basic" or not colon:
        raise NotAllowed("send a school hub's credentials as HTTP basic auth (user: its id, password: its token)")
    known = credentials.get(school)
    matches = hmac.compare_digest(token_hash(token), known or _ANY_HASH)
    if known is None or not matches:
        raise NotAllowed("wrong or revoked school hub credentials: ask the central's operator (satchel hub schools list)")
    return school
